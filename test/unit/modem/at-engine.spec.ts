/**
 * The AT engine (src/modem/at-engine.ts) against a scripted modem in virtual time: results, echo,
 * URCs anywhere, OK-before-data reads, prompts, backpressure, timeouts and resync, and a seeded
 * fuzz of payloads and URCs that must never be mistaken for results.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AtEngine } from '../../../src/modem/at-engine.js';
import { isOtaError } from '../../../src/util/errors.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { FakeSerial, ascii, testImage } from './support.js';

/** A modem that answers each command line with the bursts `reply(cmd)` returns, 5 ms apart. */
function scripted(reply: (cmd: string) => (string | Uint8Array)[] | undefined) {
  const time = new VirtualTime();
  const serial = new FakeSerial();
  const commands: string[] = [];
  let pending = '';
  let expectPayload = 0;
  serial.onWrite = (bytes) => {
    for (const b of bytes) {
      if (expectPayload > 0) {
        expectPayload--;
        if (expectPayload === 0) time.after(5, () => serial.feed(ascii('\r\nOK\r\n')));
        continue;
      }
      if (b !== 13) {
        pending += String.fromCharCode(b);
        continue;
      }
      const cmd = pending;
      pending = '';
      commands.push(cmd);
      const m = /^AT\+CASEND=0,(\d+)$/.exec(cmd);
      if (m) expectPayload = Number(m[1]);
      const bursts = reply(cmd) ?? [];
      bursts.forEach((burst, i) => time.after(5 * (i + 1), () => serial.feed(typeof burst === 'string' ? ascii(burst) : burst)));
    }
  };
  const at = new AtEngine({ serial, clock: time.clockPort() });
  return { time, serial, at, commands };
}

