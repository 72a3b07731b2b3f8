/**
 * Drives Moddable's XS engine, the `xsnap-worker` of the `@agoric/xsnap` package rebuilt for 32
 * bits with the device profile (tools/xs/device-profile.ts, tools/xs/build-xsnap32.sh), over the
 * worker's own netstring protocol on file descriptors 3 (to XS) and 4 (from XS).
 *
 * We speak the protocol directly instead of using the package's JS API: that API needs SES
 * `lockdown()` in the host process, which would freeze the intrinsics of mocha and the simulators.
 *
 * Protocol (xsnap-worker.c): to XS `e<code>` evaluates a script, `?<bytes>` calls the guest's
 * global `handleCommand(ArrayBuffer)`, `/<bytes>` answers a guest's `issueCommand`. From XS:
 * `.<meter JSON>\x01<reply>` ends a crank, `!<text>` reports an uncaught exception, `?<bytes>` is
 * a synchronous query from `issueCommand(ArrayBuffer)` that blocks XS until we answer.
 * After every crank the worker drains XS's promise job queue.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { deviceEnvironment, deviceWorkerPath, type DeviceCreation, type DeviceSampling } from './device-profile.js';

/** What xsnap reports about a crank: XS's own deterministic counters. */
export interface XsMeter {
  /** Computation meter: XS's count of executed bytecode steps (deterministic). */
  compute: number;
  /** Bytes allocated during the crank (chunks and slots). */
  allocate: number;
  /** Live heap slots after the crank. */
  currentHeapCount: number;
}

export interface XsCrank {
  reply: Uint8Array;
  meter: XsMeter;
}

/** Answers a guest's `issueCommand` synchronously; XS is blocked until it returns. */
export type XsQueryHandler = (request: Uint8Array) => Uint8Array;

export interface XsWorkerOptions {
  name?: string;
  onQuery?: XsQueryHandler;
  /** Called once when the engine process ends (a crash, a device-profile stop, close). */
  onExit?: (error: Error) => void;
  /** Where the guest's `print` goes. Default: collected in `printed`. */
  onPrint?: (line: string) => void;
  /** xsnap's per-crank computation limit (XS meter units); 0 means none. */
  meteringLimit?: number;
  /** The device's XS creation (stack, heap sizes); see device-profile.ts. */
  creation: DeviceCreation;
  /** Sample stack depth and live memory inside engine calls (the bench); default: not. */
  sampling?: DeviceSampling;
  /** Where the engine rewrites its peaks whenever one grows (the bench). */
  profileFile?: string;
  /** Start from this snapshot (xsnap `-r`) instead of a new machine: see tools/xs/snapshot.ts. */
  snapshot?: string;
}

const NETSTRING_MAX = 64 * 1024 * 1024;

/**
 * Path of the release `xsnap-worker` built at install time by `@agoric/xsnap` (64-bit, xsnap's
 * own creation): not what the sessions run, kept for comparing the two engines by hand.
 */
