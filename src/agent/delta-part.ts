/**
 * Delta updates as an optional part of a device build: src/agent/start.ts reaches src/delta's
 * installer only through this module. A bundle built without delta (rollup.config.mjs, build
 * option OTA_OPTIONS) resolves it to ./delta-part.absent.ts instead, so none of the VCDIFF decoder,
 * the staging area or the delta installer is in that firmware's flash.
 */
import { DeltaInstaller, type DeltaInstallerOptions } from '../delta/delta-installer.js';

/** Whether this firmware carries delta updates (the machine offers a delta only if it does). */
export const DELTA_CARRIED = true;

/** The delta installer over `options.inner`, or undefined when the firmware carries no delta code. */
export function deltaPart(options: DeltaInstallerOptions): DeltaInstaller | undefined {
  return new DeltaInstaller(options);
}
