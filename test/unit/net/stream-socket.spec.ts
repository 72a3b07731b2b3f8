/**
 * src/net/stream-socket.ts: the ModemSocket the HTTP client reads over a pushed ByteStream (hawkBit
 * DDI over TLS in the agent). Blocks come out in order, one per read; a silent stream times out in
 * virtual time; a peer close ends reads with 0, a link error with the error; bytes pushed and not
 * read past STREAM_SOCKET_QUEUE_MAX fail the connection with `limit-exceeded` and close the stream.
 */
import assert from 'node:assert/strict';
import type { ByteStream } from '../../../src/net/byte-stream.js';
import { STREAM_SOCKET_QUEUE_MAX, streamSocketOpener } from '../../../src/net/stream-socket.js';
import { isOtaError, OtaError } from '../../../src/util/errors.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

/** The far end of a stream: what the test pushes arrives at the socket, what it writes is kept. */
class Pipe implements ByteStream {
  written: Uint8Array[] = [];
  closed = false;
  #data: ((chunk: Uint8Array) => void) | undefined;
  #close: ((error?: OtaError) => void) | undefined;
  write(bytes: Uint8Array): Promise<void> {
    this.written.push(bytes.slice());
    return Promise.resolve();
  }
  onData(handler: (chunk: Uint8Array) => void): void {
    this.#data = handler;
  }
  onClose(handler: (error?: OtaError) => void): void {
    this.#close = handler;
  }
  close(): void {
    this.closed = true;
  }
  push(bytes: number[] | Uint8Array): void {
    const chunk = Uint8Array.from(bytes);
    this.#data?.(chunk);
    chunk.fill(0xee); // valid only during the call: the socket must have copied it
  }
  end(error?: OtaError): void {
    this.#close?.(error);
  }
}

async function open(time = new VirtualTime()) {
  const pipe = new Pipe();
  const targets: { host: string; port: number; tls: boolean }[] = [];
  const opener = streamSocketOpener({ connect: async (t) => (targets.push(t), pipe) }, time.clockPort());
  const socket = await opener('ddi.example.com', 443, true);
  return { pipe, socket, time, targets };
}

async function readAll(socket: Awaited<ReturnType<typeof open>>['socket']): Promise<number[][]> {
  const blocks: number[][] = [];
  for (;;) {
    const n = await socket.read((chunk) => void blocks.push([...chunk]), 1000);
    if (n === 0) return blocks;
  }
}

describe('net/stream-socket: ModemSocket over a ByteStream', () => {
  it('connects through the connector, writes through, reads blocks in order, 0 once the peer closed', async () => {
    const { pipe, socket, targets } = await open();
    assert.deepEqual(targets, [{ host: 'ddi.example.com', port: 443, tls: true }]);
    await socket.write(new Uint8Array([1, 2]));
    assert.deepEqual(pipe.written.map((b) => [...b]), [[1, 2]]);
    pipe.push([1, 2, 3]);
    pipe.push([4]);
    pipe.end();
    assert.deepEqual(await readAll(socket), [[1, 2, 3], [4]]);
    assert.equal(socket.closed, true);
  });

  it('a read waits for data; silence past idleMs is `timeout` in virtual time', async () => {
    const { pipe, socket, time } = await open();
    const got: number[] = [];
    const reading = socket.read((chunk) => void got.push(...chunk), 5000);
    time.clockPort().setTimeout(() => pipe.push([9]), 1000);
    assert.equal(await time.runFor(reading), 1);
    assert.deepEqual(got, [9]);
    const silent = socket.read(() => undefined, 5000);
    await assert.rejects(time.runFor(silent), (e: unknown) => isOtaError(e, 'timeout'));
  });

  it('a link error ends reads with that error; close closes the stream once', async () => {
    const { pipe, socket } = await open();
    pipe.end(new OtaError('link-lost', 'bearer dropped'));
    await assert.rejects(socket.read(() => undefined, 1000), (e: unknown) => isOtaError(e, 'link-lost'));
    const second = await open();
    await second.socket.close();
    assert.equal(second.pipe.closed, true);
    await assert.rejects(second.socket.write(new Uint8Array([1])), (e: unknown) => isOtaError(e, 'closed'));
  });

  it(`bytes not read past ${STREAM_SOCKET_QUEUE_MAX} fail the connection with limit-exceeded, never grow`, async () => {
    const { pipe, socket } = await open();
    const block = new Uint8Array(1024);
    for (let i = 0; i < STREAM_SOCKET_QUEUE_MAX / block.length; i++) pipe.push(block);
    assert.equal(pipe.closed, false, 'exactly the limit is held');
    pipe.push([1]);
    assert.equal(pipe.closed, true);
    await assert.rejects(socket.read(() => undefined, 1000), (e: unknown) => isOtaError(e, 'limit-exceeded'));
  });
});
