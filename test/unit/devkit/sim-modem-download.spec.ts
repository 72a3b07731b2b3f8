/**
 * 1 MiB ranged downloads through each personality's built-in HTTP stack and socket stack, to the
 * loopback server, byte exact, driven by tiny scripted AT sequences (the real driver is src/modem).
 */
import assert from 'node:assert/strict';
import { startHttpLoopback, type HttpLoopback } from '../../../tools/node/http-loopback.js';
import { createSimModem, type ModemModel, type SimModemKit } from '../../../tools/devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { ccertdown, makeImage, readCounted, ScriptHost } from './sim-modem-host.js';

const MiB = 1 << 20;
const PATH = '/fw/big.bin';

async function rig(model: ModemModel, image: Uint8Array): Promise<{ time: VirtualTime; kit: SimModemKit; host: ScriptHost; server: HttpLoopback }> {
  const server = await startHttpLoopback({ body: image, path: PATH });
  const time = new VirtualTime();
  const kit = createSimModem(time, { model, server: server.endpoint, poweredOn: true });
  const host = new ScriptHost(time, kit.serial);
  assert.match(await host.cmd('ATE0'), /OK/);
  return { time, kit, host, server };
}

async function ok(host: ScriptHost, line: string): Promise<void> {
  const r = await host.cmd(line);
  assert.match(r, /\r\nOK\r\n$/, `${line} -> ${JSON.stringify(r)}`);
}

/** Parses an HTTP/1.1 response head; returns status, content-length and head length. */
function head(bytes: Uint8Array): { status: number; length: number; headLength: number } | undefined {
  const text = Buffer.from(bytes).toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)![1]);
  const length = Number(/\r\nContent-Length: (\d+)/i.exec(text.slice(0, end))![1]);
  return { status, length, headLength: end + 4 };
}

