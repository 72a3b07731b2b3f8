/**
 * Pushed socket data (SIM7080 recv_mode 1, SIM7600 AT+CCHSET=1,0) against the simulated modem:
 * RTS/CTS is what makes it safe with a slow consumer (the engine stops reading the UART while a
 * block waits for the flash), an overrun without it is detected and never reaches the sink, the
 * SIM7080 falls back to AT+CARECV when its firmware refuses recv_mode, and every field of a
 * `+CAURC: "recv"` header is checked as hostile input.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { binaryHeaderLength } from '../../../src/modem/at-engine.js';
import type { ModemSocket } from '../../../src/modem/modem.js';
import { Sim7080 } from '../../../src/modem/sim7080.js';
import { isOtaError } from '../../../src/util/errors.js';
import { RIG_CA, runNode, type Model } from '../../../tools/bench/rig.js';
import { createSimModem, type SimModemKit } from '../../../tools/devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

const SIZE = 256 * 1024;
/** A flash write per pushed block slower than the UART delivers it (1460 B at 115200 ~ 127 ms). */
const SLOW_SINK_MS = 200;

describe('modem push mode: RTS/CTS flow control with a slow consumer (Node)', function () {
  this.timeout(300_000);
  for (const model of ['sim7080', 'sim7600'] as Model[]) {
    it(`${model}: with RTS/CTS the modem is held, nothing overruns, byte-exact without a retry`, async () => {
      const run = await runNode({ model, transport: 'socket-push', baud: 115_200, size: SIZE, sinkDelayMs: SLOW_SINK_MS, flowControl: 'rts-cts' });
      assert.deepEqual(run.sim.ifc, [2, 2], 'the driver sent AT+IFC=2,2');
      assert.equal(run.uartCounters.overrunBytes, 0);
      assert.ok(run.uartCounters.ctsHolds > 0, 'flow control was needed');
      assert.equal(run.atStats.lineErrors, 0);
      assert.equal(run.wrongWrites, 0);
      assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
      assert.deepEqual(run.result.failures, []);
    });

    it(`${model}: without RTS/CTS the FIFO overruns; detected, no wrong byte accepted, resumed to a byte-exact image`, async () => {
      const run = await runNode({ model, transport: 'socket-push', baud: 115_200, size: SIZE, sinkDelayMs: SLOW_SINK_MS, flowControl: 'none' });
      assert.deepEqual(run.sim.ifc, [0, 0], 'no AT+IFC=2,2 on a board without the lines');
      assert.ok(run.uartCounters.overrunBytes > 0, 'the slow consumer overran the FIFO');
      assert.ok(run.atStats.lineErrors > 0, 'the driver saw the overrun');
      assert.equal(run.wrongWrites, 0, 'no byte from a broken stream reached the sink');
      assert.ok(run.result.failures.includes('at-garbled'), run.result.failures.join(','));
      assert.ok(run.result.resumes > 0);
      assert.equal(run.result.restarts, 0);
      assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
    });
  }

  it('sim7080: AT+IFC=2,2 again after a modem reboot (NO_SAVE), still no overrun', async () => {
    const run = await runNode({ model: 'sim7080', transport: 'socket-push', baud: 115_200, size: SIZE, sinkDelayMs: SLOW_SINK_MS, faults: (now) => ({ rebootAt: now + 8_000 }) });
    assert.ok(run.modemCounters.resets > 0 || run.simBoots > 1, 'the modem rebooted');
    assert.deepEqual(run.sim.ifc, [2, 2]);
    assert.equal(run.uartCounters.overrunBytes, 0);
    assert.equal(run.wrongWrites, 0);
    assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)));
  });
});

describe('modem push mode: SIM7080 firmware that refuses recv_mode (Node)', function () {
  this.timeout(300_000);
  for (const refusal of ['error', 'result'] as const) {
    it(`CAOPEN with recv_mode answered ${refusal === 'error' ? 'ERROR' : '+CAOPEN: 0,4'}: falls back to AT+CARECV, byte-exact`, async () => {
      const run = await runNode({ model: 'sim7080', transport: 'socket-push', baud: 115_200, size: SIZE, sim: { caRecvMode: refusal } });
      const driver = run.driver as Sim7080;
      assert.equal(driver.pushWanted, true);
      assert.equal(driver.push, false, 'manual reads from now on');
      assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'byte-exact');
      assert.deepEqual(run.result.failures, [], 'the fallback costs no failed request');
      assert.equal(run.wrongWrites, 0);
    });
  }
});

describe('modem/at-engine binaryHeaderLength: +CAURC: "recv" headers (hostile fields)', () => {
  const cases: [string, number][] = [
    ['+CAURC: "recv",0,1460', 1460],
    ['+CAURC: "recv",12,1', 1],
    ['+CAURC: "recv",0,0', 0],
    ['+CAURC: "recv",0,1460,"203.0.113.10",443', 1460],
    ['+CAURC: "recv",0,307200', 307_200],
    ['+CAURC: "recv",0,307201', -1], // above LIMITS.atBinaryMax
    ['+CAURC: "recv",0,99999999', -1],
    ['+CAURC: "recv",0,-5', -1],
    ['+CAURC: "recv",0,', -1],
    ['+CAURC: "recv",0', -1],
    ['+CAURC: "recv",0,12a', -1],
    ['+CAURC: "recv",0,1e3', -1],
    ['+CAURC: "recv",13,10', -1], // cid 0-12
    ['+CAURC: "recv",000,10', -1],
    ['+CAURC: "recv",x,10', -1],
    ['+CAURC: "recv",,10', -1],
    ['+CAURC: "recv",0,10,"1.2.3.4"', -1],
    ['+CAURC: "recv",0,10,"1.2.3.4",0', -1],
    ['+CAURC: "recv",0,10,"1.2.3.4",65536', -1],
    ['+CAURC: "recv",0,10,1.2.3.4,443', -1],
    ['+CAURC: "recv",0,10,"",443', -1],
    ['+CAURC: "recv",0,10,"a b",443', -1],
    ['+CAURC: "recv",0,10,"1.2.3.4",443,5', -1],
    ['+CAURC: "buffer full",0', -1],
    ['+CAURC: "recv" ,0,10', -1],
  ];
  for (const [line, n] of cases) {
    it(`${JSON.stringify(line)} -> ${n}`, () => assert.equal(binaryHeaderLength(line), n));
  }
});

