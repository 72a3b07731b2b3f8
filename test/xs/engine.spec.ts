/**
 * The XS suite's foundation: bundles really run inside Moddable's XS engine (xsnap-worker), and
 * the bridge carries bytes, errors, the journal and virtual time between XS and the dev kit.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { NodeDigest } from '../../tools/node/node-digest.js';
import { SimKeyValue } from '../../tools/devkit/parts/sim-key-value.js';
import { SimUart } from '../../tools/devkit/parts/sim-uart.js';
import { VirtualTime } from '../../tools/devkit/parts/virtual-time.js';
import { deviceCreation } from '../../tools/xs/device-profile.js';
import { GuestError, XsSession } from '../../tools/xs/session.js';
import { servePlatform } from '../../tools/xs/serve-platform.js';

describe('XS engine (xsnap)', function () {
  let session: XsSession;
  let time: VirtualTime;
  let keyValue: SimKeyValue;
  let uart: SimUart;
  let hostReads = 0;

  before(async function () {
    session = await XsSession.start({ bundle: 'probe' });
    time = new VirtualTime();
    keyValue = new SimKeyValue();
    uart = new SimUart(time, { burstBytes: 64 });
    const device = uart.device;
    const modemSerial = { ...device, read: (into: Uint8Array) => (hostReads++, device.read(into)), attach: device.attach, get readable() { return device.readable; }, get baud() { return device.baud; } };
    servePlatform(session, { digest: new NodeDigest(), keyValue, modemSerial }, time);
  });
  after(async () => session?.close());

  it('runs the bundle in XS, not in Node', async () => {
    const globals = await session.call<Record<string, string>>('xsGlobals');
    assert.deepEqual(globals, { print: 'function', issueCommand: 'function', process: 'undefined', Buffer: 'undefined' });
  });

  it('reports XS meter figures for every crank', async () => {
    assert.ok(session.meter.cranks > 0);
    assert.ok(session.meter.compute > 0, 'XS computation meter counts');
    assert.ok(session.meter.peakHeapCount > 0, 'XS heap count reported');
  });

  it('carries bytes both ways unchanged', async () => {
    // More than 64 KiB in one message: the bridge holds four copies of it, more than the device
    // heap bound (no agent path carries more than a sector), so this session has a larger one.
    const creation = deviceCreation();
    const big = await XsSession.start({ bundle: 'probe', creation: { ...creation, heapBytes: 8 * creation.heapBytes } });
    try {
      const bytes = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
      const back = await big.call<Uint8Array>('echoBytes', { bytes });
      assert.deepEqual(back, bytes);
    } finally {
      await big.close();
    }
  });

  it('a host call costs the agent little XS computation: the bridge codec uses the engine UTF-8 natives', async () => {
    // The bridge is the harness's (a device calls native bindings), so what it spends inflates
    // every XS figure of the agent: with src/util/bytes's per-character codecs a clock.now call cost
    // about 4,800 meter units, with xsnap's TextEncoder/TextDecoder 800.
    const cost = async (n: number): Promise<number> => {
      const before = session.meter.compute;
      await session.call('hostCalls', { n });
      return session.meter.compute - before;
    };
    const perCall = ((await cost(200)) - (await cost(0))) / 200;
    assert.ok(perCall > 0 && perCall < 2000, `${perCall} XS meter units per host call`);
  });

  it('UART reads: every byte arrives, and a read after the FIFO drained within a crank costs no host call', async () => {
    uart.modem.write(new Uint8Array(100).fill(0x41));
    await time.runUntil(() => time.pending === 0);
    const reads = await session.call<number[][]>('serialReads');
    // Two bursts (64 and 36 bytes), each drained in its crank by 48-byte reads, then two empty reads.
    assert.deepEqual(reads, [[48, 16, 0], [36, 0]]);
    // To the host: 48 and 16 (short: the FIFO is empty), then 36; the four empty reads (and the
    // loop's test read) are answered in XS, where without it there were 7 host reads.
    assert.equal(hostReads, 3, `${hostReads} host reads for the guest's 7`);
  });

  it('a timer never fires before the guest clock reads its delay, with fractional instants (no livelock at a deadline)', async () => {
    // Campaign run 118 of seed 1: boot clock origin and virtual instants with fractions, for which
    // start + ms rounds to an instant the guest reads 1.5e-11 ms early; re-arming for the rest
    // then fired at the same instant, forever.
    const fresh = await XsSession.start({ bundle: 'probe' });
    try {
      const vt = new VirtualTime();
      servePlatform(fresh, {}, vt, 24898.303456789);
      await vt.advance(125967.5943);
      const sleeps = await vt.runFor(fresh.call<number>('waitFor', { ms: 5374.952 }), { maxEventsAtOneInstant: 1000 });
      assert.equal(sleeps, 1);
    } finally {
      await fresh.close();
    }
  });

  it('encodes UTF-8 in XS as Node does', async () => {
    const text = 'ASCII, é, ✓, 𝄞';
    assert.equal(await session.call('utf8RoundTrip', { text }), text);
  });

  it('hashes through the Digest port served by the host', async () => {
    const bytes = new TextEncoder().encode('abc');
    const expected = createHash('sha256').update(bytes).digest('hex');
    assert.equal(await session.call('sha256', { bytes }), expected);
  });

  it('carries an OtaError reason from XS to the host', async () => {
    await assert.rejects(session.call('throwOta'), (error: unknown) => error instanceof GuestError && error.reason === 'bad-header');
  });

  it('writes the journal through the key-value port', async () => {
    assert.equal(await session.call('journal', { key: 'j', value: '{"v":1}' }), '{"v":1}');
    assert.equal(keyValue.read('j'), '{"v":1}');
  });

  it('sleeps in virtual time, deterministically', async () => {
    const start = time.now();
    const woke = await time.runFor(session.call<number[]>('sleeps', { ms: [1000, 60_000, 3_600_000] }));
    assert.deepEqual(woke, [start + 1000, start + 61_000, start + 3_661_000]);
  });
});
