/**
 * Realistic flash in the dev kit: an erase blocks the MCU for the part's erase time, in virtual
 * time. With RTS/CTS the modem holds while the MCU is blocked (no byte lost); without RTS/CTS the
 * agent reads by command (AT+CARECV), so nothing arrives that the RX FIFO could not hold. The
 * bootloader's swap takes its flash time too.
 */
import assert from 'node:assert/strict';
import { benchImage, runBenchUpdate, slotLayout, updateFigures } from '../../../tools/bench/update.js';
import { boardSlotLayout, createDevkitFlash, isPowerCut, NOR_TIMING_TYPICAL, NOR_TIMING_WORST, SimNorFlash, SMALL_SLOT_LAYOUT, type FlashLayout } from '../../../tools/devkit/parts/sim-flash.js';
import { bootMcuboot, type McubootEraseCalls } from '../../../tools/devkit/parts/sim-mcuboot.js';
import { makeImage, programRaw, trustedKeyPem as TEST_PUBLIC_KEY_PEM, writeAndStage } from '../../support/devkit-update.js';

describe('SimNorFlash timing (W25Q64JV)', () => {
  it('times every erase command on its own: sixteen 4 KiB sector erases stay sixteen tSE, never merged into a block', () => {
    const f = new SimNorFlash({ size: 0x40000 });
    const seen: number[] = [];
    f.onBusy = (us) => seen.push(us);
    for (let s = 16; s < 32; s++) f.eraseSector(s);
    assert.equal(f.stats.busyUs, 16 * NOR_TIMING_TYPICAL.sectorEraseUs);
    assert.deepEqual(seen, new Array(16).fill(NOR_TIMING_TYPICAL.sectorEraseUs));
    assert.equal(f.stats.blockErases, 0);
  });

  it('a 64 KiB layout sector (the named board) is one block erase per command (tBE2), and the port offers no larger unit', () => {
    const f = new SimNorFlash({ size: 0x40000, sectorSize: 0x10000 });
    f.eraseSector(1);
    assert.equal(f.stats.busyUs, NOR_TIMING_TYPICAL.blockEraseUs);
    assert.equal(f.stats.blockErases, 1);
    f.eraseRange(2, 4);
    assert.equal(f.stats.busyUs, 3 * NOR_TIMING_TYPICAL.blockEraseUs);
    assert.equal(f.partition(0, 0x40000).status().largeBlockLength, undefined);
    assert.equal(new SimNorFlash({ size: 0x40000 }).partition(0, 0x40000).status().largeBlockLength, 0x10000);
  });
});

describe('simulated MCUboot: what its swap erases cost, per version (eraseCalls)', () => {
  // MCUboot >= 2.2 erases one layout sector per flash_area_erase (bootutil_area.c); <= 2.1 one
  // call per region, which the driver turns into block erases for the aligned 64 KiB inside.
  const swapBusyMs = (layout: FlashLayout, eraseCalls: McubootEraseCalls | undefined): { ms: number; blocks: number; outcome: string } => {
    const dk = createDevkitFlash({ layout, timing: NOR_TIMING_TYPICAL });
    programRaw(dk.primary, makeImage('1.0.0', 0x30000));
    writeAndStage(dk.secondary, makeImage('1.1.0', 0x30000));
    const before = dk.device.stats.busyUs;
    const blocks = dk.device.stats.blockErases;
    const r = bootMcuboot(dk, { trustedKeyPem: TEST_PUBLIC_KEY_PEM, maxSectors: layout.maxSectors, eraseCalls });
    return { ms: Math.round((dk.device.stats.busyUs - before) / 1000), blocks: dk.device.stats.blockErases - blocks, outcome: r.outcome };
  };

  it('on 4 KiB sectors the default (v2.2+, the named board\'s MCUboot) pays tSE per sector; v2.1 pays block erases', () => {
    const perSector = swapBusyMs(SMALL_SLOT_LAYOUT, undefined);
    const perRegion = swapBusyMs(SMALL_SLOT_LAYOUT, 'per-region');
    assert.deepEqual([perSector.outcome, perRegion.outcome], ['test-swap', 'test-swap']);
    assert.equal(perSector.blocks, 0);
    assert.ok(perRegion.blocks >= 3, `${perRegion.blocks} block erases`);
    // The same erases in the same order; each aligned 64 KiB that v2.1 erased with one command
    // costs v2.2+ sixteen sector erases instead.
    const saved = (16 * NOR_TIMING_TYPICAL.sectorEraseUs - NOR_TIMING_TYPICAL.blockEraseUs) / 1000;
    assert.equal(perSector.ms - perRegion.ms, perRegion.blocks * saved, `${perSector.ms} ms against ${perRegion.ms} ms`);
  });

  it('on the named board\'s 64 KiB sectors every swap erase is a block erase, whichever the version', () => {
    const a = swapBusyMs(boardSlotLayout(0x60000), undefined);
    const b = swapBusyMs(boardSlotLayout(0x60000), 'per-region');
    assert.equal(a.outcome, 'test-swap');
    assert.deepEqual([a.ms, a.blocks], [b.ms, b.blocks]);
    assert.ok(a.blocks >= 3 * 4, `${a.blocks} block erases`);
  });
});

