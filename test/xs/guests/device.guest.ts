/**
 * XS device profile probe: what the engine every XS suite runs looks like from inside (frozen
 * built-ins, the creation's stack and heap), and the agent's error classes under it.
 * The spec is test/xs/device.spec.ts.
 */
import { BackendError } from '../../../src/backend/json-http.js';
import { SeStatusError } from '../../../src/se/se05x.js';
import { asciiDecode, utf8Decode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { expose, hostCall } from '../../../tools/xs/guest/bridge.js';

/** Each of the agent's error classes, constructed as its throw sites do. */
const ERRORS: Record<string, () => Error> = {
  OtaError: () => new OtaError('timeout', 'probe'),
  BackendError: () => new BackendError('backend-unavailable', 'probe', 503, 60),
  SeStatusError: () => new SeStatusError('probe', 0x6a82),
};

expose({
  /** Whether the built-ins are frozen here, as preload leaves them. */
  frozen: () => ({
    errorPrototype: Object.isFrozen(Error.prototype),
    objectPrototype: Object.isFrozen(Object.prototype),
    arrayPrototype: Object.isFrozen(Array.prototype),
    typedArrayPrototype: Object.isFrozen(Object.getPrototypeOf(Uint8Array.prototype)),
    math: Object.isFrozen(Math),
    json: Object.isFrozen(JSON),
    promise: Object.isFrozen(Promise),
    globalExtensible: Object.isExtensible(globalThis),
  }),
  /** Strict code assigning an inherited built-in property: what `this.name = ...` did. */
  assignInherited: () => {
    'use strict';
    const error = new Error('probe');
    (error as { name: string }).name = 'Probe';
    return error.name;
  },
  /** Construct every error class; report its name and message, or what construction threw. */
  constructErrors: () => {
    const out: Record<string, { name?: string; message?: string; instance?: boolean; threw?: string }> = {};
    for (const [label, make] of Object.entries(ERRORS)) {
      try {
        const error = make();
        out[label] = { name: error.name, message: error.message, instance: error instanceof OtaError };
      } catch (thrown) {
        out[label] = { threw: String(thrown) };
      }
    }
    return out;
  },
  /** Recurse `depth` frames: overflows a small JS stack. */
  recurse: (args: { depth: number }) => {
    const down = (n: number): number => (n === 0 ? 0 : 1 + down(n - 1));
    return down(args.depth);
  },
  /**
   * Recurse `depth` frames, then at the bottom call the host (`hostCall`, the bridge) or a JS
   * function of the same shape (`leaf`, what stays of a port call on a device): the stack figure
   * without the bridge's frames must not tell them apart.
   */
  deepCall: (args: { depth: number; bottom: 'host' | 'leaf' }) => {
    const down = (n: number): number => {
      if (n === 0) {
        if (args.bottom === 'host') hostCall('ping', { n });
        else leaf('ping', { n });
        return 0;
      }
      const below = down(n - 1);
      return below + 1;
    };
    return down(args.depth);
  },
  /** Decode `bytes` as ASCII and as UTF-8 from `depth` frames down (a deep caller's stack). */
  decodeDeep: (args: { depth: number; bytes: Uint8Array }) => {
    // Not a tail call (XS runs strict tail calls without growing the stack).
    const down = (n: number): { ascii: string; utf8: string; depth: number } => {
      if (n === 0) return { ascii: asciiDecode(args.bytes), utf8: utf8Decode(args.bytes), depth: 0 };
      const result = down(n - 1);
      result.depth++;
      return result;
    };
    return down(args.depth);
  },
  /**
   * Hold `count` small objects at once and call the host meanwhile, as the agent calls its ports
   * (the bound is checked at host calls and crank ends, where the engine can collect safely).
   */
  hold: (args: { count: number }) => {
    const held: { i: number }[] = [];
    for (let i = 0; i < args.count; i++) held.push({ i });
    hostCall('ping');
    return held.length;
  },
  /** Closures kept alive: each copies its byte code into a chunk here (a device points into flash). */
  holdClosures: (args: { count: number }) => {
    const kept: (() => number)[] = [];
    for (let i = 0; i < args.count; i++) {
      kept.push(() => {
        // A body of some size, so that its byte code is easy to tell from its slots.
        let sum = i;
        for (let j = 0; j < 4; j++) sum = (sum * 31 + j) ^ (sum >>> 3);
        return sum + kept.length * 7 - (i % 5) + (i >> 2);
      });
    }
    closures = kept;
    return kept.length;
  },
  dropClosures: () => {
    closures = [];
    return 0;
  },
});

let closures: (() => number)[] = [];

/**
 * hostCall's shape (two arguments): where a device's native port call would be. Its one loop
 * turn is a meter check, so the engine samples the stack with this frame on it (a function
 * without a call or a loop is never sampled inside).
 */
function leaf(op: string, args: unknown): unknown {
  for (let turn = 0; turn < 1; turn++) leafCalls.push(op);
  return args;
}
/** What leaf did (a side effect, so that the bundler keeps the call). */
const leafCalls: string[] = [];
