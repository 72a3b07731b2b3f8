import assert from 'node:assert/strict';
import { startHttpLoopback } from '../../../tools/node/http-loopback.js';
import { createSimModem } from '../../../tools/devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { makeImage, readCounted, ScriptHost } from './sim-modem-host.js';

describe('sim-modem smoke', () => {
  it('SIM7080G SH* GET', async () => {
    const image = makeImage(5000);
    const server = await startHttpLoopback({ body: image });
    try {
      const time = new VirtualTime();
      const kit = createSimModem(time, { model: 'sim7080g', server: server.endpoint, poweredOn: true });
      const host = new ScriptHost(time, kit.serial);
      assert.equal(await host.cmd('AT'), 'AT\r\r\nOK\r\n');
      assert.equal(await host.cmd('ATE0'), 'ATE0\r\r\nOK\r\n');
      await host.cmd('AT+CNACT=0,1');
      await host.until(/APP PDP: 0,ACTIVE/);
      for (const c of ['AT+SHSSL=1,"ca.pem"', 'AT+SHCONF="URL","https://updates.example.com"', 'AT+SHCONF="BODYLEN",1024', 'AT+SHCONF="HEADERLEN",350', 'AT+SHCONN', 'AT+SHAHEAD="Range","bytes=0-2047"'])
        assert.equal(await host.cmd(c), '\r\nOK\r\n', c);
      assert.equal(await host.cmd('AT+SHREQ="/fw.bin",1'), '\r\nOK\r\n');
      const urc = await host.until(/\+SHREQ: .*\r\n/);
      assert.equal(urc, '\r\n+SHREQ: "GET",206,2048\r\n');
      host.take();
      host.write('AT+SHREAD=0,2048\r');
      const got = await host.bytes(6 + 17 + 2048 + 2);
      assert.equal(Buffer.from(got.subarray(0, 23)).toString('latin1'), '\r\nOK\r\n\r\n+SHREAD: 2048\r\n');
      assert.deepEqual(got.subarray(23, 23 + 2048), image.subarray(0, 2048));
    } finally {
      await server.close();
    }
  });

  it('SIM7080G SHREQ type 5 (HEAD): DataLen is the header block, SHREAD returns its text', async () => {
    const server = await startHttpLoopback({ body: makeImage(12_345), etag: '"v1"' });
    try {
      const time = new VirtualTime();
      const kit = createSimModem(time, { model: 'sim7080g', server: server.endpoint, poweredOn: true });
      const host = new ScriptHost(time, kit.serial);
      await host.cmd('ATE0');
      await host.cmd('AT+CNACT=0,1');
      await host.until(/ACTIVE\r\n/);
      host.take();
      for (const c of ['AT+SHCONF="URL","http://updates.example.com"', 'AT+SHCONF="BODYLEN",1024', 'AT+SHCONF="HEADERLEN",350', 'AT+SHCONN'])
        assert.equal(await host.cmd(c), '\r\nOK\r\n', c);
      await host.cmd('AT+SHREQ="/fw.bin",5');
      const m = /\+SHREQ: "HEAD",200,(\d+)/.exec(await host.until(/\+SHREQ: [^\r]*\r\n$/))!;
      host.take();
      host.write(`AT+SHREAD=0,${m[1]}\r`);
      const head = Buffer.from(await readCounted(host, /^\r\nOK\r\n\r\n\+SHREAD: (\d+)\r\n/, '\r\n')).toString('latin1');
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head, /\r\nContent-Length: 12345\r\n/);
      assert.match(head, /\r\nETag: "v1"\r\n/);
      assert.equal(server.requests[0].method, 'HEAD');
      assert.equal(server.requests[0].headers.host, 'updates.example.com');
    } finally {
      await server.close();
    }
  });

  it('SIM7600 AT+HTTPHEAD returns the response header block; BREAK/BREAKEND send a Range', async () => {
    const image = makeImage(5000);
    const server = await startHttpLoopback({ body: image });
    try {
      const time = new VirtualTime();
      const kit = createSimModem(time, { model: 'sim7600', server: server.endpoint, poweredOn: true });
      const host = new ScriptHost(time, kit.serial);
      await host.cmd('ATE0');
      for (const c of ['AT+HTTPINIT', 'AT+HTTPPARA="URL","http://updates.example.com/fw.bin"', 'AT+HTTPPARA="BREAK",100', 'AT+HTTPPARA="BREAKEND",199', 'AT+HTTPACTION=0'])
        assert.equal(await host.cmd(c), '\r\nOK\r\n', c);
      assert.equal(await host.until(/\+HTTPACTION: [^\r]*\r\n$/), '\r\n+HTTPACTION: 0,206,100\r\n');
      host.take();
      host.write('AT+HTTPHEAD\r');
      const head = Buffer.from(await readCounted(host, /^\r\n\+HTTPHEAD: DATA,(\d+)\r\n/, '\r\nOK\r\n')).toString('latin1');
      assert.match(head, /^HTTP\/1\.1 206 Partial Content\r\n/);
      assert.match(head, /Content-Range: bytes 100-199\/5000/);
      assert.equal(await host.cmd('AT+HTTPREAD?'), '\r\n+HTTPREAD: LEN,100\r\n\r\nOK\r\n');
      host.write('AT+HTTPREAD=100\r');
      assert.deepEqual(await readCounted(host, /^\r\nOK\r\n\r\n\+HTTPREAD: DATA,(\d+)\r\n/, '\r\n+HTTPREAD: 0\r\n'), image.subarray(100, 200));
      assert.equal(server.requests[0].headers.range, 'bytes=100-199');
    } finally {
      await server.close();
    }
  });
});
