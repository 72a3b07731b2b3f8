/**
 * The simulated modem's TLS at the AT level: https:// and SSL sockets run a real handshake with the
 * loopback server (its TLS handshake counter moves), http:// and plain sockets do not, and TLS
 * without a usable CA is refused before any connection, as before real TLS (simcom-at.md §4.1,
 * §4.2, §5.1).
 */
import assert from 'node:assert/strict';
import { startHttpLoopback, type HttpLoopback } from '../../../tools/node/http-loopback.js';
import { createSimModem, type ModemModel } from '../../../tools/devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { ccertdown, makeImage, ScriptHost } from './sim-modem-host.js';

const PATH = '/fw/app.bin';
const image = makeImage(5_000, 4);

async function rig(model: ModemModel): Promise<{ host: ScriptHost; server: HttpLoopback }> {
  const server = await startHttpLoopback({ body: image, path: PATH });
  const time = new VirtualTime();
  const kit = createSimModem(time, { model, server: server.endpoint, poweredOn: true });
  const host = new ScriptHost(time, kit.serial);
  await host.cmd('ATE0');
  return { host, server };
}

async function ok(host: ScriptHost, line: string): Promise<void> {
  const r = await host.cmd(line);
  assert.match(r, /\r\nOK\r\n$/, `${line} -> ${JSON.stringify(r)}`);
}

async function sim7080Bearer(host: ScriptHost): Promise<void> {
  await ok(host, 'AT+CNACT=0,1');
  await host.until(/\+APP PDP: 0,ACTIVE\r\n/);
  host.take();
}

async function sim7600Http(host: ScriptHost, url: string, ssl: string[]): Promise<string> {
  for (const c of [...ssl, 'AT+HTTPINIT', `AT+HTTPPARA="URL","${url}"`, 'AT+HTTPPARA="SSLCFG",0', 'AT+HTTPPARA="USERDATA","Range: bytes=0-99"', 'AT+HTTPACTION=0']) await ok(host, c);
  return host.until(/\+HTTPACTION: [^\r]*\r\n/);
}

