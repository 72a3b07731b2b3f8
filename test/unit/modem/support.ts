/**
 * Test support for the modem layer: a SerialPort fed by the test in virtual time (no pacing: the
 * transcript replays and scripted responders decide when bytes arrive), the transcript reader, and
 * the deterministic test image whose bytes look like AT protocol.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { SerialEvents, SerialPort } from '../../../src/platform/serial.js';
import type { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { vectorDir } from '../../support/paths.js';

/** A SerialPort whose receive side the test fills; writes go to `onWrite`. */
export class FakeSerial implements SerialPort {
  #events: SerialEvents = {};
  #rx: Uint8Array[] = [];
  #rxOffset = 0;
  written: number[] = [];
  onWrite: (bytes: Uint8Array) => void = () => undefined;
  baud = 115_200;

  attach(events: SerialEvents): void {
    this.#events = events;
  }

  /** Bytes from the modem arrive now. */
  feed(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#rx.push(bytes.slice());
    this.#events.onReadable?.(this.readable);
  }

  read(into: Uint8Array): number {
    let n = 0;
    while (n < into.length && this.#rx.length > 0) {
      const head = this.#rx[0];
      const take = Math.min(into.length - n, head.length - this.#rxOffset);
      into.set(head.subarray(this.#rxOffset, this.#rxOffset + take), n);
      n += take;
      this.#rxOffset += take;
      if (this.#rxOffset === head.length) {
        this.#rx.shift();
        this.#rxOffset = 0;
      }
    }
    return n;
  }

  write(bytes: Uint8Array): number {
    for (const b of bytes) this.written.push(b);
    this.onWrite(bytes.slice());
    return bytes.length;
  }

  get readable(): number {
    let n = -this.#rxOffset;
    for (const c of this.#rx) n += c.length;
    return n;
  }

  setBaud(baud: number): void {
    this.baud = baud;
  }

  close(): void {}
}

export const ascii = (text: string): Uint8Array => new Uint8Array([...text].map((c) => c.charCodeAt(0)));

/**
 * The test image: pseudo-random bytes with AT look-alikes planted every 97 bytes, so a payload
 * scanned for results, URCs or headers is caught.
 */
export function testImage(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  const traps = ['\r\nOK\r\n', '\r\nERROR\r\n', '\r\n+SHREAD: 10\r\n', '\r\n+HTTPREAD: 0\r\n', '\r\n+CME ERROR: 3\r\n', '\r\n> ', '+CARECV: 5,', '\r\nRDY\r\n'];
  for (let at = 13, k = 0; at + 20 < size; at += 97, k++) out.set(ascii(traps[k % traps.length]), at);
  return out;
}

export type TranscriptEvent =
  | { t: number; dir: 'TX' | 'RX'; bytes: Uint8Array; data?: { n: number; src: string; from: number; to: number } }
  | { t: number; dir: 'HW'; text: string };

/** C-escaped string body -> bytes. */
function unescape(body: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out.push(c.charCodeAt(0));
      continue;
    }
    const e = body[++i];
    if (e === 'r') out.push(13);
    else if (e === 'n') out.push(10);
    else if (e === '"') out.push(34);
    else if (e === '\\') out.push(92);
    else if (e === 'x') {
      out.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else throw new Error(`unknown escape \\${e}`);
  }
  return new Uint8Array(out);
}

/** Reads a transcript (format: simcom-at.md §9). `sources` fills `{DATA n src[a..b]}`. */
export function readTranscript(file: string, sources: Record<string, Uint8Array>): TranscriptEvent[] {
  const events: TranscriptEvent[] = [];
  for (const raw of readFileSync(file, 'latin1').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\d+\.\d+)\s+(TX|RX|HW)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`transcript line not understood: ${line}`);
    const t = Math.round(Number(m[1]) * 1000);
    const dir = m[2] as 'TX' | 'RX' | 'HW';
    const rest = m[3];
    if (dir === 'HW') {
      events.push({ t, dir, text: rest });
      continue;
    }
    const data = /^\{DATA (\d+) (\w+)\[(\d+)\.\.(\d+)\]\}/.exec(rest);
    if (data) {
      const n = Number(data[1]);
      const from = Number(data[3]);
      const to = Number(data[4]);
      const src = sources[data[2]];
      if (!src) throw new Error(`no source ${data[2]}`);
      if (to - from + 1 !== n) throw new Error(`DATA ${n} but range ${from}..${to}`);
      events.push({ t, dir, bytes: src.slice(from, to + 1), data: { n, src: data[2], from, to } });
      continue;
    }
    const q = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
    if (!q) throw new Error(`transcript bytes not understood: ${line}`);
    events.push({ t, dir, bytes: unescape(q[1]) });
  }
  return events;
}

export function transcriptDir(): string {
  return vectorDir('XS_OTA_SIMCOM_TRANSCRIPTS', 'simcom-transcripts');
}

export function transcriptFiles(): string[] {
  const dir = transcriptDir();
  return readdirSync(dir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Sleep in virtual time from a test. */
export function at(time: VirtualTime, ms: number, fn: () => void): void {
  time.at(ms, fn);
}