describe('modem/at-engine AtEngine', () => {
  it('collects information lines and completes on OK; drops its own echo', async () => {
    const { time, at } = scripted((cmd) => (cmd === 'AT+CPIN?' ? ['AT+CPIN?\r', '\r\n+CPIN: READY\r\n', '\r\nOK\r\n'] : undefined));
    const r = await time.runFor(at.command('AT+CPIN?', { prefixes: ['+CPIN:'] }));
    assert.deepEqual(r.lines, ['+CPIN: READY']);
    assert.equal(at.echo, true);
  });

  it('rejects ERROR as at-error and +CME ERROR with the code as detail', async () => {
    const { time, at } = scripted((cmd) => (cmd === 'AT+X' ? ['\r\nERROR\r\n'] : ['\r\n+CME ERROR: SIM busy\r\n']));
    await assert.rejects(time.runFor(at.command('AT+X')), (e: unknown) => isOtaError(e, 'at-error'));
    await assert.rejects(time.runFor(at.command('AT+CPIN?')), (e: unknown) => isOtaError(e, 'cme-error') && e.detail === 'SIM busy');
  });

  it('dispatches URCs that arrive before, inside and after a response', async () => {
    const { time, at } = scripted(() => ['\r\n+CEREG: 2\r\n', '\r\n+CSQ: 17,99\r\n+CADATAIND: 0\r\n', '\r\nOK\r\n', '\r\n+APP PDP: 0,DEACTIVE\r\n']);
    const urcs: string[] = [];
    at.onUrc('+CEREG:', (l) => urcs.push(l));
    at.onUrc('+CADATAIND:', (l) => urcs.push(l));
    at.onUrc('+APP PDP:', (l) => urcs.push(l));
    const r = await time.runFor(at.command('AT+CSQ', { prefixes: ['+CSQ:'] }));
    await time.advance(100);
    assert.deepEqual(r.lines, ['+CSQ: 17,99']);
    assert.deepEqual(urcs, ['+CEREG: 2', '+CADATAIND: 0', '+APP PDP: 0,DEACTIVE']);
  });

  it('waits past OK for the SHREAD data, with a URC between OK and the data (H7080)', async () => {
    const body = testImage(3000);
    const { time, at } = scripted(() => ['\r\nOK\r\n', '\r\n*PSUTTZ: 26/11/24\r\n', '\r\n+SHREAD: 2048\r\n', body.subarray(0, 1000), body.subarray(1000, 2048), '\r\n\r\n+SHREAD: 952\r\n', body.subarray(2048), '\r\n']);
    const got: number[] = [];
    const urcs: string[] = [];
    at.onUrc('*PSUTTZ', (l) => urcs.push(l));
    const r = await time.runFor(at.command('AT+SHREAD=0,3000', { data: { onData: (c) => void got.push(...c) }, done: (n) => n >= 3000 }));
    assert.equal(r.received, 3000);
    assert.deepEqual(new Uint8Array(got), body);
    assert.deepEqual(urcs, ['*PSUTTZ: 26/11/24']);
  });

  it('ends an HTTPREAD at +HTTPREAD: 0 after DATA blocks (H7600)', async () => {
    const body = testImage(1500, 7);
    const { time, at } = scripted(() => ['\r\nOK\r\n', '\r\n+HTTPREAD: DATA,1024\r\n', body.subarray(0, 1024), '\r\n+HTTPREAD: DATA,476\r\n', body.subarray(1024), '\r\n+HTTPREAD: 0\r\n']);
    const got: number[] = [];
    const r = await time.runFor(at.command('AT+HTTPREAD=0,1500', { until: '+HTTPREAD: 0', data: { onData: (c) => void got.push(...c) } }));
    assert.equal(r.received, 1500);
    assert.deepEqual(new Uint8Array(got), body);
  });

  it('sends the payload at the > prompt (AT+CASEND)', async () => {
    const { time, at, serial } = scripted((cmd) => (cmd.startsWith('AT+CASEND') ? ['\r\n> '] : undefined));
    await time.runFor(at.command('AT+CASEND=0,5', { payload: ascii('hello') }));
    assert.equal(String.fromCharCode(...serial.written), 'AT+CASEND=0,5\rhello');
  });

  it('pauses reading while the sink works (backpressure) and keeps the chunk valid', async () => {
    const body = testImage(2048, 3);
    const { time, at } = scripted(() => ['\r\nOK\r\n', '\r\n+SHREAD: 2048\r\n', body, '\r\n']);
    const got: number[] = [];
    const r = await time.runFor(
      at.command('AT+SHREAD=0,2048', {
        timeoutMs: 1000,
        done: (n) => n >= 2048,
        data: {
          onData: (chunk) =>
            new Promise<void>((resolve) =>
              time.after(5000, () => {
                got.push(...chunk); // still valid: the engine read nothing meanwhile
                resolve();
              }),
            ),
        },
      }),
    );
    assert.equal(r.received, 2048);
    assert.deepEqual(new Uint8Array(got), body);
  });

  it('times out, then resyncs with AT before the next command', async () => {
    const { time, at, commands } = scripted((cmd) => (cmd === 'AT+SLOW' ? [] : ['\r\nOK\r\n']));
    await assert.rejects(time.runFor(at.command('AT+SLOW', { timeoutMs: 1000 })), (e: unknown) => isOtaError(e, 'at-timeout'));
    await time.runFor(at.command('AT+CSQ'));
    assert.deepEqual(commands, ['AT+SLOW', 'AT', 'AT', 'AT+CSQ']);
    assert.equal(at.stats.resyncs, 1);
  });

  it('reports modem-unresponsive when resync gets no answer', async () => {
    const { time, at } = scripted(() => []);
    await assert.rejects(time.runFor(at.command('AT+X', { timeoutMs: 100 })), (e: unknown) => isOtaError(e, 'at-timeout'));
    await assert.rejects(time.runFor(at.command('AT+Y')), (e: unknown) => isOtaError(e, 'modem-unresponsive'));
  });

  it('skips a payload nobody asked for by count (a late reply after a timeout)', async () => {
    const body = ascii('\r\nOK\r\n\r\nOK\r\n');
    const { time, at, serial } = scripted(() => ['\r\nOK\r\n']);
    serial.feed(ascii(`\r\n+SHREAD: ${body.length}\r\n`));
    serial.feed(body);
    const r = await time.runFor(at.command('AT'));
    assert.equal(r.received, 0);
    assert.equal(at.stats.discardedBytes, body.length);
  });

  it('fails the command with the sink error once the response ended, and stays in sync', async () => {
    const { time, at } = scripted((cmd) => (cmd.startsWith('AT+SHREAD') ? ['\r\nOK\r\n', '\r\n+SHREAD: 4\r\n', 'OK\r\n', '\r\n'] : ['\r\nOK\r\n']));
    await assert.rejects(
      time.runFor(at.command('AT+SHREAD=0,4', { done: (n) => n >= 4, data: { onData: () => { throw new Error('flash full'); } } })),
      /flash full/,
    );
    await time.runFor(at.command('AT'));
  });

  it('fuzz: random payloads with URCs around them are delivered exactly, never read as results (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 3000 }),
        fc.array(fc.constantFrom('+CEREG: 1', '+CADATAIND: 0', 'RDY', '*PSUTTZ: x', '+APP PDP: 0,ACTIVE', 'SMS Ready'), { maxLength: 4 }),
        fc.integer({ min: 1, max: 700 }),
        async (payload, urcs, step) => {
          const urcText = urcs.map((u) => `\r\n${u}\r\n`).join('');
          const stream = [ascii('\r\nOK\r\n' + urcText + `\r\n+SHREAD: ${payload.length}\r\n`), payload, ascii('\r\n' + urcText)];
          const flat = new Uint8Array(stream.reduce((n, s) => n + s.length, 0));
          let o = 0;
          for (const s of stream) flat.set(s, (o += s.length) - s.length);
          const bursts: Uint8Array[] = [];
          for (let i = 0; i < flat.length; i += step) bursts.push(flat.subarray(i, i + step));
          const { time, at } = scripted(() => bursts);
          const seen: string[] = [];
          for (const u of ['+CEREG', '+CADATAIND', 'RDY', '*PSUTTZ', '+APP PDP', 'SMS Ready']) at.onUrc(u, (l) => seen.push(l));
          const got: number[] = [];
          const r = await time.runFor(at.command('AT+SHREAD=0,1', { data: { onData: (c) => void got.push(...c) }, done: (n) => n >= payload.length }), { maxEvents: 100_000 });
          await time.advance(1000);
          assert.equal(r.received, payload.length);
          assert.deepEqual(new Uint8Array(got), payload);
          assert.deepEqual(seen, [...urcs, ...urcs]);
          return true;
        },
      ),
      { seed: 0xa7, numRuns: 150 },
    );
  });

  it('fuzz: +CAURC: "recv" pushes interleaved with URCs and a command response are delivered exactly, in order (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 1460 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.constantFrom('+CEREG: 1', '*PSUTTZ: x', '+APP PDP: 0,ACTIVE', 'SMS Ready'), { maxLength: 5 }),
        fc.integer({ min: 0, max: 5 }),
        fc.integer({ min: 1, max: 700 }),
        async (blocks, urcs, responseAt, step) => {
          // Pushes, URCs and the AT+CSQ response (an info line and OK) in one stream; the payloads
          // hold `\r\nOK\r\n` look-alikes only by chance, the headers are what frames them.
          const parts: Uint8Array[] = [];
          blocks.forEach((block, i) => {
            if (i === responseAt) parts.push(ascii('\r\n+CSQ: 17,99\r\n\r\nOK\r\n'));
            if (urcs[i]) parts.push(ascii(`\r\n${urcs[i]}\r\n`));
            parts.push(ascii(`\r\n+CAURC: "recv",0,${block.length}${i % 2 ? ',"203.0.113.10",443' : ''}\r\n`), block);
          });
          if (responseAt >= blocks.length) parts.push(ascii('\r\n+CSQ: 17,99\r\n\r\nOK\r\n'));
          const flat = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let o = 0;
          for (const p of parts) flat.set(p, (o += p.length) - p.length);
          const bursts: Uint8Array[] = [];
          for (let i = 0; i < flat.length; i += step) bursts.push(flat.subarray(i, i + step));
          const { time, at } = scripted((cmd) => (cmd === 'AT+CSQ' ? bursts : undefined));
          const seen: string[] = [];
          for (const u of ['+CEREG', '*PSUTTZ', '+APP PDP', 'SMS Ready']) at.onUrc(u, (l) => seen.push(l));
          const headers: number[] = [];
          const got: number[] = [];
          at.onDataUrc('+CAURC: "recv",0,', { onHeader: (_l, n) => void headers.push(n), onData: (c) => void got.push(...c) });
          const r = await time.runFor(at.command('AT+CSQ', { prefixes: ['+CSQ:'] }), { maxEvents: 100_000 });
          await time.advance(1000);
          assert.deepEqual(r.lines, ['+CSQ: 17,99']);
          assert.deepEqual(headers, blocks.map((b) => b.length));
          assert.deepEqual(new Uint8Array(got), new Uint8Array(blocks.flatMap((b) => [...b])));
          assert.deepEqual(seen, urcs.slice(0, blocks.length));
          return true;
        },
      ),
      { seed: 0xca, numRuns: 150 },
    );
  });

  it('a command that times out behind pushed data nobody reads voids the push (onLoss), and the link goes on', async () => {
    const { time, at } = scripted((cmd) => (cmd === 'AT+CASEND=0,5' ? ['\r\n+CAURC: "recv",0,3\r\nabc', '\r\n> '] : ['\r\nOK\r\n']));
    let release: (() => void) | undefined;
    const losses: string[] = [];
    at.onDataUrc('+CAURC: "recv",0,', { onData: () => new Promise<void>((resolve) => (release = resolve)) });
    at.onLoss = (message) => {
      losses.push(message);
      release?.(); // what the socket's pushLost does: the waiting push is let go
    };
    await assert.rejects(time.runFor(at.command('AT+CASEND=0,5', { payload: ascii('hello'), timeoutMs: 1_000 })), (e: unknown) => isOtaError(e, 'at-timeout'));
    assert.equal(losses.length, 1);
    assert.match(losses[0], /pushed data waited/);
    await time.runFor(at.command('AT', { timeoutMs: 1_000 }));
  });

  it('fuzz: garbage before a response never hangs the engine (seeded)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), async (garbage) => {
        const { time, at } = scripted(() => [garbage, '\r\n\r\nOK\r\n']);
        try {
          await time.runFor(at.command('AT', { timeoutMs: 2000 }), { maxEvents: 10_000 });
        } catch (error) {
          // Garbage may legitimately look like a header (then the OK is payload) or an ERROR line:
          // the outcome must be a typed error, never a hang.
          assert.ok(isOtaError(error), String(error));
        }
        return true;
      }),
      { seed: 0xbad, numRuns: 300 },
    );
  });
});