export function xsnapWorkerPath(): string {
  const require = createRequire(import.meta.url);
  const pkg = path.dirname(require.resolve('@agoric/xsnap/package.json'));
  const bin = path.join(pkg, 'xsnap-native', 'xsnap', 'build', 'bin', 'lin', 'release', 'xsnap-worker');
  if (!existsSync(bin)) {
    // npm 11 may have held back the package's install script (not yet approved): compile XS now,
    // once, as the install would have (about a minute).
    process.stderr.write('xs-ota: compiling the XS engine (@agoric/xsnap), once...\n');
    spawnSync('npm', ['run', 'build:from-env'], { cwd: pkg, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (!existsSync(bin)) {
    throw new Error(
      `xsnap-worker not built at ${bin}: run 'npm ci' (its install script compiles XS) and check that install scripts are allowed`,
    );
  }
  return bin;
}

/**
 * Diagnosis only: XSOTA_* variables set in the environment win over the device profile, e.g.
 * `XSOTA_STACK_SLOTS=4096 XSOTA_TRACE_DEPTH=400 npx mocha ...` prints the JS frames of each
 * new stack peak above 400 slots (on stderr; the last printed is the deepest path) instead of stopping at the manifest's stack, and
 * `XSOTA_CENSUS_FILE=/tmp/census/c` writes what the heap holds at the load and at each live peak
 * (read with tools/xs/census.ts).
 */
function diagnosisOverrides(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) if (name.startsWith('XSOTA_') && value !== undefined) out[name] = value;
  return out;
}

export class XsWorker {
  readonly printed: string[] = [];
  #child: ChildProcess;
  #toXs: Writable;
  #fromXs: Readable;
  #pending: Buffer = Buffer.alloc(0);
  #waiter: { resolve: (crank: XsCrank) => void; reject: (error: Error) => void } | undefined;
  #busy: Promise<unknown> = Promise.resolve();
  #exited: Error | undefined;
  #onQuery: XsQueryHandler;
  #stderr = '';
  #stdoutRest = '';

  constructor(options: XsWorkerOptions) {
    const args = [options.name ?? 'xs-ota'];
    if (options.meteringLimit) args.push('-l', String(options.meteringLimit));
    if (options.snapshot) args.push('-r', options.snapshot);
    this.#onQuery =
      options.onQuery ??
      (() => {
        throw new Error('this XS worker has no query handler');
      });
    const onPrint = options.onPrint ?? ((line: string) => this.printed.push(line));
    this.#child = spawn(deviceWorkerPath(), args, {
      stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...deviceEnvironment(options.creation, options.sampling, options.profileFile), ...diagnosisOverrides() },
    });
    const stdio = this.#child.stdio;
    this.#toXs = stdio[3] as Writable;
    this.#fromXs = stdio[4] as Readable;
    this.#child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      const lines = (this.#stdoutRest + text).split('\n');
      this.#stdoutRest = lines.pop() ?? '';
      for (const line of lines) onPrint(line);
    });
    const traceStderr = process.env.XSOTA_TRACE_DEPTH !== undefined;
    this.#child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      if (traceStderr) process.stderr.write(text);
      this.#stderr = (this.#stderr + text).slice(-4096);
    });
    this.#fromXs.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#child.on('exit', (code, signal) => {
      this.#exited = new Error(
        `xsnap-worker exited (code ${code}, signal ${signal})${this.#stderr ? `: ${this.#stderr.trim()}` : ''}`,
      );
      this.#waiter?.reject(this.#exited);
      this.#waiter = undefined;
      options.onExit?.(this.#exited);
    });
    this.#toXs.on('error', () => {
      /* reported through 'exit' */
    });
  }

  /** Evaluate a script in the global scope (a bundle, a call). */
  evaluate(code: string): Promise<XsCrank> {
    return this.#send(Buffer.concat([Buffer.from('e'), Buffer.from(code, 'utf8')]));
  }

  /** Call the guest's global `handleCommand(ArrayBuffer)`; its ArrayBuffer result is the reply. */
  command(message: Uint8Array): Promise<XsCrank> {
    return this.#send(Buffer.concat([Buffer.from('?'), message]));
  }

  /** Write the machine's heap to `file` (xsnap `w`): a later worker starts from it with `snapshot`. */
  writeSnapshot(file: string): Promise<XsCrank> {
    return this.#send(Buffer.concat([Buffer.from('w'), Buffer.from(file, 'utf8')]));
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    this.#toXs.end();
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** Stop the engine at once (a simulated power cut or reset). */
  kill(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }

  #send(payload: Buffer): Promise<XsCrank> {
    const run = this.#busy.then(
      () =>
        new Promise<XsCrank>((resolve, reject) => {
          if (this.#exited) return reject(this.#exited);
          this.#waiter = { resolve, reject };
          this.#writeNetstring(payload);
        }),
    );
    this.#busy = run.catch(() => undefined);
    return run;
  }

  #writeNetstring(payload: Uint8Array): void {
    this.#toXs.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(',')]));
  }

  #onData(chunk: Buffer): void {
    this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
    for (;;) {
      const colon = this.#pending.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.#pending.subarray(0, colon).toString('latin1'));
      if (!Number.isSafeInteger(length) || length < 0 || length > NETSTRING_MAX) {
        this.#fail(new Error(`xsnap protocol: bad netstring length '${this.#pending.subarray(0, colon)}'`));
        return;
      }
      const end = colon + 1 + length;
      if (this.#pending.length < end + 1) return;
      if (this.#pending[end] !== 0x2c) {
        this.#fail(new Error('xsnap protocol: netstring without trailing comma'));
        return;
      }
      const message = this.#pending.subarray(colon + 1, end);
      this.#pending = this.#pending.subarray(end + 1);
      this.#onMessage(message);
    }
  }

  #onMessage(message: Buffer): void {
    const kind = String.fromCharCode(message[0]);
    if (kind === '?') {
      let reply: Uint8Array;
      try {
        reply = this.#onQuery(new Uint8Array(message.subarray(1)));
      } catch (error) {
        // The guest is blocked in issueCommand; it must get an answer. The host error travels back
        // as an error frame and is rethrown on the host side by the session layer.
        this.#fail(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      this.#writeNetstring(Buffer.concat([Buffer.from('/'), reply]));
      return;
    }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (!waiter) {
      this.#fail(new Error(`xsnap protocol: unexpected message '${kind}'`));
      return;
    }
    if (kind === '.') {
      const sep = message.indexOf(1, 1);
      let meter: XsMeter = { compute: 0, allocate: 0, currentHeapCount: 0 };
      if (sep >= 0) {
        const parsed = JSON.parse(message.subarray(1, sep).toString('utf8')) as Partial<XsMeter>;
        meter = { compute: parsed.compute ?? 0, allocate: parsed.allocate ?? 0, currentHeapCount: parsed.currentHeapCount ?? 0 };
      }
      waiter.resolve({ reply: new Uint8Array(message.subarray(sep < 0 ? 1 : sep + 1)), meter });
    } else if (kind === '!') {
      waiter.reject(new Error(`uncaught exception in XS: ${message.subarray(1).toString('utf8')}`));
    } else {
      waiter.reject(new Error(`xsnap protocol: unknown reply '${kind}'`));
    }
  }

  #fail(error: Error): void {
    this.#waiter?.reject(error);
    this.#waiter = undefined;
    this.kill();
  }
}
