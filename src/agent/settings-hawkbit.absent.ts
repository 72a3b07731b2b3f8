/**
 * What src/agent/settings-hawkbit.ts is in a bundle built without the hawkBit backend (rollup.config.mjs): none of
 * its settings, so the build neither carries nor reads them (src/agent/config.ts, CONFIG_SCHEMA).
 * The type is the real table's, so the two cannot drift apart.
 */
import type { HAWKBIT_SETTINGS as Carried } from './settings-hawkbit.js';

export const HAWKBIT_SETTINGS = Object.freeze({}) as typeof Carried;
