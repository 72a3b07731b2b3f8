/**
 * What src/agent/settings-iotconnect.ts is in a bundle built without the IoTConnect backend (rollup.config.mjs): none of
 * its settings, so the build neither carries nor reads them (src/agent/config.ts, CONFIG_SCHEMA).
 * The type is the real table's, so the two cannot drift apart.
 */
import type { IOTCONNECT_SETTINGS as Carried } from './settings-iotconnect.js';

export const IOTCONNECT_SETTINGS = Object.freeze({}) as typeof Carried;
