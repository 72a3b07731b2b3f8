/**
 * The agent's flash cost per device bundle (issue 11 benchmark: the hawkBit-only build <= 200 KB),
 * measured with the real Moddable SDK's host tools (tools/moddable/footprint.ts: the linked
 * preloads of xsl's mc.xs.c at 32-bit sizes, minus an SDK-only build). Deterministic bytes.
 * Without the SDK ($MODDABLE with its Linux tools built) the section has no rows and says why.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { BenchSection } from '../cli/bench.js';
import { measureFootprint } from '../moddable/footprint.js';
import { sdkToolDir } from '../moddable/host-build.js';

/** Issue 11's target for the hawkBit-only build, bytes (200 KB). */
export const FLASH_TARGET_BYTES = 200 * 1024;

/** The default hawkBit bundle, its one-modem builds, and the one with every option. */
export const FLASH_BUNDLES = ['hawkbit', 'hawkbit-sim7080', 'hawkbit-sim7600', 'hawkbit-tls-delta'] as const;

export function flashSection(): BenchSection {
  const moddable = process.env.MODDABLE;
  const base = {
    name: 'flash',
    title: 'Flash cost of the agent per device bundle (Moddable SDK host build, pico_plus2, bytes)',
    columns: ['bundle', 'agentFlashBytes', 'bundleXsb', 'targetBytes', 'ratio'],
  };
  const how = 'agentFlashBytes = the release build of manifest.json for the bundle minus the same build without the agent, counted in xsl\'s mc.xs.c at 32-bit sizes (heap and stack slots x 16, keys x 4, bytecode, strings, host tables: tools/moddable/footprint.ts, `npm run footprint`); bundleXsb = xs-ota.xsb; ratio = agentFlashBytes / targetBytes (issue 11: <= 1).';
  if (!moddable || !existsSync(path.join(sdkToolDir(moddable), 'xsl'))) {
    return { ...base, rows: [], notes: [`skipped: ${moddable ? `no ${path.join(sdkToolDir(moddable), 'xsl')}` : 'MODDABLE is not set'} (docs/device-build.md section 2).`, how] };
  }
  const footprint = measureFootprint({ moddable, target: 'pico_plus2', bundles: FLASH_BUNDLES });
  const rows = footprint.bundles.map((b) => ({ bundle: b.bundle, agentFlashBytes: b.agentFlashBytes, bundleXsb: b.bundleXsb, targetBytes: FLASH_TARGET_BYTES, ratio: Math.round((b.agentFlashBytes / FLASH_TARGET_BYTES) * 1000) / 1000 }));
  return { ...base, rows, notes: [how, `SDK-only build: ${footprint.baseline.totalBytes} bytes.`] };
}