describe('sim-modem: TLS on the loopback connections', function () {
  this.timeout(60_000);

  it('SIM7080G: SHCONN to https:// runs a verified handshake; http:// stays plain TCP', async () => {
    const { host, server } = await rig('sim7080g');
    try {
      await sim7080Bearer(host);
      for (const c of ['AT+SHSSL=1,"ca.pem"', 'AT+SHCONF="URL","https://updates.example.com"', 'AT+SHCONF="BODYLEN",1024', 'AT+SHCONF="HEADERLEN",350', 'AT+SHCONN', `AT+SHREQ="${PATH}",1`]) await ok(host, c);
      assert.equal(await host.until(/\+SHREQ: [^\r]*\r\n/), `\r\n+SHREQ: "GET",200,${image.length}\r\n`);
      // The server has answered, so it completed the handshake of that request (SHCONN's own probe
      // may close before the server sees its last handshake message).
      assert.ok(server.tls.handshakes >= 1, 'SHREQ ran over TLS');
      await ok(host, 'AT+SHDISC');
      const before = server.tls.handshakes;
      for (const c of ['AT+SHCONF="URL","http://updates.example.com"', 'AT+SHCONN', `AT+SHREQ="${PATH}",1`]) await ok(host, c);
      assert.equal(await host.until(/\+SHREQ: [^\r]*\r\n/), `\r\n+SHREQ: "GET",200,${image.length}\r\n`);
      assert.equal(server.tls.handshakes, before, 'no TLS for http://');
      assert.equal(server.requests.length, 2);
    } finally {
      await server.close();
    }
  });

  it('SIM7080G: a CA file never uploaded, or uploaded but not converted, is refused without connecting', async () => {
    const { host, server } = await rig('sim7080g');
    try {
      await sim7080Bearer(host);
      for (const c of ['AT+CACID=0', 'AT+CASSLCFG=0,"SSL",1', 'AT+CASSLCFG=0,"CRINDEX",1', 'AT+CASSLCFG=0,"CACERT","missing.pem"']) await ok(host, c);
      assert.equal(await host.cmd('AT+CAOPEN=0,0,"TCP","updates.example.com",443'), '\r\n+CAOPEN: 0,27\r\n\r\nOK\r\n');
      // Written with CFSWFILE but never CSSLCFG="convert": not in the CA store yet (§4.1).
      const pem = new TextEncoder().encode('x');
      host.write(`AT+CFSWFILE=3,"fresh.pem",0,${pem.length},10000\r`);
      await host.until(/DOWNLOAD\r\n$/);
      host.write(pem);
      await host.until(/OK\r\n$/);
      host.take();
      for (const c of ['AT+SHSSL=1,"fresh.pem"', 'AT+SHCONF="URL","https://updates.example.com"', 'AT+SHCONF="BODYLEN",1024', 'AT+SHCONF="HEADERLEN",350']) await ok(host, c);
      assert.match(await host.cmd('AT+SHCONN'), /\r\nERROR\r\n$/);
      assert.match(await host.cmd('AT+CSSLCFG="convert",2,"fresh.pem"'), /\r\nERROR\r\n$/, 'one byte is no certificate');
      assert.equal(server.tls.handshakes, 0);
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });

  it('SIM7600: HTTPS with the test CA runs a handshake; without a CA (or authmode 0) 719 CA missed, no connection', async () => {
    const { host, server } = await rig('sim7600');
    try {
      assert.equal(await sim7600Http(host, `https://updates.example.com${PATH}`, ['AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="cacert",0,"ca.pem"']), '\r\n+HTTPACTION: 0,719,0\r\n');
      await ok(host, 'AT+HTTPTERM');
      await ok(host, 'AT+CSSLCFG="authmode",0,0');
      await ccertdown(host);
      assert.equal(await sim7600Http(host, `https://updates.example.com${PATH}`, []), '\r\n+HTTPACTION: 0,719,0\r\n', 'authmode 0 does not verify: refused');
      assert.equal(server.tls.handshakes, 0);
      await ok(host, 'AT+HTTPTERM');
      assert.equal(await sim7600Http(host, `https://updates.example.com${PATH}`, ['AT+CSSLCFG="authmode",0,1']), '\r\n+HTTPACTION: 0,206,100\r\n');
      assert.equal(server.tls.handshakes, 1);
      await ok(host, 'AT+HTTPTERM');
      assert.equal(await sim7600Http(host, `http://updates.example.com${PATH}`, []), '\r\n+HTTPACTION: 0,206,100\r\n');
      assert.equal(server.tls.handshakes, 1, 'no TLS for http://');
    } finally {
      await server.close();
    }
  });

  it('SIM7600: CCHOPEN TLS without a certificate answers 19; with it, a verified handshake', async () => {
    const { host, server } = await rig('sim7600');
    try {
      for (const c of ['AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="cacert",0,"ca.pem"', 'AT+CCHSET=1,1', 'AT+CCHSTART']) await ok(host, c);
      await host.until(/\+CCHSTART: 0\r\n/);
      host.take();
      await ok(host, 'AT+CCHSSLCFG=0,0');
      await ok(host, 'AT+CCHOPEN=0,"updates.example.com",443,2');
      assert.equal(await host.until(/\+CCHOPEN: [^\r]*\r\n/), '\r\n+CCHOPEN: 0,19\r\n');
      assert.equal(server.tls.handshakes, 0);
      await ccertdown(host);
      await ok(host, 'AT+CCHOPEN=0,"updates.example.com",443,2');
      assert.equal(await host.until(/\+CCHOPEN: [^\r]*\r\n/), '\r\n+CCHOPEN: 0,0\r\n');
      assert.equal(server.tls.handshakes, 1);
    } finally {
      await server.close();
    }
  });
});
