/**
 * Every fault knob of the modem simulator, observed from the host side of the UART, plus the
 * loopback server's own knobs (Range, If-Range, 416, truncate, drop, 5xx).
 */
import assert from 'node:assert/strict';
import { startHttpLoopback, type HttpLoopback } from '../../../tools/node/http-loopback.js';
import { createSimModem, type ModemModel, type SimModemKit } from '../../../tools/devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { ccertdown, makeImage, readCounted, ScriptHost } from './sim-modem-host.js';

const PATH = '/fw/app.bin';
const image = makeImage(100_000, 5);

interface Rig {
  time: VirtualTime;
  kit: SimModemKit;
  host: ScriptHost;
  server: HttpLoopback;
}

async function rig(model: ModemModel, options: { shBodyMax?: number } = {}): Promise<Rig> {
  const server = await startHttpLoopback({ body: image, path: PATH });
  const time = new VirtualTime();
  const kit = createSimModem(time, { model, server: server.endpoint, poweredOn: true, ...options });
  const host = new ScriptHost(time, kit.serial);
  await host.cmd('ATE0');
  await host.cmd('AT+CMEE=1');
  return { time, kit, host, server };
}

async function ok(host: ScriptHost, line: string): Promise<void> {
  assert.match(await host.cmd(line), /\r\nOK\r\n$/, line);
}

async function shConnect(host: ScriptHost): Promise<void> {
  await ok(host, 'AT+CNACT=0,1');
  await host.until(/\+APP PDP: 0,ACTIVE\r\n/);
  host.take();
  for (const c of ['AT+SHSSL=1,"ca.pem"', 'AT+SHCONF="URL","https://updates.example.com"', 'AT+SHCONF="BODYLEN",1024', 'AT+SHCONF="HEADERLEN",350', 'AT+SHCONN']) await ok(host, c);
}

async function shGet(host: ScriptHost, from: number, to: number): Promise<string> {
  await ok(host, 'AT+SHCHEAD');
  await ok(host, `AT+SHAHEAD="Range","bytes=${from}-${to}"`);
  await ok(host, `AT+SHREQ="${PATH}",1`);
  return host.until(/\r\n\+(SHREQ|APP PDP)[^\r]*\r\n$/);
}

async function httpStart(host: ScriptHost): Promise<void> {
  await ccertdown(host);
  for (const c of ['AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="cacert",0,"ca.pem"', 'AT+HTTPINIT', `AT+HTTPPARA="URL","https://updates.example.com${PATH}"`]) await ok(host, c);
}

