/**
 * The UART model (tools/devkit/parts/sim-uart.ts) and the power key / boot behaviour of both modems.
 */
import assert from 'node:assert/strict';
import { SimUart } from '../../../tools/devkit/parts/sim-uart.js';
import { createSimModem } from '../../../tools/devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { ScriptHost } from './sim-modem-host.js';

describe('sim-uart: pacing in virtual time', () => {
  for (const baud of [9600, 115_200, 921_600]) {
    for (const n of [1, 63, 64, 65, 1000, 4096]) {
      it(`${n} bytes at ${baud} baud take exactly ${n}*10/${baud} s, both ways`, async () => {
        const time = new VirtualTime();
        const uart = new SimUart(time, { baud, txFifoBytes: 8192, rxFifoBytes: 8192 });
        let modemGot = 0;
        let modemLastAt = -1;
        uart.modem.onReceive = (bytes) => {
          modemGot += bytes.length;
          modemLastAt = time.now();
        };
        let deviceLastAt = -1;
        uart.device.attach({ onReadable: () => (deviceLastAt = time.now()) });
        assert.equal(uart.device.write(new Uint8Array(n).fill(0x41)), n);
        uart.modem.write(new Uint8Array(n).fill(0x42));
        await time.runUntil(() => modemGot === n && uart.device.readable === n);
        const expectMs = (n * 10 * 1000) / baud;
        assert.ok(Math.abs(modemLastAt - expectMs) < 1e-9, `host->modem ${modemLastAt} vs ${expectMs}`);
        assert.ok(Math.abs(deviceLastAt - expectMs) < 1e-9, `modem->host ${deviceLastAt} vs ${expectMs}`);
        assert.equal(uart.counters.toModemBytes, n);
        assert.equal(uart.counters.toHostBytes, n);
      });
    }
  }

  it('a full RX FIFO overruns: bytes lost, one onError per episode, counted', async () => {
    const time = new VirtualTime();
    const uart = new SimUart(time, { rxFifoBytes: 256 });
    const errors: string[] = [];
    uart.device.attach({ onError: (e) => errors.push(e.message) });
    uart.modem.write(new Uint8Array(1000).map((_, i) => i & 0xff));
    await time.runUntil(() => uart.counters.toHostBytes === 1000);
    assert.equal(uart.device.readable, 256);
    assert.equal(uart.counters.overrunBytes, 744);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /overrun/);
    const into = new Uint8Array(300);
    assert.equal(uart.device.read(into), 256);
    assert.deepEqual(Array.from(into.subarray(0, 4)), [0, 1, 2, 3]); // the oldest bytes survive
  });

  it('write accepts only what fits the TX FIFO; onWritable reports room as bytes leave', async () => {
    const time = new VirtualTime();
    const uart = new SimUart(time, { txFifoBytes: 128 });
    const room: number[] = [];
    uart.device.attach({ onWritable: (n) => room.push(n) });
    uart.modem.onReceive = () => undefined;
    assert.equal(uart.device.write(new Uint8Array(300)), 128);
    assert.equal(uart.device.write(new Uint8Array(10)), 0);
    await time.advance(100);
    assert.ok(room.length >= 2 && room[room.length - 1] === 128);
    assert.equal(uart.device.write(new Uint8Array(10)), 10);
  });

  it('bytes at a rate the receiver is not set to arrive garbled, with a framing error', async () => {
    const time = new VirtualTime();
    const uart = new SimUart(time, { baud: 115_200 });
    const errors: string[] = [];
    uart.device.attach({ onError: (e) => errors.push(e.message) });
    uart.modem.baud = 9600;
    uart.modem.write(Buffer.from('\r\nOK\r\n'));
    await time.runUntil(() => uart.device.readable === 6);
    const into = new Uint8Array(6);
    uart.device.read(into);
    assert.notEqual(Buffer.from(into).toString('latin1'), '\r\nOK\r\n');
    assert.match(errors[0], /framing/);
  });
});

