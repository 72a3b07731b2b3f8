/**
 * What MCUboot's test swap of one image costs in flash time, per erase page and MCUboot version:
 * the figure behind the named board's 64 KiB erase pages (docs/flash-layout.md, "Why 64 KiB
 * sectors"). Only the bootloader runs here: the secondary is programmed and its trailer written
 * directly (as the agent leaves it), then the simulated MCUboot swaps, and the device's busy time
 * during that boot is the swap's flash time.
 */
import { createPublicKey } from 'node:crypto';
import { markPending } from '../../src/slot/boot-state.js';
import { createDevkitFlash, flashTiming, type FlashLayout, type FlashTimingName } from '../devkit/parts/sim-flash.js';
import { bootMcuboot, type McubootEraseCalls } from '../devkit/parts/sim-mcuboot.js';
import type { FlashPort } from '../../src/platform/flash.js';

export interface SwapCost {
  /** Device busy time of the swapping boot, seconds. */
  seconds: number;
  sectorErases: number;
  blockErases: number;
  outcome: string;
}

function program(port: FlashPort, bytes: Uint8Array): void {
  const s = port.status();
  for (let b = 0; b < Math.ceil(bytes.length / s.blockLength); b++) port.eraseBlock(b);
  const padded = new Uint8Array(Math.ceil(bytes.length / s.writeAlign) * s.writeAlign).fill(s.eraseValue);
  padded.set(bytes);
  port.write(0, padded);
}

/** The test swap of `image` over `base` on `layout`, with MCUboot's erases made as `eraseCalls` says. */
export function swapCost(options: { layout: FlashLayout; base: Uint8Array; image: Uint8Array; keyPem: string; eraseCalls: McubootEraseCalls; timing?: FlashTimingName }): SwapCost {
  const dk = createDevkitFlash({ layout: options.layout, timing: flashTiming(options.timing ?? 'typical') });
  program(dk.primary, options.base);
  program(dk.secondary, options.image);
  markPending(dk.secondary, { trailerSize: options.layout.trailerSize });
  const before = { ...dk.device.stats };
  const r = bootMcuboot(dk, { trustedKeyPem: readPublicPem(options.keyPem), maxSectors: options.layout.maxSectors, eraseCalls: options.eraseCalls });
  const erases = dk.device.stats.erases - before.erases;
  const blocks = dk.device.stats.blockErases - before.blockErases;
  return { seconds: (dk.device.stats.busyUs - before.busyUs) / 1e6, sectorErases: erases - blocks, blockErases: blocks, outcome: r.outcome };
}

/** MCUboot's built-in key: the public half of the signing key. */
function readPublicPem(keyPem: string): string {
  return keyPem.includes('PUBLIC KEY') ? keyPem : createPublicKey(keyPem).export({ format: 'pem', type: 'spki' }).toString();
}