describe('sim-modem: faults', function () {
  this.timeout(60_000);
  let r: Rig | undefined;
  afterEach(async () => {
    await r?.server.close();
    r = undefined;
  });

  it('dropLinkAt, SIM7080G SH*: no +SHREQ; +SHSTATE: 0 and +APP PDP: 0,DEACTIVE instead', async () => {
    r = await rig('sim7080g');
    await shConnect(r.host);
    r.kit.modem.setFaults({ dropLinkAt: 1000 });
    const text = await shGet(r.host, 0, 4095);
    assert.equal(text, '\r\n+SHSTATE: 0\r\n\r\n+APP PDP: 0,DEACTIVE\r\n');
    assert.equal(r.kit.modem.faults.dropLinkAt, undefined);
    r.host.take();
    assert.equal(await r.host.cmd('AT+SHSTATE?'), '\r\n+SHSTATE: 0\r\n\r\nOK\r\n');
    assert.equal(await r.host.cmd(`AT+SHREQ="${PATH}",1`), '\r\nERROR\r\n');
  });

  it('dropLinkAt, SIM7080G CA* socket: data up to the cut, then +CASTATE: 0,0 and +APP PDP: 0,DEACTIVE', async () => {
    r = await rig('sim7080g');
    const { host } = r;
    await ok(host, 'AT+CNACT=0,1');
    await host.until(/ACTIVE\r\n/);
    host.take();
    assert.match(await host.cmd('AT+CAOPEN=0,0,"TCP","updates.example.com",80'), /\+CAOPEN: 0,0/);
    r.kit.modem.setFaults({ dropLinkAt: 500 });
    const req = `GET ${PATH} HTTP/1.1\r\nHost: x\r\nRange: bytes=0-9999\r\n\r\n`;
    host.write(`AT+CASEND=0,${req.length}\r`);
    await host.until(/> $/);
    host.take();
    host.write(req);
    const text = await host.until(/DEACTIVE\r\n$/);
    assert.equal(text, '\r\nOK\r\n\r\n+CADATAIND: 0\r\n\r\n+CASTATE: 0,0\r\n\r\n+APP PDP: 0,DEACTIVE\r\n');
    host.take();
    assert.equal(await host.cmd('AT+CACLOSE=0'), '\r\nERROR\r\n');
  });

  it('dropLinkAt, SIM7600 HTTP*: +HTTP_NONET_EVENT and +HTTPACTION: 0,706,0', async () => {
    r = await rig('sim7600');
    await httpStart(r.host);
    r.kit.modem.setFaults({ dropLinkAt: 3000 });
    await ok(r.host, 'AT+HTTPACTION=0');
    assert.equal(await r.host.until(/HTTPACTION[^\r]*\r\n$/), '\r\n+HTTP_NONET_EVENT\r\n\r\n+HTTPACTION: 0,706,0\r\n');
  });

  it('dropLinkAt, SIM7600 CCH*: +CCH_PEER_CLOSED: 0', async () => {
    r = await rig('sim7600');
    const { host } = r;
    await ccertdown(host);
    for (const c of ['AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="cacert",0,"ca.pem"', 'AT+CCHSET=0,1', 'AT+CCHSTART']) await ok(host, c);
    await host.until(/\+CCHSTART: 0\r\n/);
    await ok(host, 'AT+CCHOPEN=0,"updates.example.com",443,2');
    await host.until(/\+CCHOPEN: 0,0\r\n/);
    r.kit.modem.setFaults({ dropLinkAt: 200 });
    const req = `GET ${PATH} HTTP/1.1\r\nHost: x\r\n\r\n`;
    host.write(`AT+CCHSEND=0,${req.length}\r`);
    await host.until(/>$/);
    host.take();
    host.write(req);
    assert.equal(await host.until(/PEER_CLOSED: 0\r\n$/), '\r\nOK\r\n\r\n+CCHEVENT: 0,RECV EVENT\r\n\r\n+CCH_PEER_CLOSED: 0\r\n');
  });

  it('truncateAt: a read block announces n, sends fewer bytes and no trailer; the modem still answers', async () => {
    r = await rig('sim7080g');
    await shConnect(r.host);
    assert.match(await shGet(r.host, 0, 2047), /\+SHREQ: "GET",206,2048/);
    r.host.take();
    r.kit.modem.setFaults({ truncateAt: 100 });
    r.host.write('AT+SHREAD=0,2048\r');
    await r.time.advance(2000);
    const got = r.host.take();
    const head = '\r\nOK\r\n\r\n+SHREAD: 2048\r\n';
    assert.equal(got.length, head.length + 100);
    assert.deepEqual(got.subarray(head.length), image.subarray(0, 100));
    // Re-read the block (SH* offsets are random access).
    r.host.write('AT+SHREAD=0,2048\r');
    assert.deepEqual(await readCounted(r.host, /^\r\nOK\r\n\r\n\+SHREAD: (\d+)\r\n/, '\r\n'), image.subarray(0, 2048));
  });

  it('garbageAt / garbageEvery: noise bytes inserted into the modem->host stream', async () => {
    r = await rig('sim7080g');
    r.kit.modem.setFaults({ garbageAt: 3, garbageBytes: 5 });
    r.host.write('AT\r');
    await r.time.advance(100);
    const got = r.host.take();
    assert.equal(got.length, 6 + 5);
    assert.equal(Buffer.from(got.subarray(0, 3)).toString('latin1'), '\r\nO');
    assert.equal(Buffer.from(got.subarray(8)).toString('latin1'), 'K\r\n');
    r.kit.modem.setFaults({ garbageAt: 0, garbageEvery: 4, garbageBytes: 1 });
    r.host.write('AT\r');
    await r.time.advance(100);
    assert.equal(r.host.take().length, 6 + 2); // at 0 and at 4
  });

  it('urcEveryMs: noise URCs between responses and between an OK and its data', async () => {
    r = await rig('sim7080g');
    await shConnect(r.host);
    assert.match(await shGet(r.host, 0, 2047), /\+SHREQ: "GET",206,2048/);
    r.host.take();
    r.kit.modem.setFaults({ urcEveryMs: 3 });
    r.host.write('AT+SHREAD=0,2048\r');
    await r.time.advance(400);
    r.kit.modem.setFaults({});
    const text = Buffer.from(r.host.take()).toString('latin1');
    assert.match(text, /^(\r\n[^\r]+\r\n)*\r\nOK\r\n(\r\n[^\r]+\r\n)+\r\n\+SHREAD: 2048\r\n/);
    assert.match(text, /\*PSUTTZ|DST: 0/);
    const start = text.indexOf('+SHREAD: 2048\r\n') + 15;
    assert.deepEqual(new Uint8Array(Buffer.from(text.slice(start, start + 2048), 'latin1')), image.subarray(0, 2048));
  });

  it('httpActionError: 602 from SIM7080G SHREQ, 706 from SIM7600 HTTPACTION', async () => {
    r = await rig('sim7080g');
    await shConnect(r.host);
    r.kit.modem.setFaults({ httpActionError: 602 });
    assert.equal(await shGet(r.host, 0, 99), '\r\n+SHREQ: "GET",602,0\r\n');
    r.host.take();
    assert.match(await shGet(r.host, 0, 99), /\+SHREQ: "GET",206,100/);
    await r.server.close();
    r = await rig('sim7600');
    await httpStart(r.host);
    r.kit.modem.setFaults({ httpActionError: 706 });
    await ok(r.host, 'AT+HTTPACTION=0');
    assert.equal(await r.host.until(/HTTPACTION[^\r]*\r\n$/), '\r\n+HTTPACTION: 0,706,0\r\n');
  });

  it('SIM7080G SHREQ buffers the whole body: above shBodyMax it answers 602', async () => {
    r = await rig('sim7080g', { shBodyMax: 40_960 });
    await shConnect(r.host);
    assert.equal(await shGet(r.host, 0, 50_000), '\r\n+SHREQ: "GET",602,0\r\n');
    r.host.take();
    assert.match(await shGet(r.host, 0, 40_959), /\+SHREQ: "GET",206,40960/);
  });

  it('SIM7080G https needs a CA: SHCONN and CAOPEN fail without one', async () => {
    r = await rig('sim7080g');
    const { host } = r;
    await ok(host, 'AT+CNACT=0,1');
    await host.until(/ACTIVE\r\n/);
    host.take();
    for (const c of ['AT+SHCONF="URL","https://updates.example.com"', 'AT+SHCONF="BODYLEN",1024', 'AT+SHCONF="HEADERLEN",350']) await ok(host, c);
    assert.equal(await host.cmd('AT+SHCONN'), '\r\nERROR\r\n');
    await ok(host, 'AT+SHSSL=1,""'); // "" = no verification on hardware; refused here
    assert.equal(await host.cmd('AT+SHCONN'), '\r\nERROR\r\n');
    await ok(host, 'AT+CASSLCFG=0,"SSL",1');
    assert.equal(await host.cmd('AT+CAOPEN=0,0,"TCP","updates.example.com",443'), '\r\n+CAOPEN: 0,27\r\n\r\nOK\r\n');
  });

  it('rebootAt: output cut, boot URCs, echo back on, sessions gone', async () => {
    r = await rig('sim7600');
    await httpStart(r.host);
    r.kit.modem.setFaults({ rebootAt: r.time.now() + 1000 });
    assert.equal(await r.host.until(/PB DONE\r\n$/, 30_000), '\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n');
    r.host.take();
    assert.equal(await r.host.cmd('AT'), 'AT\r\r\nOK\r\n');
    assert.equal(await r.host.cmd('AT+HTTPREAD?'), 'AT+HTTPREAD?\r\r\nERROR\r\n');
    assert.equal(r.kit.counters().boots, 2);
  });

  it('stallAt: the modem answers nothing, not even AT+CFUN=1,1, until a power-key cycle', async () => {
    r = await rig('sim7080g');
    const { time, host, kit } = r;
    kit.modem.setFaults({ stallAt: time.now() + 10 });
    await time.advance(20);
    host.write('AT\r');
    host.write('AT+CFUN=1,1\r');
    await time.advance(30_000);
    assert.equal(host.received, 0);
    kit.powerKey.write(1); // off: 1.3 s
    await time.advance(1500);
    kit.powerKey.write(0);
    assert.equal(kit.modem.power, 'off');
    await time.advance(2000);
    kit.powerKey.write(1); // on: 1 s
    await time.advance(1000);
    kit.powerKey.write(0);
    await time.advance(4000);
    assert.equal(await host.cmd('AT'), 'AT\r\r\nOK\r\n');
  });
});

