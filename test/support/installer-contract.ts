/**
 * What every Installer (src/agent/installer.ts) must do, as one suite that runs against each
 * implementation: the real SlotInstaller on the simulated NOR flash, and any fake a machine test
 * gives the state machine. A fake that drifts from the real installer fails here, not in a
 * machine test that trusted it.
 */
import assert from 'node:assert/strict';
import type { Installer } from '../../src/agent/installer.js';
import { OtaError } from '../../src/util/errors.js';

export interface InstallerUnderTest {
  installer: Installer;
  /** A whole valid image for this installer, newer than the running one. */
  image: Uint8Array;
  /** Its version as the installer reports it ("major.minor.revision+build"). */
  version: string;
  /** Sector size: resume points are multiples of it. */
  sector: number;
}

const rejectsWith = (reason: string) => (e: unknown) => e instanceof OtaError && e.reason === reason;

async function writeAll(installer: Installer, image: Uint8Array, from = 0, chunk = 700): Promise<void> {
  for (let at = from; at < image.length; at += chunk) await installer.write(image.subarray(at, Math.min(image.length, at + chunk)));
}

export function installerContract(name: string, make: () => InstallerUnderTest): void {
  describe(`Installer contract: ${name}`, () => {
    it('a fresh write, seal and finish report the header version and the file hash; stage after that', async () => {
      const { installer, image, version } = make();
      assert.equal(await installer.resume(0), 0);
      await writeAll(installer, image);
      assert.equal(installer.seal(), image.length);
      const info = await installer.finish();
      assert.equal(info.version, version);
      assert.equal(info.imageSize, image.length);
      assert.equal(info.fileSha256.length, 32);
      installer.stage();
    });

    it('stage before the image verified is refused', async () => {
      const { installer, image } = make();
      await installer.resume(0);
      await writeAll(installer, image);
      installer.seal();
      assert.throws(() => installer.stage(), rejectsWith('bad-state'));
    });

    it('write before resume and finish before seal are refused', async () => {
      const { installer, image } = make();
      await assert.rejects(installer.write(image.subarray(0, 16)), rejectsWith('bad-state'));
      await installer.resume(0);
      await assert.rejects(installer.finish(), rejectsWith('bad-state'));
    });

    it('resume rounds down to a sector and continues the same image to a valid finish', async () => {
      const { installer, image, version, sector } = make();
      await installer.resume(0);
      await writeAll(installer, image.subarray(0, Math.min(image.length - 1, 2 * sector + 123)));
      const flushed = installer.flushed;
      assert.ok(flushed <= 2 * sector + 123 && flushed % sector === 0, `flushed ${flushed}`);
      const start = await installer.resume(flushed + 5);
      assert.equal(start, flushed);
      await writeAll(installer, image, start);
      installer.seal();
      assert.equal((await installer.finish()).version, version);
    });

    it('bytes after the last TLV are refused as trailing data', async () => {
      const { installer, image } = make();
      await installer.resume(0);
      const padded = new Uint8Array(image.length + 4);
      padded.set(image);
      await assert.rejects(writeAll(installer, padded, 0, padded.length), rejectsWith('trailing-data'));
    });
  });
}
