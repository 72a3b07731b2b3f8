/**
 * What src/agent/delta-part.ts is in a bundle built without delta updates (rollup.config.mjs):
 * no delta installer, so the machine takes every offer's full image (a delta in an offer is
 * ignored, never an error). The types are the real module's, so the two cannot drift apart.
 */
import type { deltaPart as carriedDeltaPart } from './delta-part.js';

export const DELTA_CARRIED = false;

export const deltaPart: typeof carriedDeltaPart = () => undefined;