describe('sim-modem: baud rate', () => {
  it('SIM7600 AT+IPR: OK at the old rate, then both ends at the new one', async () => {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7600', poweredOn: true });
    const host = new ScriptHost(time, kit.serial);
    await host.cmd('ATE0');
    assert.equal(await host.cmd('AT+IPR=921600'), '\r\nOK\r\n');
    // The host still at 115200 now talks to a modem at 921600: no sensible answer.
    host.write('AT\r');
    await time.advance(200);
    assert.doesNotMatch(host.text, /OK/);
    host.take();
    kit.serial.setBaud(921_600);
    host.write('\r'); // flush the garbled partial line
    await time.advance(50);
    host.take();
    const t0 = time.now();
    assert.equal(await host.cmd('AT'), '\r\nOK\r\n');
    // 3 bytes out and 6 back at 921600 are ~0.1 ms; the rest is the modem's think time.
    assert.ok(time.now() - t0 < 12);
  });

  it('SIM7080G auto-baud (+IPR: 0) locks onto the host rate from its first AT', async () => {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7080g', poweredOn: true, uart: { baud: 57_600 } });
    kit.uart.modem.baud = 115_200; // whatever the modem last used
    kit.serial.setBaud(57_600);
    const host = new ScriptHost(time, kit.serial);
    assert.equal(await host.cmd('AT'), 'AT\r\r\nOK\r\n');
    assert.equal(kit.uart.modem.baud, 57_600);
  });
});

