/**
 * Guest side of the XS bridge: runs inside the XS engine (xsnap), bundled by rollup together with
 * agent code from src/. It lets the host call guest functions (`expose`) and lets guest code make
 * synchronous calls into the host (`hostCall`), where the simulated dev kit lives.
 *
 * Host → guest: `{op: 'call', name, args, id}`; a synchronous result is returned at once, an
 * async one is answered later by a `$settle` host call. `{op: 'event', name, args}` delivers an
 * event (a timer firing, UART bytes readable) to a handler registered with `onHostEvent`.
 */
import { decodeMessage, encodeMessage } from '../codec.js';

declare const issueCommand: (message: ArrayBuffer) => ArrayBuffer;
declare const print: (text: string) => void;
/** xsnap's full garbage collection (xsnap-worker.c xs_gc); absent on other hosts. */
declare const gc: (() => void) | undefined;
/** The device profile of build/xsnap32's engine (tools/xs/native/xs-ota-device-worker.c). */
declare const xsOtaDeviceProfile: (reset?: boolean) => Record<string, number>;
declare const xsOtaBoundHeap: (bytes: number) => number;

export type GuestFunction = (args: any) => unknown;

const functions = new Map<string, GuestFunction>();
/** Host commands handled so far: a new one is a new crank (the host may have moved time on). */
let commands = 0;

/**
 * The crank running now. Between two commands the host runs nothing in virtual time (it waits for
 * XS to go idle before the next event), so no UART byte or timer arrives within one crank.
 */
export function currentCrank(): number {
  return commands;
}
const events = new Map<string, (args: any) => void>();

/** Make functions callable from the host by name. */
export function expose(table: Record<string, GuestFunction>): void {
  for (const name of Object.keys(table)) functions.set(name, table[name]);
}

/** Handle host events named `name` (one handler each). */
export function onHostEvent(name: string, handler: (args: any) => void): void {
  events.set(name, handler);
}

/** Synchronous call into the host; XS waits for the answer. */
export function hostCall<T = unknown>(op: string, args?: unknown): T {
  const request = encodeMessage({ op, args });
  const reply = decodeMessage(new Uint8Array(issueCommand(toArrayBuffer(request)))) as
    | { ok: true; value: T }
    | { ok: false; error: string };
  if (!reply.ok) throw new Error(`host ${op}: ${reply.error}`);
  return reply.value;
}

/** Print on the host's log of this guest (xsnap's `print`). */
export function guestPrint(text: string): void {
  print(text);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? (bytes.buffer as ArrayBuffer)
    : (bytes.slice().buffer as ArrayBuffer);
}

function errorText(error: unknown): { message: string; reason?: string; name?: string } {
  if (error instanceof Error) {
    const reason = (error as { reason?: unknown }).reason;
    return { message: error.message, name: error.name, reason: typeof reason === 'string' ? reason : undefined };
  }
  return { message: String(error) };
}

interface HostMessage {
  op: 'call' | 'event';
  name: string;
  args: unknown;
  id: number;
}

function handleCommand(buffer: ArrayBuffer): ArrayBuffer {
  commands++;
  const message = decodeMessage(new Uint8Array(buffer)) as HostMessage;
  let reply: unknown;
  if (message.op === 'event') {
    const handler = events.get(message.name);
    if (!handler) reply = { ok: false, error: { message: `no event handler '${message.name}'` } };
    else {
      try {
        handler(message.args);
        reply = { ok: true };
      } catch (error) {
        reply = { ok: false, error: errorText(error) };
      }
    }
  } else {
    const fn = functions.get(message.name);
    if (!fn) reply = { ok: false, error: { message: `no guest function '${message.name}'` } };
    else {
      try {
        const value = fn(message.args);
        if (value instanceof Promise) {
          value.then(
            (v) => hostCall('$settle', { id: message.id, ok: true, value: v }),
            (e) => hostCall('$settle', { id: message.id, ok: false, error: errorText(e) }),
          );
          reply = { ok: true, pending: true };
        } else reply = { ok: true, value };
      } catch (error) {
        reply = { ok: false, error: errorText(error) };
      }
    }
  }
  return toArrayBuffer(encodeMessage(reply));
}

(globalThis as { handleCommand?: unknown }).handleCommand = handleCommand;

expose({
  /** Which engine runs this bundle: read from globals only XS (xsnap) defines. */
  $engine: () => ({
    engine: typeof issueCommand === 'function' && typeof print === 'function' ? 'xs' : 'unknown',
    hasIssueCommand: typeof issueCommand === 'function',
    hasPrint: typeof print === 'function',
    hasNodeProcess: typeof (globalThis as { process?: unknown }).process !== 'undefined',
  }),
  /**
   * A full collection: the crank's meter then counts live slots only (the bench's memory figure;
   * `currentHeapCount` otherwise includes garbage not yet collected).
   */
  $gc: () => {
    if (typeof gc === 'function') gc();
    return null;
  },
  /** The engine's device figures (tools/xs/device-profile.ts DeviceFigures). */
  $device: (reset: boolean) => xsOtaDeviceProfile(reset === true),
  /** Start the heap bound (bytes the guest may add from now); returns the live bytes now. */
  $boundHeap: (bytes: number) => xsOtaBoundHeap(bytes),
});