describe('sim-modem: 1 MiB ranged downloads, byte exact', function () {
  this.timeout(120_000);
  const image = makeImage(MiB, 3);

  it('SIM7080G built-in HTTP (AT+SH*), 32 KiB windows, 2048-byte SHREADs', async () => {
    const { time, kit, host, server } = await rig('sim7080g', image);
    try {
      await ok(host, 'AT+CNACT=0,1');
      await host.until(/\+APP PDP: 0,ACTIVE\r\n/);
      host.take();
      for (const c of ['AT+CSSLCFG="sslversion",1,3', 'AT+SHSSL=1,"ca.pem"', 'AT+SHCONF="URL","https://updates.example.com"', 'AT+SHCONF="BODYLEN",1024', 'AT+SHCONF="HEADERLEN",350', 'AT+SHCONN'])
        await ok(host, c);
      const got = new Uint8Array(MiB);
      const window = 32 * 1024;
      const t0 = time.now();
      for (let off = 0; off < MiB; off += window) {
        await ok(host, 'AT+SHCHEAD');
        await ok(host, `AT+SHAHEAD="Range","bytes=${off}-${off + window - 1}"`);
        await ok(host, `AT+SHREQ="${PATH}",1`);
        const urc = await host.until(/\+SHREQ: "GET",\d+,\d+\r\n/);
        assert.equal(urc, `\r\n+SHREQ: "GET",206,${window}\r\n`);
        host.take();
        for (let r = 0; r < window; r += 2048) {
          host.write(`AT+SHREAD=${r},2048\r`);
          got.set(await readCounted(host, /^\r\nOK\r\n\r\n\+SHREAD: (\d+)\r\n/, '\r\n'), off + r);
        }
      }
      assert.ok(Buffer.from(got).equals(Buffer.from(image)), 'image differs');
      const c = kit.counters();
      assert.equal(c.requests, MiB / window);
      // UART bound: >= 1 MiB at 11,520 B/s.
      assert.ok(time.now() - t0 > (MiB / 11_520) * 1000);
      assert.equal(server.requests.length, MiB / window);
    } finally {
      await server.close();
    }
  });

  async function socketWindows(host: ScriptHost, send: (req: string) => Promise<void>, recv: () => Promise<Uint8Array>, got: Uint8Array, window: number) {
    for (let off = 0; off < MiB; off += window) {
      await send(`GET ${PATH} HTTP/1.1\r\nHost: updates.example.com\r\nRange: bytes=${off}-${off + window - 1}\r\nConnection: keep-alive\r\n\r\n`);
      let buf = new Uint8Array(0);
      for (;;) {
        const h = head(buf);
        if (h && buf.length >= h.headLength + h.length) {
          assert.equal(h.status, 206);
          got.set(buf.subarray(h.headLength, h.headLength + h.length), off);
          break;
        }
        const part = await recv();
        buf = Buffer.concat([buf, part]);
      }
    }
  }

  it('SIM7080G TLS socket (AT+CA*), host-written Range requests, 1460-byte CARECVs', async () => {
    const { host, server } = await rig('sim7080g', image);
    try {
      await ok(host, 'AT+CNACT=0,1');
      await host.until(/\+APP PDP: 0,ACTIVE\r\n/);
      host.take();
      for (const c of ['AT+CACID=0', 'AT+CASSLCFG=0,"SSL",1', 'AT+CASSLCFG=0,"CRINDEX",1', 'AT+CASSLCFG=0,"CACERT","ca.pem"']) await ok(host, c);
      assert.equal(await host.cmd('AT+CAOPEN=0,0,"TCP","updates.example.com",443'), '\r\n+CAOPEN: 0,0\r\n\r\nOK\r\n');
      const got = new Uint8Array(MiB);
      await socketWindows(
        host,
        async (req) => {
          host.take();
          host.write(`AT+CASEND=0,${req.length}\r`);
          await host.until(/\r\n> $/);
          host.take();
          host.write(req);
          await host.until(/\r\nOK\r\n$/);
          host.take();
        },
        async () => {
          // Wait for +CADATAIND when nothing is buffered (an empty read returns 0 bytes).
          for (;;) {
            host.write('AT+CARECV=0,1460\r');
            const data = await readCounted(host, /^(?:\r\n\+CADATAIND: 0\r\n)?\r\n\+CARECV: (\d+),/, '\r\nOK\r\n');
            if (data.length > 0) return data;
            await host.until(/\+CADATAIND: 0\r\n/);
            host.take();
          }
        },
        got,
        64 * 1024,
      );
      assert.ok(Buffer.from(got).equals(Buffer.from(image)), 'image differs');
    } finally {
      await server.close();
    }
  });

  it('SIM7600 built-in HTTP (AT+HTTP*), 64 KiB USERDATA Range windows, 1024-byte DATA blocks', async () => {
    const { kit, host, server } = await rig('sim7600', image);
    try {
      kit.modem.setFaults({});
      for (const c of ['AT+CSSLCFG="sslversion",0,3', 'AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="cacert",0,"ca.pem"']) {
        // The certificate must be downloaded first on this model.
        if (c.includes('cacert')) await ccertdown(host);
        await ok(host, c);
      }
      await ok(host, 'AT+HTTPINIT');
      await ok(host, `AT+HTTPPARA="URL","https://updates.example.com${PATH}"`);
      await ok(host, 'AT+HTTPPARA="SSLCFG",0');
      const got = new Uint8Array(MiB);
      const window = 64 * 1024;
      for (let off = 0; off < MiB; off += window) {
        await ok(host, `AT+HTTPPARA="USERDATA","Range: bytes=${off}-${off + window - 1}"`);
        await ok(host, 'AT+HTTPACTION=0');
        assert.equal(await host.until(/\+HTTPACTION: .*\r\n/), `\r\n+HTTPACTION: 0,206,${window}\r\n`);
        host.take();
        for (let r = 0; r < window; r += 1024) {
          host.write(`AT+HTTPREAD=${r},1024\r`);
          got.set(await readCounted(host, /^\r\nOK\r\n\r\n\+HTTPREAD: DATA,(\d+)\r\n/, '\r\n+HTTPREAD: 0\r\n'), off + r);
        }
      }
      assert.ok(Buffer.from(got).equals(Buffer.from(image)), 'image differs');
      await ok(host, 'AT+HTTPTERM');
    } finally {
      await server.close();
    }
  });

  it('SIM7600 TLS socket (AT+CCH*, manual receive), host-written Range requests', async () => {
    const { host, server } = await rig('sim7600', image);
    try {
      await ccertdown(host);
      for (const c of ['AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="cacert",0,"ca.pem"', 'AT+CCHSET=1,1', 'AT+CCHSTART']) await ok(host, c);
      await host.until(/\+CCHSTART: 0\r\n/);
      host.take();
      await ok(host, 'AT+CCHSSLCFG=0,0');
      await ok(host, 'AT+CCHOPEN=0,"updates.example.com",443,2');
      await host.until(/\+CCHOPEN: 0,0\r\n/);
      host.take();
      const got = new Uint8Array(MiB);
      await socketWindows(
        host,
        async (req) => {
          host.take();
          host.write(`AT+CCHSEND=0,${req.length}\r`);
          await host.until(/\r\n>$/);
          host.take();
          host.write(req);
          await host.until(/\r\nOK\r\n\r\n\+CCHSEND: 0,0\r\n$/);
          host.take();
        },
        async () => {
          for (;;) {
            host.write('AT+CCHRECV?\r');
            const t = await host.until(/\r\nOK\r\n$/);
            host.take();
            if (/\+CCHRECV: LEN,0,/.test(t)) {
              await host.until(/\+CCHEVENT: 0,RECV EVENT\r\n/);
              host.take();
              continue;
            }
            host.write('AT+CCHRECV=0,2048\r');
            return readCounted(host, /^(?:\r\n\+CCHEVENT: 0,RECV EVENT\r\n)?\r\nOK\r\n\r\n\+CCHRECV: DATA,0,(\d+)\r\n/, '\r\n+CCHRECV: 0,0\r\n');
          }
        },
        got,
        64 * 1024,
      );
      assert.ok(Buffer.from(got).equals(Buffer.from(image)), 'image differs');
    } finally {
      await server.close();
    }
  });

  it('SIM7600 TCP socket (AT+CIP*, CIPRXGET manual mode), plain http', async () => {
    const { host, server } = await rig('sim7600', image);
    try {
      await ok(host, 'AT+CIPRXGET=1');
      await ok(host, 'AT+NETOPEN');
      await host.until(/\+NETOPEN: 0\r\n/);
      host.take();
      await ok(host, 'AT+CIPOPEN=0,"TCP","updates.example.com",80');
      await host.until(/\+CIPOPEN: 0,0\r\n/);
      host.take();
      const got = new Uint8Array(MiB);
      await socketWindows(
        host,
        async (req) => {
          host.take();
          host.write(`AT+CIPSEND=0,${req.length}\r`);
          await host.until(/\r\n>$/);
          host.take();
          host.write(req);
          await host.until(/\+CIPSEND: 0,\d+,\d+\r\n$/);
          host.take();
        },
        async () => {
          for (;;) {
            host.write('AT+CIPRXGET=4,0\r');
            const t = await host.until(/\r\nOK\r\n$/);
            host.take();
            if (/\+CIPRXGET: 4,0,0\r\n/.test(t)) {
              await host.until(/\+CIPRXGET: 1,0\r\n/);
              host.take();
              continue;
            }
            host.write('AT+CIPRXGET=2,0,1500\r');
            return readCounted(host, /^(?:\r\n\+CIPRXGET: 1,0\r\n)?\r\n\+CIPRXGET: 2,0,(\d+),\d+\r\n/, '\r\nOK\r\n');
          }
        },
        got,
        64 * 1024,
      );
      assert.ok(Buffer.from(got).equals(Buffer.from(image)), 'image differs');
    } finally {
      await server.close();
    }
  });
});
