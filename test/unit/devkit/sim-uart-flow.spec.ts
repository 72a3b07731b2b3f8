/**
 * RTS/CTS in the simulated UART (tools/devkit/parts/sim-uart.ts), the simulated modems' `AT+IFC`
 * (kept per boot on SIM7080 only until the next boot, simcom-at.md §3.6) and the SIM7080G's
 * recv_mode 1 (`+CAURC: "recv"` pushes, §5.1) with its refusal knob.
 */
import assert from 'node:assert/strict';
import { startHttpLoopback } from '../../../tools/node/http-loopback.js';
import { SimUart } from '../../../tools/devkit/parts/sim-uart.js';
import { createSimModem } from '../../../tools/devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { makeImage, ScriptHost } from './sim-modem-host.js';

function pattern(n: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (i * 7) & 0xff);
}

/** Reads everything the device end has, as a real driver would when it gets to it. */
function drain(uart: SimUart, into: number[]): void {
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = uart.device.read(buf);
    if (n === 0) return;
    for (let i = 0; i < n; i++) into.push(buf[i]);
  }
}

describe('sim-uart: RTS/CTS flow control', () => {
  it('wired and honoured: the modem holds its output at the threshold, nothing overruns, all arrives in order', async () => {
    const time = new VirtualTime();
    const uart = new SimUart(time, { rxFifoBytes: 256, burstBytes: 64, flowControl: 'rts-cts' });
    assert.equal(uart.rtsThresholdBytes, 128);
    uart.modem.hardwareFlow = true;
    uart.modem.write(pattern(1000));
    await time.advance(1000); // the device reads nothing for a long while (a flash write)
    assert.equal(uart.counters.overrunBytes, 0);
    assert.ok(uart.device.readable <= 256 && uart.device.readable >= 128, `FIFO holds ${uart.device.readable}`);
    assert.ok(uart.counters.ctsHolds >= 1);
    assert.ok(uart.modem.pending > 0, 'the rest waits in the modem');
    const got: number[] = [];
    while (got.length < 1000) {
      drain(uart, got);
      await time.advance(5);
    }
    assert.deepEqual(Uint8Array.from(got), pattern(1000));
    assert.equal(uart.counters.overrunBytes, 0);
  });

  it('RTS back: the modem continues at line rate from the moment the FIFO drains', async () => {
    const time = new VirtualTime();
    const uart = new SimUart(time, { baud: 115_200, rxFifoBytes: 256, burstBytes: 64, flowControl: 'rts-cts' });
    uart.modem.hardwareFlow = true;
    uart.modem.write(pattern(512));
    await time.advance(100);
    const held = uart.device.readable;
    const got: number[] = [];
    drain(uart, got);
    const t0 = time.now();
    await time.runUntil(() => uart.device.readable >= 64);
    // One 64-byte burst at 115200 baud: 64 * 10 / 115200 s after RTS came back.
    assert.ok(Math.abs(time.now() - t0 - (64 * 10 * 1000) / 115_200) < 1e-6, `${time.now() - t0} ms`);
    assert.equal(got.length, held);
  });

  for (const [what, wired, honoured] of [
    ['lines not wired on the board', 'none', true],
    ['modem not told (AT+IFC=0,0)', 'rts-cts', false],
  ] as const) {
    it(`${what}: bytes overrun the FIFO as without flow control`, async () => {
      const time = new VirtualTime();
      const uart = new SimUart(time, { rxFifoBytes: 256, flowControl: wired });
      const errors: string[] = [];
      uart.device.attach({ onError: (e) => errors.push(e.message) });
      uart.modem.hardwareFlow = honoured;
      uart.modem.write(pattern(1000));
      await time.runUntil(() => uart.counters.toHostBytes === 1000);
      assert.equal(uart.counters.overrunBytes, 744);
      assert.equal(uart.counters.ctsHolds, 0);
      assert.equal(errors.length, 1);
    });
  }

  it('the modem turning flow control off while held lets the bytes go (and overrun)', async () => {
    const time = new VirtualTime();
    const uart = new SimUart(time, { rxFifoBytes: 256, flowControl: 'rts-cts' });
    uart.modem.hardwareFlow = true;
    uart.modem.write(pattern(1000));
    await time.advance(500);
    assert.equal(uart.counters.overrunBytes, 0);
    uart.modem.hardwareFlow = false;
    await time.runUntil(() => uart.counters.toHostBytes === 1000);
    assert.ok(uart.counters.overrunBytes > 0);
  });

  it('refuses a threshold that leaves no room for the burst already on the wire', () => {
    assert.throws(() => new SimUart(new VirtualTime(), { rxFifoBytes: 256, burstBytes: 64, rtsThresholdBytes: 200, flowControl: 'rts-cts' }), /no room/);
  });
});

