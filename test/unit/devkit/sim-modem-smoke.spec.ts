import assert from 'node:assert/strict';
import { startHttpLoopback } from '../../../tools/devkit/http-loopback.js';
import { createSimModem } from '../../../tools/devkit/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/virtual-time.js';
import { makeImage, ScriptHost } from './sim-modem-host.js';

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
});
