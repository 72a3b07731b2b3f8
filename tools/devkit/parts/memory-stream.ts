/**
 * Two connected in-memory ByteStreams on virtual time: bytes written on one side arrive at the
 * other `latencyMs` later, in order. For protocol tests with a scripted peer, where a real socket
 * would bring real time in. `drop()` ends both sides as a lost link does.
 */
import type { ByteStream } from '../../../src/net/byte-stream.js';
import { OtaError } from '../../../src/util/errors.js';
import type { VirtualTime } from './virtual-time.js';

export interface MemoryStreamPair {
  client: ByteStream;
  server: ByteStream;
  /** End both sides with `link-lost`, as a dropped connection would. */
  drop(): void;
  /** Bytes written by the client side, in order. */
  readonly clientWrites: Uint8Array[];
}

export function memoryStreamPair(time: VirtualTime, latencyMs = 5): MemoryStreamPair {
  interface Side {
    data?: (chunk: Uint8Array) => void;
    close?: (error?: OtaError) => void;
    early: Uint8Array[];
    ended?: { error?: OtaError };
  }
  const a: Side = { early: [] };
  const b: Side = { early: [] };
  const clientWrites: Uint8Array[] = [];
  const end = (side: Side, error?: OtaError): void => {
    if (side.ended) return;
    side.ended = { error };
    const handler = side.close;
    side.close = undefined;
    handler?.(error);
  };
  const make = (self: Side, peer: Side, record?: Uint8Array[]): ByteStream => ({
    write(bytes) {
      if (self.ended) return Promise.reject(new OtaError('closed', 'stream closed'));
      const copy = bytes.slice();
      record?.push(copy);
      time.after(latencyMs, () => {
        if (peer.ended) return;
        if (peer.data) peer.data(copy);
        else peer.early.push(copy);
      });
      return Promise.resolve();
    },
    onData(handler) {
      self.data = handler;
      while (self.early.length > 0 && !self.ended) handler(self.early.shift()!);
    },
    onClose(handler) {
      if (self.ended) handler(self.ended.error);
      else self.close = handler;
    },
    close() {
      if (self.ended) return;
      end(self);
      // The peer sees the connection go after the same latency, as a FIN would.
      time.after(latencyMs, () => end(peer, new OtaError('link-lost', 'peer closed the connection')));
    },
  });
  return {
    client: make(a, b, clientWrites),
    server: make(b, a),
    drop() {
      end(a, new OtaError('link-lost', 'link dropped'));
      end(b, new OtaError('link-lost', 'link dropped'));
    },
    clientWrites,
  };
}