describe('http-loopback', () => {
  let server: HttpLoopback;
  const body = makeImage(10_000, 9);
  before(async () => {
    server = await startHttpLoopback({ body });
  });
  after(() => server.close());

  async function get(headers: Record<string, string> = {}, method = 'GET') {
    const res = await fetch(server.url + '/x', { method, headers });
    return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
  }

  it('serves the whole body, a range, a suffix range and an open range', async () => {
    const all = await get();
    assert.equal(all.status, 200);
    assert.deepEqual(all.body, body);
    const mid = await get({ Range: 'bytes=100-199' });
    assert.equal(mid.status, 206);
    assert.equal(mid.headers.get('content-range'), 'bytes 100-199/10000');
    assert.deepEqual(mid.body, body.subarray(100, 200));
    assert.deepEqual((await get({ Range: 'bytes=-10' })).body, body.subarray(9990));
    assert.deepEqual((await get({ Range: 'bytes=9000-' })).body, body.subarray(9000));
  });

  it('answers 416 past the end, and honours If-Range only for the current ETag', async () => {
    const past = await get({ Range: 'bytes=10000-' });
    assert.equal(past.status, 416);
    assert.equal(past.headers.get('content-range'), 'bytes */10000');
    const etag = (await get()).headers.get('etag')!;
    assert.equal((await get({ Range: 'bytes=0-9', 'If-Range': etag })).status, 206);
    const stale = await get({ Range: 'bytes=0-9', 'If-Range': '"old"' });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.length, 10_000);
  });

  it('fault knobs: 5xx, truncate (FIN), drop (RST), each one-shot', async () => {
    server.faults = { status5xx: { status: 503 } };
    assert.equal((await get()).status, 503);
    assert.equal((await get()).status, 200);
    server.faults = { truncateAt: 1000 };
    await assert.rejects(get());
    server.faults = { dropAt: 10 };
    await assert.rejects(get());
    assert.equal((await get()).status, 200);
    assert.ok(server.requests.length >= 10);
  });
});
