/**
 * Every XS suite runs the engine as a device runs the agent (tools/xs/device-profile.ts): this
 * spec proves the profile holds (32-bit slots, frozen built-ins, the creation's stack and heap
 * stopping the engine) and that the agent's error classes survive frozen built-ins.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deviceCreation, DeviceProfileRecorder, recordDeviceProfile, SLOT_BYTES } from '../../tools/xs/device-profile.js';
import { XsSession } from '../../tools/xs/session.js';
import { measureDeviceProfile, PEAK_STACK_TARGET_SLOTS } from '../../tools/bench/device-profile.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

function sources(dir: string, found: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) sources(full, found);
    else if (entry.endsWith('.ts') && !entry.endsWith('.d.ts')) found.push(full);
  }
  return found;
}

describe('XS device profile', function () {
  let session: XsSession;
  before(async () => {
    session = await XsSession.start({ bundle: 'device' });
  });
  after(async () => session?.close());

  it('runs a 32-bit engine: 16-byte slots, 4-byte pointers', async () => {
    const figures = await session.deviceFigures();
    assert.equal(figures.slotSize, SLOT_BYTES);
    assert.equal(figures.pointerSize, 4);
  });

  it('starts the recorded peaks once the guest is loaded, as the live base (the device preloads the bundle)', async () => {
    const sampling = { interval: 1, gcEvery: 0 };
    const plain = await XsSession.start({ bundle: 'agent', sampling });
    const withLoad = (await plain.deviceFigures()).peakStackSlots;
    await plain.close();
    const recorder = new DeviceProfileRecorder(sampling);
    recordDeviceProfile(recorder);
    try {
      const recorded = await XsSession.start({ bundle: 'agent' });
      const afterLoad = (await recorded.deviceFigures()).peakStackSlots;
      await recorded.close();
      // Loading the IIFE bundle is one frame with a slot per top-level binding (hundreds).
      assert.ok(withLoad > afterLoad + 300, `peak with the load ${withLoad}, recorded ${afterLoad}`);
    } finally {
      recordDeviceProfile(undefined);
      recorder.dispose();
    }
  });

  it("runs with the manifest's creation stack and a heap bound", async () => {
    const creation = deviceCreation();
    const figures = await session.deviceFigures();
    assert.equal(figures.stackSlots, creation.stack);
    assert.equal(figures.heapBytesLimit, creation.heapBytes);
    assert.ok(session.baseLiveBytes > 0);
  });

  it('freezes the built-ins before the guest loads, as preload does', async () => {
    assert.deepEqual(await session.call('frozen'), {
      errorPrototype: true,
      objectPrototype: true,
      arrayPrototype: true,
      typedArrayPrototype: true,
      math: true,
      json: true,
      promise: true,
      globalExtensible: true,
    });
    // What `this.name = ...` in an Error subclass does there.
    await assert.rejects(session.call('assignInherited'), /not writable/);
  });

  it("constructs every agent error class under frozen built-ins, each with its name", async () => {
    const errors = await session.call<Record<string, { name?: string; message?: string; instance?: boolean; threw?: string }>>('constructErrors');
    assert.deepEqual(errors, {
      OtaError: { name: 'OtaError', message: 'timeout: probe', instance: true },
      BackendError: { name: 'BackendError', message: 'backend-unavailable: probe', instance: true },
      SeStatusError: { name: 'OtaError', message: errors.SeStatusError?.message, instance: true },
    });
    assert.match(errors.SeStatusError!.message!, /SW 6a82/);
  });

  it('assigns no inherited `name` in any error class under src/ or modules/ (the device throws there)', () => {
    const offenders: string[] = [];
    for (const file of [...sources(path.join(ROOT, 'src')), ...sources(path.join(ROOT, 'modules'))]) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '').replace(/^\s*(\/?\*).*$/, '');
        if (/\bthis\.name\s*=[^=]/.test(code)) offenders.push(`${path.relative(ROOT, file)}:${i + 1}`);
      });
    }
    assert.deepEqual(offenders, []);
  });

  it('stops the engine on a JS stack overflow, as the device resets', async () => {
    const small = await XsSession.start({ bundle: 'device' });
    try {
      assert.equal(await small.call('recurse', { depth: 10 }), 10);
      await assert.rejects(small.call('recurse', { depth: 2000 }), /xsnap-worker exited \(code 12/);
    } finally {
      small.kill();
    }
  });

  it("counts the stack a device would have: the test bridge's frames left out, every guest frame kept", async () => {
    const probe = await XsSession.start({ bundle: 'device', sampling: { interval: 1, gcEvery: 0 } });
    probe.provide('ping', () => null);
    const peak = async (depth: number, bottom: 'host' | 'leaf') => {
      await probe.deviceFigures(true);
      assert.equal(await probe.call('deepCall', { depth, bottom }), depth);
      const f = await probe.deviceFigures();
      return { device: f.peakStackSlots, raw: f.peakRawStackSlots };
    };
    try {
      const host20 = await peak(20, 'host');
      const leaf20 = await peak(20, 'leaf');
      const host40 = await peak(40, 'host');
      const leaf40 = await peak(40, 'leaf');
      // A port call through the bridge counts as a JS call of its shape (a native call on a
      // device): hostCall's frame and arguments stay, what it runs (encode, issueCommand,
      // decode) does not. The leaf's sample has a few slots more (its loop variable, the
      // operands of its push).
      assert.ok(leaf20.device - host20.device >= 0 && leaf20.device - host20.device <= 8, `host ${host20.device}, leaf ${leaf20.device}`);
      assert.ok(host20.raw - host20.device > 40, `bridge below hostCall: raw ${host20.raw}, device ${host20.device}`);
      // Every guest frame stays counted: 20 more frames add as much with either bottom.
      const perFrames = leaf40.device - leaf20.device;
      assert.ok(perFrames >= 20 * 5, `20 frames: ${perFrames} slots`);
      assert.equal(host40.device - host20.device, perFrames);
      // Without a host call, what is left out is only handleCommand's own locals and operands.
      const handle = leaf20.raw - leaf20.device;
      assert.ok(handle > 0 && handle < 24, `left out of a plain call: ${handle}`);
      assert.equal(leaf40.raw - leaf40.device, handle);
    } finally {
      await probe.close();
    }
  });

  it("keeps a whole update (hawkBit, sim7080, every boot) within issue 11's stack target: the deep chains start as jobs of their own", async function () {
    this.timeout(120_000);
    // A small image walks the same paths as the bench's 1 MiB one (boot, poll, download, verify in
    // the A5000, stage, reboot, confirm, report); the bench prints the 1 MiB figure.
    const f = await measureDeviceProfile(64 * 1024);
    assert.ok(f.boots >= 2, `boots: ${f.boots}`);
    assert.ok(f.peakStackSlots <= PEAK_STACK_TARGET_SLOTS, `peak JS stack ${f.peakStackSlots} slots (XSOTA_TRACE_DEPTH=${PEAK_STACK_TARGET_SLOTS} prints the path)`);
  });

  it('decodes long text with a bounded stack (no fromCharCode with hundreds of arguments)', async () => {
    const ascii = 'OK\r\n+HTTPACTION: 0,200,1048576\r\n'.repeat(40);
    const utf8 = 'é✓𝄞 ASCII '.repeat(100);
    const deep = await XsSession.start({ bundle: 'device' });
    try {
      // 10 frames down is about 200 slots: a 256-argument call (272 slots) there overflowed 512.
      const a = await deep.call<{ ascii: string }>('decodeDeep', { depth: 10, bytes: new TextEncoder().encode(ascii) });
      assert.equal(a.ascii, ascii);
      const u = await deep.call<{ utf8: string }>('decodeDeep', { depth: 10, bytes: new TextEncoder().encode(utf8) });
      assert.equal(u.utf8, utf8);
    } finally {
      deep.kill();
    }
  });

  it("leaves the byte code XS copies for each new function out of the live figures (a device's code is in flash)", async () => {
    const probe = await XsSession.start({ bundle: 'device' });
    try {
      const before = await probe.deviceFigures();
      assert.equal(await probe.call('holdClosures', { count: 200 }), 200);
      const held = await probe.deviceFigures();
      await probe.call('dropClosures');
      const dropped = await probe.deviceFigures();
      const codeGrowth = held.codeBytes - before.codeBytes;
      // Each closure's copied code is its own chunk (its body is well over 40 bytes of byte code).
      assert.ok(codeGrowth >= 200 * 40, `code bytes grew by ${codeGrowth}`);
      assert.ok(dropped.codeBytes < held.codeBytes - 200 * 40, `code bytes after the drop ${dropped.codeBytes}`);
      // What stays counted is what a device holds: each closure's slots (its function object, its
      // loop environment, the array entry: 13 here), not its code (120 bytes more here).
      const counted = held.liveSlots * SLOT_BYTES + held.liveChunkBytes - (before.liveSlots * SLOT_BYTES + before.liveChunkBytes);
      assert.ok(counted > 200 * 4 * SLOT_BYTES, `counted growth ${counted}`);
      assert.ok(counted < 200 * 15 * SLOT_BYTES, `counted growth ${counted} includes code (${codeGrowth})`);
      assert.ok(held.peakLiveBytes >= counted);
    } finally {
      await probe.close();
    }
  });

  it('stops the engine when the live heap passes the bound, not before', async () => {
    const creation = deviceCreation();
    const small = await XsSession.start({ bundle: 'device', creation: { ...creation, heapBytes: 32 * 1024 } });
    small.provide('ping', () => null);
    try {
      // An object is two slots (32 bytes) and an array entry one: 500 fit in 32 KiB, 2000 do not.
      assert.equal(await small.call('hold', { count: 500 }), 500);
      await assert.rejects(small.call('hold', { count: 2000 }), /xsnap-worker exited \(code 11/);
    } finally {
      small.kill();
    }
  });
});