describe('sim-modem: power key and boot', () => {
  async function press(time: VirtualTime, kit: { powerKey: { write(v: 0 | 1): void } }, ms: number) {
    kit.powerKey.write(1);
    await time.advance(ms);
    kit.powerKey.write(0);
  }

  it('SIM7080G: a short press does nothing; >= 1 s boots in ~3.3 s with echo on; 1.3 s powers off', async () => {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7080g' });
    const host = new ScriptHost(time, kit.serial);
    await press(time, kit, 500);
    host.write('AT\r');
    await time.advance(6000);
    assert.equal(host.received, 0);
    await press(time, kit, 1000);
    await time.advance(3000);
    host.write('AT\r');
    await time.advance(200);
    assert.equal(host.received, 0, 'not ready 3 s after power-on');
    await time.advance(300);
    assert.equal(await host.cmd('AT'), 'AT\r\r\nOK\r\n');
    // Auto-baud: no boot URCs were printed (§3.1).
    assert.equal(await host.cmd('ATE0'), 'ATE0\r\r\nOK\r\n');
    host.take();
    await press(time, kit, 1300);
    await host.until(/NORMAL POWER DOWN/);
    host.take();
    host.write('AT\r');
    await time.advance(2000);
    assert.equal(host.received, 0);
    assert.equal(kit.modem.power, 'off');
    // Power on again: echo is back (ATE is NO_SAVE).
    await press(time, kit, 1000);
    await time.advance(4000);
    assert.equal(await host.cmd('AT'), 'AT\r\r\nOK\r\n');
    assert.equal(kit.counters().boots, 2);
  });

  it('SIM7080G with a fixed rate prints RDY, +CFUN: 1, +CPIN: READY, SMS Ready; AT+CFUN=1,1 reboots with echo on', async () => {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7080g', ipr: 115_200 });
    const host = new ScriptHost(time, kit.serial);
    await press(time, kit, 1000);
    const boot = await host.until(/SMS Ready\r\n/, 10_000);
    assert.equal(boot, '\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n');
    host.take();
    await host.cmd('ATE0');
    assert.equal(await host.cmd('AT+CFUN=1,1'), '\r\nOK\r\n');
    await host.until(/SMS Ready\r\n/, 10_000);
    host.take();
    assert.equal(await host.cmd('AT'), 'AT\r\r\nOK\r\n');
  });

  it('SIM7600: 0.5 s press, RDY at ~11 s, SIM busy until SMS DONE, then registration', async () => {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7600' });
    const host = new ScriptHost(time, kit.serial);
    await press(time, kit, 500);
    assert.equal(await host.until(/\+CPIN: READY\r\n/, 14_000), '\r\nRDY\r\n\r\n+CPIN: READY\r\n');
    assert.ok(time.now() >= 11_500 && time.now() < 13_000);
    host.take();
    await host.cmd('AT+CMEE=2');
    assert.equal(await host.cmd('AT+CPIN?'), 'AT+CPIN?\r\r\n+CME ERROR: SIM busy\r\n');
    await host.cmd('ATE0');
    await host.until(/PB DONE\r\n/);
    host.take();
    assert.equal(await host.cmd('AT+CPIN?'), '\r\n+CPIN: READY\r\n\r\nOK\r\n');
    assert.equal(await host.cmd('AT+CSQ'), '\r\n+CSQ: 99,99\r\n\r\nOK\r\n');
    await host.cmd('AT+CEREG=1');
    assert.equal(await host.until(/\+CEREG: 1\r\n/), '\r\n+CEREG: 1\r\n');
    host.take();
    assert.equal(await host.cmd('AT+CSQ'), '\r\n+CSQ: 22,99\r\n\r\nOK\r\n');
  });

  it('registration URCs follow AT+CxREG=<n>: stat only with 1, location added with 2', async () => {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7080g', registrationMs: 8000 });
    const host = new ScriptHost(time, kit.serial);
    kit.powerKey.write(1);
    await time.advance(1000);
    kit.powerKey.write(0);
    await time.advance(3500);
    await host.cmd('ATE0');
    await host.cmd('AT+CEREG=1');
    await host.cmd('AT+CREG=2');
    assert.equal(await host.cmd('AT+CEREG?'), '\r\n+CEREG: 1,2\r\n\r\nOK\r\n');
    assert.equal(await host.until(/\+CEREG: [^\r]*\r\n$/), '\r\n+CREG: 1,"1816","550C",7\r\n\r\n+CEREG: 1\r\n');
    host.take();
    assert.equal(await host.cmd('AT+CREG?'), '\r\n+CREG: 2,1,"1816","550C",7\r\n\r\nOK\r\n');
  });

  it('AT+CPOWD=1 prints NORMAL POWER DOWN and powers off; SIM7600 AT+CRESET reboots, AT+CPOF powers off', async () => {
    const time = new VirtualTime();
    const a = createSimModem(time, { model: 'sim7080g', poweredOn: true });
    const ha = new ScriptHost(time, a.serial);
    await ha.cmd('ATE0');
    ha.write('AT+CPOWD=1\r');
    assert.equal(await ha.until(/DOWN\r\n$/), '\r\nNORMAL POWER DOWN\r\n');
    await time.advance(100);
    assert.equal(a.modem.power, 'off');
    const b = createSimModem(time, { model: 'sim7600', poweredOn: true });
    const hb = new ScriptHost(time, b.serial);
    await hb.cmd('ATE0');
    assert.equal(await hb.cmd('AT+CRESET'), '\r\nOK\r\n');
    assert.equal(await hb.until(/PB DONE\r\n$/, 20_000), '\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n');
    hb.take();
    assert.equal(await hb.cmd('AT+CPOF'), 'AT+CPOF\r\r\nOK\r\n');
    await time.advance(100);
    assert.equal(b.modem.power, 'off');
  });

  it('unknown commands answer ERROR; AT+CMEE selects the error format', async () => {
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7080g', poweredOn: true });
    const host = new ScriptHost(time, kit.serial);
    await host.cmd('ATE0');
    assert.equal(await host.cmd('AT+NOPE'), '\r\nERROR\r\n');
    assert.equal(await host.cmd('hello'), '\r\nERROR\r\n');
    kit.modem.setFaults({ cmeError: { command: 'AT+CSQ', code: 100, times: 2 } });
    assert.equal(await host.cmd('AT+CSQ'), '\r\nERROR\r\n'); // CMEE=0 is the SIM7080 default
    await host.cmd('AT+CMEE=1');
    assert.equal(await host.cmd('AT+CSQ'), '\r\n+CME ERROR: 100\r\n');
    assert.equal(kit.modem.faults.cmeError, undefined, 'one-shot knob consumed');
    assert.match(await host.cmd('AT+CSQ'), /\+CSQ: 17,99/);
  });
});
