/**
 * XS probe: proves the bridge and the remote ports work inside the XS engine.
 * Every function here runs in XS; the spec in test/xs/engine.spec.ts calls them from Node.
 */
import { hex, utf8Decode, utf8Encode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { expose } from '../../../tools/xs/guest/bridge.js';
import { remoteClock, remoteDigest, remoteKeyValue, remoteSerial } from '../../../tools/xs/guest/ports.js';

const clock = remoteClock();
const digest = remoteDigest();
const keyValue = remoteKeyValue();
const serial = remoteSerial();
/** Bytes the probe's UART reads got, per readable event: each event drains the FIFO in one crank. */
const serialReads: number[][] = [];
serial.attach({
  onReadable: () => {
    const got: number[] = [];
    const into = new Uint8Array(48);
    for (let n = serial.read(into); n > 0; n = serial.read(into)) got.push(n);
    got.push(serial.read(into));
    serialReads.push(got);
  },
});

expose({
  /** Globals that exist in XS (xsnap) and not in Node, read from inside the bundle. */
  xsGlobals: () => ({
    print: typeof (globalThis as { print?: unknown }).print,
    issueCommand: typeof (globalThis as { issueCommand?: unknown }).issueCommand,
    process: typeof (globalThis as { process?: unknown }).process,
    Buffer: typeof (globalThis as { Buffer?: unknown }).Buffer,
  }),
  utf8RoundTrip: (args: { text: string }) => utf8Decode(utf8Encode(args.text)),
  sha256: (args: { bytes: Uint8Array }) => {
    const h = digest.sha256();
    h.update(args.bytes);
    return hex(h.digest());
  },
  echoBytes: (args: { bytes: Uint8Array }) => args.bytes,
  throwOta: () => {
    throw new OtaError('bad-header', 'probe');
  },
  journal: (args: { key: string; value: string }) => {
    keyValue.write(args.key, args.value);
    return keyValue.read(args.key);
  },
  serialReads: () => serialReads,
  /** `n` host calls (clock.now), for the bridge's own cost per call in XS meter units. */
  hostCalls: (args: { n: number }) => {
    let last = 0;
    for (let i = 0; i < args.n; i++) last = clock.now();
    return last;
  },
  /**
   * Waits until the clock reads its start plus `ms`, sleeping for what is left each time (the
   * agent's backoff wait): the sleeps it took, or -1 after 100 (time did not reach the deadline).
   */
  waitFor: async (args: { ms: number }) => {
    const deadline = clock.now() + args.ms;
    for (let sleeps = 0; sleeps <= 100; sleeps++) {
      const now = clock.now();
      if (now >= deadline) return sleeps;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, deadline - now));
    }
    return -1;
  },
  /** Sleeps in virtual time three times and reports the instants it woke at. */
  sleeps: async (args: { ms: number[] }) => {
    const woke: number[] = [];
    for (const ms of args.ms) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
      woke.push(clock.now());
    }
    return woke;
  },
});