describe('sim-modem: AT+IFC', () => {
  for (const [model, saved] of [
    ['sim7080g', false],
    ['sim7600', true],
  ] as const) {
    it(`${model}: read form, RTS honoured after AT+IFC=2,2, ${saved ? 'kept' : 'back to 0,0'} after a reboot`, async () => {
      const time = new VirtualTime();
      const kit = createSimModem(time, { model, poweredOn: true, uart: { flowControl: 'rts-cts' } });
      const host = new ScriptHost(time, kit.serial);
      await host.cmd('ATE0');
      assert.match(await host.cmd('AT+IFC?'), /\+IFC: 0,0\r\n\r\nOK/);
      assert.equal(kit.uart.flowActive, false);
      assert.equal(await host.cmd('AT+IFC=2,2'), '\r\nOK\r\n');
      assert.match(await host.cmd('AT+IFC?'), /\+IFC: 2,2\r\n\r\nOK/);
      assert.equal(kit.uart.flowActive, true);
      assert.match(await host.cmd('AT+IFC=3,0'), /ERROR/);
      assert.match(await host.cmd('AT+IFC=?'), /\+IFC: \(0-2\),\(0-2\)/);
      kit.modem.setFaults({ rebootAt: time.now() + 10 });
      await time.advance(20_000);
      host.rx = [];
      await host.cmd('ATE0');
      assert.match(await host.cmd('AT+IFC?'), saved ? /\+IFC: 2,2/ : /\+IFC: 0,0/);
      assert.equal(kit.uart.flowActive, saved);
    });
  }
});

describe('sim-modem SIM7080G: AT+CAOPEN recv_mode 1 (+CAURC: "recv" pushes)', () => {
  async function open(options: { caRecvMode?: 'accept' | 'error' | 'result'; caurcAddress?: boolean } = {}) {
    const image = makeImage(20_000);
    const server = await startHttpLoopback({ body: image });
    const time = new VirtualTime();
    const kit = createSimModem(time, { model: 'sim7080g', server: server.endpoint, poweredOn: true, ...options });
    const host = new ScriptHost(time, kit.serial);
    await host.cmd('ATE0');
    await host.cmd('AT+CNACT=0,1');
    await host.until(/APP PDP: 0,ACTIVE/);
    host.rx = [];
    return { image, server, time, kit, host };
  }

  for (const address of [false, true]) {
    it(`pushes the response as +CAURC: "recv",0,<n>${address ? ',<ip>,<port>' : ''} blocks of <= 1460 bytes`, async () => {
      const { image, server, host } = await open({ caurcAddress: address });
      try {
        host.write(`AT+CAOPEN=0,0,"TCP","updates.example.com",${server.endpoint.port},1\r`);
        assert.match(await host.until(/OK\r\n$/), /\+CAOPEN: 0,0\r\n\r\nOK\r\n$/);
        host.rx = [];
        const request = 'GET /fw.bin HTTP/1.1\r\nHost: updates.example.com\r\n\r\n';
        host.write(`AT+CASEND=0,${request.length}\r`);
        await host.until(/> $/);
        host.rx = [];
        host.write(request);
        // Parse pushes until the whole body arrived.
        const body: number[] = [];
        let text = '';
        const header = address ? /^\r\n\+CAURC: "recv",0,(\d+),"203\.0\.113\.10",(\d+)\r\n/ : /^\r\n\+CAURC: "recv",0,(\d+)\r\n/;
        let stream: number[] = [];
        await host.until(() => {
          stream = stream.concat(host.rx);
          host.rx = [];
          for (;;) {
            // Skip the CASEND OK, which may come before or between pushes.
            const asText = Buffer.from(stream.slice(0, 80)).toString('latin1');
            if (asText.startsWith('\r\nOK\r\n')) {
              stream = stream.slice(6);
              continue;
            }
            const m = header.exec(asText);
            if (!m) break;
            const n = Number(m[1]);
            assert.ok(n >= 1 && n <= 1460, `block of ${n}`);
            if (address) assert.equal(Number(m[2]), server.endpoint.port);
            if (stream.length < m[0].length + n) break;
            body.push(...stream.slice(m[0].length, m[0].length + n));
            stream = stream.slice(m[0].length + n);
          }
          text = Buffer.from(body).toString('latin1');
          const end = text.indexOf('\r\n\r\n');
          return end >= 0 && body.length - end - 4 >= image.length;
        });
        const bodyStart = text.indexOf('\r\n\r\n') + 4;
        assert.match(text, /^HTTP\/1\.1 200/);
        assert.deepEqual(Uint8Array.from(body.slice(bodyStart)), image);
      } finally {
        await server.close();
      }
    });
  }

  it("knob 'error': recv_mode 1 answers ERROR; the same open without it works", async () => {
    const { server, host } = await open({ caRecvMode: 'error' });
    try {
      assert.equal(await host.cmd(`AT+CAOPEN=0,0,"TCP","updates.example.com",${server.endpoint.port},1`), '\r\nERROR\r\n');
      assert.match(await host.cmd(`AT+CAOPEN=0,0,"TCP","updates.example.com",${server.endpoint.port}`), /\+CAOPEN: 0,0/);
    } finally {
      await server.close();
    }
  });

  it("knob 'result': recv_mode 1 answers +CAOPEN: 0,4 (parameter invalid)", async () => {
    const { server, host } = await open({ caRecvMode: 'result' });
    try {
      assert.match(await host.cmd(`AT+CAOPEN=0,0,"TCP","updates.example.com",${server.endpoint.port},1`), /\+CAOPEN: 0,4\r\n\r\nOK/);
      assert.match(await host.cmd(`AT+CAOPEN=0,0,"TCP","updates.example.com",${server.endpoint.port},2`), /ERROR/);
    } finally {
      await server.close();
    }
  });
});
