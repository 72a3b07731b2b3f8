/**
 * A minimal scripted host for the modem simulator tests: writes command lines to the device end
 * of the UART and collects what comes back, with helpers that run virtual time until a pattern.
 * (The real AT engine is src/modem/; this only drives the simulator.)
 */
import assert from 'node:assert/strict';
import type { SerialPort } from '../../../src/platform/serial.js';
import { TEST_CA } from '../../../tools/node/test-pki.js';
import type { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

export class ScriptHost {
  rx: number[] = [];
  errors: string[] = [];
  #pendingTx: Uint8Array | undefined;

  constructor(
    readonly time: VirtualTime,
    readonly serial: SerialPort,
    readonly autoRead = true,
  ) {
    serial.attach({
      onReadable: () => {
        if (this.autoRead) this.drain();
      },
      onWritable: () => this.#pump(),
      onError: (e) => this.errors.push(e.message),
    });
  }

  drain(): void {
    const buf = new Uint8Array(4096);
    for (;;) {
      const n = this.serial.read(buf);
      if (n === 0) break;
      for (let i = 0; i < n; i++) this.rx.push(buf[i]);
    }
  }

  /** Everything received so far as latin1 text. */
  get text(): string {
    return Buffer.from(this.rx).toString('latin1');
  }

  /** Takes (and clears) everything received so far. */
  take(): Uint8Array {
    const out = Uint8Array.from(this.rx);
    this.rx = [];
    return out;
  }

  write(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const prev = this.#pendingTx;
    this.#pendingTx = prev ? Buffer.concat([prev, bytes]) : new Uint8Array(bytes);
    this.#pump();
  }

  #pump(): void {
    if (!this.#pendingTx) return;
    const n = this.serial.write(this.#pendingTx);
    this.#pendingTx = n >= this.#pendingTx.length ? undefined : this.#pendingTx.subarray(n);
  }

  /** Runs virtual time until the received text matches (or the limit passes: throws). */
  async until(test: RegExp | ((text: string) => boolean), limitMs = 120_000): Promise<string> {
    const check = typeof test === 'function' ? test : (t: string) => test.test(t);
    await this.time.runUntil(() => check(this.text), { untilMs: this.time.now() + limitMs });
    return this.text;
  }

  /** Sends a command line and waits for its final result; returns and clears the response. */
  async cmd(line: string, final: RegExp = /\r\n(OK|ERROR|\+CME ERROR: [^\r]*)\r\n$/, limitMs = 120_000): Promise<string> {
    this.rx = [];
    this.write(line + '\r');
    const text = await this.until(final, limitMs);
    this.rx = [];
    return text;
  }

  /** Byte count received so far. */
  get received(): number {
    return this.rx.length;
  }

  /** Runs virtual time until `n` bytes have been received. */
  async bytes(n: number, limitMs = 120_000): Promise<Uint8Array> {
    await this.time.runUntil(() => this.rx.length >= n, { untilMs: this.time.now() + limitMs });
    return Uint8Array.from(this.rx);
  }
}

/** Deterministic test image with protocol look-alikes inside (pitfall 1: "\r\nOK\r\n" in bodies). */
export function makeImage(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  const traps = ['\r\nOK\r\n', '\r\nERROR\r\n', '\r\n+SHREAD: 10\r\n', '+HTTPREAD: DATA,5\r\n', '\r\n+CARECV: 3,', '\r\n> '];
  for (let off = 100, k = 0; off + 32 < size; off += 997, k++) out.set(Buffer.from(traps[k % traps.length], 'latin1'), off);
  return out;
}

/** Waits for `header` (anchored at the start of what was received), then for its n payload bytes
 * and `trailer`; returns the payload and clears the receive buffer. */
export async function readCounted(host: ScriptHost, header: RegExp, trailer: string): Promise<Uint8Array> {
  const text = await host.until((t) => {
    const m = header.exec(t);
    return !!m && t.length >= m[0].length + Number(m[1]) + trailer.length;
  });
  const m = header.exec(text)!;
  const n = Number(m[1]);
  const all = host.take();
  const end = m[0].length + n;
  assert.equal(Buffer.from(all.subarray(end, end + trailer.length)).toString('latin1'), trailer, 'trailer');
  host.rx = Array.from(all.subarray(end + trailer.length)); // a URC that came right after stays
  return all.subarray(m[0].length, end);
}


/**
 * SIM7600: upload a CA file with `AT+CCERTDOWN` (simcom-at.md §4.2); by default the dev kit's test
 * CA, which signed the loopback servers' certificate, so TLS through the simulator verifies.
 */
export async function ccertdown(host: ScriptHost, name = 'ca.pem', ca: Uint8Array = TEST_CA): Promise<void> {
  host.take();
  host.write(`AT+CCERTDOWN="${name}",${ca.length}\r`);
  await host.until(/\r\n>$/);
  host.take();
  host.write(ca);
  await host.until(/\r\nOK\r\n$/);
  host.take();
}
