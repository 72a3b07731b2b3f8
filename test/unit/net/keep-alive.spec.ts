/**
 * The socket HTTP client keeps one connection open between back-to-back GETs to the same origin
 * (the agent's download segment, cancel poll, next segment) and a report between them, so each
 * saves a TLS set-up; a kept connection found dead before any answer byte is replaced once for a
 * GET, never for a POST the dead connection took (it is not sent twice).
 */
import assert from 'node:assert/strict';
import type { Modem, ModemSocket } from '../../../src/modem/modem.js';
import { Sim7080 } from '../../../src/modem/sim7080.js';
import { SocketHttpClient } from '../../../src/net/modem-http.js';
import type { HttpRequest } from '../../../src/net/http.js';
import { RIG_CA, buildRig } from '../../../tools/bench/rig.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';

const ascii = (t: string) => new Uint8Array([...t].map((c) => c.charCodeAt(0)));

/** A socket that answers each request with one scripted response, or reads as closed. */
class ScriptedSocket implements ModemSocket {
  closed = false;
  writes: string[] = [];
  constructor(private readonly answers: (string | 'dead')[]) {}
  async write(bytes: Uint8Array): Promise<void> {
    this.writes.push(String.fromCharCode(...bytes));
  }
  async read(sink: (chunk: Uint8Array) => void | Promise<void>): Promise<number> {
    const next = this.answers.shift();
    if (next === undefined || next === 'dead') {
      this.closed = true;
      return 0;
    }
    await sink(ascii(next));
    return next.length;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

function fakeModem(sockets: ScriptedSocket[]): Modem & { opened: number } {
  const modem = {
    model: 'sim7080' as const,
    opened: 0,
    at: undefined as unknown as Modem['at'],
    native: undefined as unknown as Modem['native'],
    counters: { powerCycles: 0, starts: 0, bearerLosses: 0, resets: 0 },
    ready: async () => undefined,
    recover: async () => undefined,
    openSocket: async () => {
      const socket = sockets[modem.opened++];
      if (!socket) throw new Error('no more sockets');
      return socket;
    },
  };
  return modem;
}

const OK = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

async function get(client: SocketHttpClient, url: string, method: HttpRequest['method'] = 'GET'): Promise<string> {
  let text = '';
  await client.request({ method, url, body: method === 'POST' ? ascii('{}') : undefined }, { onData: (c) => void (text += String.fromCharCode(...c)) });
  return text;
}

describe('SocketHttpClient: one kept connection between back-to-back GETs', () => {
  it('reuses it for a GET to the same origin, without Connection: close', async () => {
    const time = new VirtualTime();
    const socket = new ScriptedSocket([OK('one'), OK('two')]);
    const modem = fakeModem([socket]);
    const client = new SocketHttpClient({ modem, clock: time.clockPort() });
    assert.equal(await get(client, 'https://a.example/x'), 'one');
    assert.equal(await get(client, 'https://a.example/y'), 'two');
    assert.equal(modem.opened, 1);
    assert.equal(client.reuse.reused, 1);
    assert.ok(!socket.writes.some((w) => /Connection: close/i.test(w)), socket.writes.join('|'));
  });

  it('a kept connection found dead before any answer byte: one new connection, the GET succeeds', async () => {
    const time = new VirtualTime();
    const first = new ScriptedSocket([OK('one'), 'dead']);
    const second = new ScriptedSocket([OK('two')]);
    const modem = fakeModem([first, second]);
    const client = new SocketHttpClient({ modem, clock: time.clockPort() });
    await get(client, 'https://a.example/x');
    assert.equal(await get(client, 'https://a.example/y'), 'two');
    assert.equal(modem.opened, 2);
    assert.deepEqual(client.reuse, { reused: 1, stale: 1 });
  });

  it('a POST rides a kept connection (a report after a segment: no new TLS set-up) and leaves it kept', async () => {
    const time = new VirtualTime();
    const socket = new ScriptedSocket([OK('seg'), OK('ack'), OK('poll')]);
    const modem = fakeModem([socket]);
    const client = new SocketHttpClient({ modem, clock: time.clockPort() });
    await get(client, 'https://a.example/segment');
    assert.equal(await get(client, 'https://a.example/feedback', 'POST'), 'ack');
    assert.equal(await get(client, 'https://a.example/poll'), 'poll');
    assert.equal(modem.opened, 1);
    assert.equal(client.reuse.reused, 2);
    assert.ok(!socket.writes.some((w) => /Connection: close/i.test(w)), socket.writes.join('|'));
  });

  it('a POST written on a kept connection that then turns out dead is not sent again (no duplicate report)', async () => {
    const time = new VirtualTime();
    const first = new ScriptedSocket([OK('seg'), 'dead']);
    const second = new ScriptedSocket([OK('never')]);
    const modem = fakeModem([first, second]);
    const client = new SocketHttpClient({ modem, clock: time.clockPort() });
    await get(client, 'https://a.example/segment');
    await assert.rejects(get(client, 'https://a.example/feedback', 'POST'), (e: unknown) => e instanceof Error && /body-truncated|closed/.test(e.message));
    assert.equal(modem.opened, 1);
    assert.equal(second.writes.length, 0);
  });

  it('not for another origin, not after 15 s idle, not after Connection: close', async () => {
    const time = new VirtualTime();
    const sockets = [
      new ScriptedSocket([OK('a')]),
      new ScriptedSocket([OK('b')]),
      new ScriptedSocket([OK('c', 'Connection: close\r\n')]),
      new ScriptedSocket([OK('d')]),
      new ScriptedSocket([OK('e')]),
    ];
    const modem = fakeModem(sockets);
    const client = new SocketHttpClient({ modem, clock: time.clockPort() });
    await get(client, 'https://a.example/1');
    await get(client, 'https://b.example/2'); // another origin: a's connection closed
    assert.equal(sockets[0].closed, true);
    await time.advance(16_000);
    await get(client, 'https://b.example/3'); // kept too long: a new one
    await get(client, 'https://b.example/4'); // the server said close
    assert.equal(modem.opened, 4);
    assert.equal(client.reuse.reused, 0);
    assert.equal(sockets[2].closed, true);
  });
});

describe('SocketHttpClient keep-alive through the simulated modem and a real server', function () {
  this.timeout(120_000);
  it('sim7080 TLS socket: two ranged GETs on one CAOPEN, byte-exact', async () => {
    const rig = await buildRig({ model: 'sim7080', transport: 'socket', baud: 115_200, size: 40_000 });
    try {
      const { time, uart, sim } = rig;
      const modem = new Sim7080({ serial: uart.device, clock: time.clockPort(), powerKey: sim.powerKey }, { caCert: RIG_CA, registrationPollMs: 1_000 });
      const client = new SocketHttpClient({ modem, clock: time.clockPort() });
      const parts: Uint8Array[] = [];
      for (const range of [{ start: 0, end: 19_999 }, { start: 20_000 }]) {
        await time.runFor(client.request({ method: 'GET', url: rig.url, range }, { onData: (c) => void parts.push(c.slice()) }), { untilMs: time.now() + 600_000 });
      }
      assert.ok(Buffer.concat(parts).equals(Buffer.from(rig.image)), 'byte-exact');
      assert.equal(client.reuse.reused, 1);
      assert.equal(sim.counters.requests, 1, 'one AT+CAOPEN');
      assert.equal(rig.server.log.length, 2);
    } finally {
      await rig.close();
    }
  });
});
