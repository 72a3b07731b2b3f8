/**
 * POST through the agent's SIM7600 drivers against the simulated modem: a hawkBit feedback
 * (JSON body, `Authorization: TargetToken …`, `Content-Type: application/json`, `Accept`) over the
 * built-in HTTP client (AT+HTTPPARA / AT+HTTPDATA / AT+HTTPACTION=1, simcom-at.md §4.2) and over the
 * CCH* socket. The server sees the exact body and each header once.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import type { HttpClient } from '../../../src/net/http.js';
import { NativeHttpClient, SocketHttpClient } from '../../../src/net/modem-http.js';
import { buildRig, RIG_CA, type Rig } from '../../../tools/bench/rig.js';
import { acceptTls } from '../../../tools/node/test-pki.js';

interface Seen {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string[];
  body: Buffer;
}

/** Records every request and answers 200 with a small JSON body. */
async function echoServer(): Promise<{ port: number; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw: req.rawHeaders, body: Buffer.concat(parts) });
      const answer = Buffer.from('{"ok":true}');
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(answer.length) }).end(answer);
    });
  });
  acceptTls(server); // https:// through the modem: TLS with the test certificate on the same port
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const FEEDBACK = JSON.stringify({ id: '1', status: { execution: 'proceeding', result: { finished: 'none' }, details: ['accepted: target 1.3.0+5, running 1.2.3+4'] } });
const HEADERS = { accept: 'application/json', authorization: 'TargetToken 4f2a9c0e7b1d', 'content-type': 'application/json' };

/** How many times a header name occurs in the raw request (case-insensitive). */
function count(s: Seen, name: string): number {
  let n = 0;
  for (let i = 0; i < s.raw.length; i += 2) if (s.raw[i].toLowerCase() === name) n++;
  return n;
}

async function post(rig: Rig, client: HttpClient, url: string) {
  const chunks: Uint8Array[] = [];
  let status = 0;
  const body = new TextEncoder().encode(FEEDBACK);
  await rig.time.runFor(
    client.request({ method: 'POST', url, headers: HEADERS, body }, { onHead: (h) => void (status = h.status), onData: (c) => void chunks.push(c.slice()) }),
    { untilMs: 300_000 },
  );
  return { status, answer: Buffer.concat(chunks).toString('latin1') };
}

describe('net/modem-http: POST with a JSON body through the simulated SIM7600', function () {
  this.timeout(120_000);
  for (const transport of ['native', 'socket'] as const) {
    it(`${transport === 'native' ? 'HTTP* (NativeHttpClient)' : 'CCH* socket (SocketHttpClient)'}: body and headers reach the server once each, then a GET without them`, async () => {
      const echo = await echoServer();
      const rig = await buildRig({ model: 'sim7600', transport, baud: 115_200, size: 16, sim: { resolve: () => ({ host: '127.0.0.1', port: echo.port }) } });
      try {
        const modem = new Sim7600({ serial: rig.uart.device, clock: rig.time.clockPort(), powerKey: rig.sim.powerKey }, { caCert: RIG_CA, registrationPollMs: 1_000 });
        const clock = rig.time.clockPort();
        const client = transport === 'native' ? new NativeHttpClient({ modem, clock }) : new SocketHttpClient({ modem, clock });
        await rig.time.runFor(modem.ready(), { untilMs: 300_000 });
        const url = 'https://hawkbit.example.com/DEFAULT/controller/v1/dev-1/deploymentBase/1/feedback';
        for (let round = 0; round < 2; round++) {
          const r = await post(rig, client, url);
          assert.equal(r.status, 200);
          assert.equal(r.answer, '{"ok":true}');
          const s = echo.seen[round];
          assert.equal(s.method, 'POST');
          assert.equal(s.path, '/DEFAULT/controller/v1/dev-1/deploymentBase/1/feedback');
          assert.equal(s.body.toString('latin1'), FEEDBACK);
          assert.equal(s.headers['content-length'], String(FEEDBACK.length));
          for (const [name, value] of Object.entries(HEADERS)) {
            assert.equal(s.headers[name], value, name);
            assert.equal(count(s, name), 1, `${name} once`);
          }
        }
        // A GET afterwards in the same session: the modem keeps ACCEPT, the driver sets it back.
        let status = 0;
        await rig.time.runFor(client.request({ method: 'GET', url, headers: { authorization: HEADERS.authorization } }, { onHead: (h) => void (status = h.status), onData: () => undefined }), { untilMs: 300_000 });
        assert.equal(status, 200);
        const g = echo.seen[2];
        assert.equal(g.method, 'GET');
        assert.equal(g.body.length, 0);
        assert.equal(g.headers['content-type'], undefined);
        assert.equal(g.headers.authorization, HEADERS.authorization);
        if (transport === 'native') assert.equal(g.headers.accept, '*/*');
        else assert.equal(g.headers.accept, undefined);
      } finally {
        await rig.close();
        await echo.close();
      }
    });
  }
});