/** A TCP server that accepts and never sends: the test writes the modem's pushes itself. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => void sockets.push(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('modem/sim7080 push mode: +CAURC: "recv" from a hostile modem', function () {
  this.timeout(60_000);
  let server: Awaited<ReturnType<typeof silentServer>>;
  before(async () => {
    server = await silentServer();
  });
  after(async () => server.close());

  /** A SIM7080 driver in push mode with an open socket to the silent server; `kit.modem.out` plays the modem. */
  async function opened(): Promise<{ time: VirtualTime; kit: SimModemKit; modem: Sim7080; socket: ModemSocket }> {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7080g', server: { host: '127.0.0.1', port: server.port }, poweredOn: true });
    const modem = new Sim7080({ serial: kit.serial, clock: time.clockPort(), powerKey: kit.powerKey }, { caCert: RIG_CA, registrationPollMs: 1_000 }, { push: true });
    await time.runFor(modem.ready(), { untilMs: 120_000 });
    const socket = await time.runFor(modem.openSocket('updates.example.com', 443, false), { untilMs: time.now() + 60_000 });
    return { time, kit, modem, socket };
  }

  async function read(time: VirtualTime, socket: ModemSocket): Promise<{ got: number[]; error: unknown }> {
    const got: number[] = [];
    try {
      await time.runFor(socket.read((c) => void got.push(...c), 5_000), { untilMs: time.now() + 10_000 });
      return { got, error: undefined };
    } catch (error) {
      return { got, error };
    }
  }

  it('a valid block (with and without the address fields) reaches the reader whole', async () => {
    const { time, kit, socket } = await opened();
    kit.modem.out('\r\n+CAURC: "recv",0,5\r\nhello');
    assert.deepEqual((await read(time, socket)).got, [...Buffer.from('hello')]);
    kit.modem.out('\r\n+CAURC: "recv",0,3,"203.0.113.10",443\r\nOK\r');
    assert.deepEqual((await read(time, socket)).got, [...Buffer.from('OK\r')], 'payload read by count, never as lines');
  });

  it('a block for another cid is skipped by count; ours still arrives', async () => {
    const { time, kit, socket, modem } = await opened();
    kit.modem.out('\r\n+CAURC: "recv",1,6\r\nERROR\n\r\n+CAURC: "recv",0,2\r\nab');
    assert.deepEqual((await read(time, socket)).got, [...Buffer.from('ab')]);
    assert.equal(modem.at.stats.discardedBytes, 6);
  });

  it('a length larger than the stage: payload skipped by count, the read fails at-garbled, nothing handed on, the link stays in sync', async () => {
    const { time, kit, socket, modem } = await opened();
    const n = 20_000;
    kit.modem.out('\r\n+CAURC: "recv",0,' + n + '\r\n');
    kit.modem.out(new Uint8Array(n).fill(0x4f));
    const { got, error } = await read(time, socket);
    assert.ok(isOtaError(error, 'at-garbled'), String(error));
    assert.deepEqual(got, []);
    await time.runUntil(() => modem.at.stats.discardedBytes >= n, { untilMs: time.now() + 10_000 });
    assert.equal(modem.at.stats.discardedBytes, n);
    await time.runFor(modem.at.command('AT'), { untilMs: time.now() + 5_000 });
  });

  for (const header of ['+CAURC: "recv",0,99999999', '+CAURC: "recv",0,-5', '+CAURC: "recv",13,5', '+CAURC: "recv",0,5,"x",0', '+CAURC: "recv",0']) {
    it(`a malformed header (${header}) breaks the stream: at-garbled, nothing handed on`, async () => {
      const { time, kit, socket } = await opened();
      kit.modem.out(`\r\n${header}\r\nhello`);
      const { got, error } = await read(time, socket);
      assert.ok(isOtaError(error, 'at-garbled'), String(error));
      assert.deepEqual(got, []);
    });
  }

  it('a UART overrun while the reader is busy: the staged block is dropped too, at-garbled, nothing handed on', async () => {
    const { time, kit, socket, modem } = await opened();
    // Block 1 is staged; block 2 waits for the stage, so the engine stops reading the UART...
    kit.modem.out('\r\n+CAURC: "recv",0,5\r\nhello\r\n+CAURC: "recv",0,3\r\nabc');
    // ...and whatever the modem sends next fills the RX FIFO (no RTS/CTS on this board) and overruns.
    kit.modem.out(new Uint8Array(kit.uart.rxFifoBytes + 256).fill(0x20));
    await time.advance(500);
    assert.ok(kit.uart.counters.overrunBytes > 0);
    assert.equal(modem.at.stats.lineErrors, 1);
    const { got, error } = await read(time, socket);
    assert.ok(isOtaError(error, 'at-garbled'), String(error));
    assert.deepEqual(got, [], 'bytes staged before the loss are not handed on either');
  });
});