describe('SimNorFlash.eraseRange (the port\'s eraseBlocks)', () => {
  it('erases each aligned 64 KiB block inside the range as one block erase (tBE2), the rest sector by sector', () => {
    const f = new SimNorFlash({ size: 0x40000 });
    f.write(0, new Uint8Array(0x40000));
    const ops = f.ops;
    f.eraseRange(12, 40); // sectors 12..15, block 16..31, sectors 32..39
    assert.equal(f.ops - ops, 4 + 1 + 8);
    assert.equal(f.stats.blockErases, 1);
    assert.equal(f.stats.busyUs - (0x40000 / 256) * NOR_TIMING_TYPICAL.programUsPer256, 12 * NOR_TIMING_TYPICAL.sectorEraseUs + NOR_TIMING_TYPICAL.blockEraseUs);
    assert.ok(f.bytes.subarray(12 * 4096, 40 * 4096).every((b) => b === 0xff));
    assert.ok(f.bytes.subarray(0, 12 * 4096).every((b) => b === 0) && f.bytes.subarray(40 * 4096).every((b) => b === 0));
  });

  it('a power cut at a block erase tears the whole block, not one sector of it', () => {
    const f = new SimNorFlash({ size: 0x40000, seed: 5 });
    f.write(0, new Uint8Array(0x40000));
    f.cutAt(f.ops, 'prefix');
    assert.throws(() => f.eraseRange(16, 32), (e: unknown) => isPowerCut(e));
    const block = f.bytes.subarray(16 * 4096, 32 * 4096);
    const erased = block.findIndex((b) => b !== 0xff);
    assert.ok(erased > 0 && erased < block.length, `torn at ${erased}`);
    assert.ok(block.subarray(erased).every((b) => b === 0), 'the rest of the block keeps its old bytes');
    assert.throws(() => f.read(0, new Uint8Array(1)), (e: unknown) => isPowerCut(e));
  });
});

describe('dev kit flash timing: the MCU blocked while the NOR part erases', function () {
  this.timeout(300_000);
  const image = benchImage(64 * 1024);
  // Two 64 KiB blocks: with worst-case times the link-up erase (src/agent/machine.ts) erases only
  // the first one during the modem's bring-up (no 2 s unit fits its quiet waits after that), so
  // the second is erased while the artifact arrives.
  const twoBlocks = benchImage(128 * 1024);
  const layout = slotLayout(0x140000);
  const sectors = image.length / layout.sectorSize;

  it('worst-case erase with RTS/CTS: the modem is held, no byte is lost, the download is bound by the erase time', async () => {
    const r = await runBenchUpdate({ image: twoBlocks, layout, modem: 'sim7080', baud: 921_600, flashTiming: 'worst', flowControl: 'rts-cts' });
    const f = updateFigures(r);
    assert.equal(f.outcome, 'running');
    assert.equal(r.summary.flash.timing, 'worst');
    assert.ok(r.summary.uart.ctsHolds > 0, 'RTS/CTS held the modem');
    assert.equal(r.summary.uart.overrunBytes, 0);
    // Each 64 KiB block was erased with one block erase (tBE2), the second one while receiving,
    // blocking the MCU: the download cannot be shorter than that, and is shorter than the 16
    // sector erases of that block would be.
    assert.equal(r.summary.flash.blockErases, 2);
    assert.ok(f.downloadS >= NOR_TIMING_WORST.blockEraseUs / 1e6, `download ${f.downloadS} s`);
    assert.ok(f.downloadS < (sectors * NOR_TIMING_WORST.sectorEraseUs) / 1e6, `download ${f.downloadS} s`);
    // The swap erases (64 KiB blocks) and programs the image's area of both slots and the scratch.
    assert.ok((r.summary.flash.bootloaderMs[1] ?? 0) >= (3 * NOR_TIMING_WORST.blockEraseUs) / 1000, `swap ${r.summary.flash.bootloaderMs.join(',')} ms`);
  });

  it('worst-case erase without RTS/CTS: the agent reads by command and the RX FIFO never overruns', async () => {
    const r = await runBenchUpdate({ image: twoBlocks, layout, modem: 'sim7080', baud: 921_600, flashTiming: 'worst', flowControl: 'none' });
    assert.equal(updateFigures(r).outcome, 'running');
    assert.equal(r.summary.uart.overrunBytes, 0);
    assert.equal(r.summary.uart.ctsHolds, 0);
  });

  it('no flash timing: no time blocked, so the same download is shorter', async () => {
    const none = await runBenchUpdate({ image, layout, modem: 'sim7080', baud: 921_600, flashTiming: 'none' });
    const typical = await runBenchUpdate({ image, layout, modem: 'sim7080', baud: 921_600, flashTiming: 'typical' });
    assert.equal(none.summary.flash.busyMs, 0);
    assert.deepEqual(none.summary.flash.bootloaderMs.filter((ms) => ms > 0), []);
    assert.ok(typical.summary.flash.busyMs > sectors * 45, `busy ${typical.summary.flash.busyMs} ms`);
    assert.ok(typical.summary.virtualMs > none.summary.virtualMs);
  });
});
