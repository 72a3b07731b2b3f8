/**
 * The agent's real Installer (src/agent/slot-installer.ts) on the dev kit's simulated NOR flash,
 * with images made by MCUboot's imgtool and ones signed here in its format: the Installer
 * contract, plus what only the real one can show (what is in flash decides, not what was in RAM).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SLOT_READ_PIECE_MAX, SlotInstaller } from '../../../src/agent/slot-installer.js';
import { readBootState } from '../../../src/slot/boot-state.js';
import { SWAP_TYPE } from '../../../src/image/trailer.js';
import { OtaError } from '../../../src/util/errors.js';
import { bootMcuboot } from '../../../tools/devkit/parts/sim-mcuboot.js';
import { createDevkitFlash, type DevkitFlash } from '../../../tools/devkit/parts/sim-flash.js';
import { NodeSignatureVerifier } from '../../../tools/node/node-signature-verifier.js';
import { digest, factoryDevkit, makeImage, trustedKeyPem, verifier, vectors } from '../../support/devkit-update.js';
import { vectorBytes } from '../../support/mcuboot-vectors.js';
import { installerContract } from '../../support/installer-contract.js';
import { ErasedAheadSlot } from '../../../src/slot/erased-ahead.js';
import { SimKeyValue } from '../../../tools/devkit/parts/sim-key-value.js';

const NEW_IMAGE = makeImage('1.1.0+2', 9000);

function installerOn(dk: DevkitFlash, v = verifier): SlotInstaller {
  return new SlotInstaller({ primary: dk.primary, secondary: dk.secondary, digest, verifier: v, trailerSize: dk.layout.trailerSize });
}

installerContract('SlotInstaller on the simulated NOR flash', () => {
  const dk = factoryDevkit();
  return { installer: installerOn(dk), image: NEW_IMAGE, version: '1.1.0+2', sector: dk.layout.sectorSize };
});

describe('SlotInstaller on the simulated NOR flash', () => {
  const rejectsWith = (reason: string) => (e: unknown) => e instanceof OtaError && e.reason === reason;

  // The largest unpadded image the vector set calls valid (any set in the same format).
  const imgtoolVector = vectors.vectors
    .filter((v) => v.expected_verdict === 'valid' && !v.padded && v.key === vectors.trusted_key)
    .sort((a, b) => b.file_size - a.file_size)[0];

  it('installs an image made by MCUboot imgtool, and MCUboot test-swaps it', async function () {
    if (!imgtoolVector) this.skip();
    const image = vectorBytes(vectors, imgtoolVector.file);
    const version = imgtoolVector.parsed.header.version;
    const dk = factoryDevkit();
    const installer = installerOn(dk);
    await installer.resume(0);
    for (let at = 0; at < image.length; at += 1460) await installer.write(image.subarray(at, at + 1460));
    installer.seal();
    assert.equal((await installer.finish()).version, version);
    installer.stage();
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.TEST);
    const boot = bootMcuboot(dk, { trustedKeyPem });
    assert.deepEqual([boot.outcome, boot.version], ['test-swap', version]);
    assert.equal(installer.runningVersion(), version);
    assert.equal(installer.runningConfirmed(), false, 'a test-swapped image is on trial');
    installer.confirmRunning();
    assert.equal(installer.runningConfirmed(), true);
  });

  it('a bit that flash lost after sealing fails the re-hash from flash, and nothing is staged', async () => {
    const dk = factoryDevkit();
    const installer = installerOn(dk);
    await installer.resume(0);
    await installer.write(NEW_IMAGE);
    installer.seal();
    // A cleared bit in the body (a NOR cell that lost charge, or a write that went wrong).
    dk.device.bytes[dk.layout.secondary.offset + 0x200 + 4000] &= 0xfe;
    await assert.rejects(installer.finish(), (e: unknown) => e instanceof OtaError && (e.reason === 'flash-readback' || e.reason === 'hash-mismatch'));
    assert.throws(() => installer.stage(), rejectsWith('bad-state'));
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.NONE);
  });

  it('after a reset, reload re-hashes the sealed bytes from flash and verifies them again', async () => {
    const dk = factoryDevkit();
    const first = installerOn(dk);
    await first.resume(0);
    await first.write(NEW_IMAGE);
    const length = first.seal();
    // A new boot: a new installer knows only the journal's sealed length.
    const second = installerOn(dk);
    await second.reload(length);
    assert.equal((await second.finish()).version, '1.1.0+2');
    second.stage();
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.TEST);
  });

  it('re-hashes from flash in reads of at most SLOT_READ_PIECE_MAX bytes: no sector-size buffer in RAM', async () => {
    const dk = factoryDevkit();
    assert.ok(dk.layout.sectorSize > SLOT_READ_PIECE_MAX, 'the piece is smaller than a sector here');
    const first = installerOn(dk);
    await first.resume(0);
    await first.write(NEW_IMAGE);
    const length = first.seal();
    const reads: number[] = [];
    const read = dk.secondary.read.bind(dk.secondary);
    dk.secondary.read = (offset: number, into: Uint8Array) => {
      reads.push(into.length);
      return read(offset, into);
    };
    // A resume above the first sectors and the check before staging both read the slot back.
    const resumed = installerOn(dk);
    assert.equal(await resumed.resume(2 * dk.layout.sectorSize), 2 * dk.layout.sectorSize);
    const afterResume = reads.length;
    assert.ok(afterResume >= (2 * dk.layout.sectorSize) / SLOT_READ_PIECE_MAX, `resume re-hash reads: ${afterResume}`);
    const second = installerOn(dk);
    await second.reload(length);
    assert.equal((await second.finish()).version, '1.1.0+2');
    assert.ok(reads.length > afterResume + NEW_IMAGE.length / dk.layout.sectorSize, `reads: ${reads.length}`);
    assert.ok(Math.max(...reads) <= SLOT_READ_PIECE_MAX, `largest read ${Math.max(...reads)}`);
  });

  it('an image signed by another key is refused by the verifier and never staged', async () => {
    const dk = factoryDevkit();
    const other = vectors.keys.find((k) => k.name !== vectors.trusted_key);
    assert.ok(other, 'the vector set has a second key');
    const otherPem = readFileSync(join(vectors.dir, other.public_pem), 'utf8');
    const installer = installerOn(dk, new NodeSignatureVerifier(otherPem));
    await installer.resume(0);
    await installer.write(NEW_IMAGE);
    installer.seal();
    await assert.rejects(installer.finish(), (e: unknown) => e instanceof OtaError);
    assert.throws(() => installer.stage(), rejectsWith('bad-state'));
  });

  it('abandon removes a pending request: MCUboot boots the old image without a swap', async () => {
    const dk = factoryDevkit();
    const installer = installerOn(dk);
    await installer.resume(0);
    await installer.write(NEW_IMAGE);
    installer.seal();
    await installer.finish();
    installer.stage();
    installer.abandon();
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.NONE);
    assert.equal(bootMcuboot(dk, { trustedKeyPem }).outcome, 'none');
  });

  it('the ahead erase (idle or at link-up) never erases a pending swap request, whatever the journal says', async () => {
    const dk = factoryDevkit();
    const kv = new SimKeyValue();
    const wrapped = () => new SlotInstaller({ primary: dk.primary, secondary: new ErasedAheadSlot(dk.secondary, kv), digest, verifier, trailerSize: dk.layout.trailerSize });
    const first = wrapped();
    await first.resume(0);
    await first.write(NEW_IMAGE);
    first.seal();
    await first.finish();
    first.stage();
    // The next boot (a lost journal, a reset before the reboot): nothing in RAM says the slot is staged.
    const next = wrapped();
    const erases = dk.device.stats.erases;
    assert.equal(next.eraseIdle(), false);
    assert.equal(dk.device.stats.erases, erases, 'nothing erased');
    assert.equal(readBootState(dk.primary, dk.secondary).nextSwap, SWAP_TYPE.TEST, 'the request stands');
    // Once abandoned (the trailer erased), the slot is the ahead erase's again.
    next.abandon();
    assert.equal(next.eraseIdle(), true);
    assert.ok(dk.device.stats.erases > erases);
  });

  it('an empty primary slot has no running version: a typed error, not a crash', () => {
    const dk = createDevkitFlash({ seed: 3 });
    assert.throws(() => installerOn(dk).runningVersion(), rejectsWith('not-an-image'));
  });
});
