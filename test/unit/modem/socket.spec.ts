/**
 * The shared socket read loop (src/modem/socket.ts) in push mode: a pushed block reaches the
 * reader only once the stream proves it whole (next header, close, quiet line boundary); noise
 * while a block is held drops it and fails the read with at-garbled.
 */
import assert from 'node:assert/strict';
import type { ByteSink } from '../../../src/modem/modem.js';
import { IndicatedSocket } from '../../../src/modem/socket.js';
import { isOtaError } from '../../../src/util/errors.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

class PushSocket extends IndicatedSocket {
  protected readonly sendMax = 100;
  lineStart = true;
  constructor(time: VirtualTime, stage: Uint8Array) {
    super(time.clockPort(), { stage, atLineStart: () => this.lineStart });
  }
  protected async readBlock(_sink: ByteSink): Promise<number | 'closed'> {
    return 0;
  }
  protected async sendBlock(): Promise<void> {}
  protected async closeCommand(): Promise<void> {}
}

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('modem/socket push mode', () => {
  it('hands a block on when the next header proves it whole, and the last one at close', async () => {
    const time = new VirtualTime();
    const socket = new PushSocket(time, new Uint8Array(64));
    const got: number[] = [];
    const sink = (c: Uint8Array) => void got.push(...c);
    socket.pushHeader(3);
    socket.pushData(bytes(3, 1));
    let first = 0;
    const reading = socket.read(sink, 10_000).then((n) => (first = n));
    await time.settle();
    assert.equal(got.length, 0, 'held until proven');
    socket.pushHeader(2);
    await time.runFor(reading);
    assert.equal(first, 3);
    socket.pushData(bytes(2, 2));
    socket.markClosed();
    assert.equal(await time.runFor(socket.read(sink, 10_000)), 2);
    assert.equal(await time.runFor(socket.read(sink, 10_000)), 0);
    assert.deepEqual(got, [1, 1, 1, 2, 2]);
  });

  it('hands a held block on after a quiet period at a line boundary only', async () => {
    const time = new VirtualTime();
    const socket = new PushSocket(time, new Uint8Array(64));
    socket.pushHeader(4);
    socket.pushData(bytes(4, 9));
    socket.lineStart = false; // a partial line follows the block: maybe its spilled tail
    const reading = socket.read(() => undefined, 10_000);
    await time.advance(1_000);
    socket.lineStart = true;
    assert.equal(await time.runFor(reading), 4);
  });

  it('drops a held block when noise follows it (at-garbled), never handing it on', async () => {
    const time = new VirtualTime();
    const socket = new PushSocket(time, new Uint8Array(64));
    const got: number[] = [];
    socket.pushHeader(4);
    socket.pushData(bytes(4, 7));
    socket.pushNoise();
    await assert.rejects(time.runFor(socket.read((c) => void got.push(...c), 10_000)), (e: unknown) => isOtaError(e, 'at-garbled'));
    assert.deepEqual(got, []);
    assert.equal(socket.pushData(bytes(4, 7)), undefined, 'later pushes are skipped, the engine never waits');
  });

  it('a loss (UART overrun) breaks the stream in any state: an empty socket fails its next read, a waiting push is released and skipped', async () => {
    const time = new VirtualTime();
    const socket = new PushSocket(time, new Uint8Array(64));
    const got: number[] = [];
    socket.pushHeader(3);
    socket.pushData(bytes(3, 1));
    socket.pushHeader(3); // block 1 proven whole, block 2 must wait for the stage
    const waiting = socket.pushData(bytes(3, 2));
    assert.ok(waiting instanceof Promise, 'the engine is paused');
    socket.pushLost();
    await assert.rejects(time.runFor(socket.read((c) => void got.push(...c), 10_000)), (e: unknown) => isOtaError(e, 'at-garbled'));
    await time.runFor(waiting as Promise<void>); // released, so the engine reads (and skips) on
    assert.deepEqual(got, [], 'not even the block staged before the loss');
    const idle = new PushSocket(time, new Uint8Array(64));
    idle.pushLost();
    await assert.rejects(time.runFor(idle.read(() => undefined, 10_000)), (e: unknown) => isOtaError(e, 'at-garbled'));
  });
});
