/**
 * What src/agent/settings-tls.ts is in a bundle built without TLS in the agent (rollup.config.mjs): none of
 * its settings, so the build neither carries nor reads them (src/agent/config.ts, CONFIG_SCHEMA).
 * The type is the real table's, so the two cannot drift apart.
 */
import type { TLS_SETTINGS as Carried, checkTlsSettings as carriedCheck } from './settings-tls.js';
import { OtaError } from '../util/errors.js';

/** The refusal of otaControlTls agent by a build without it (also src/agent/agent-tls-part.absent.ts). */
export const AGENT_TLS_NOT_CARRIED = 'otaControlTls: this firmware carries no TLS in the agent (built without it; build with OTA_OPTIONS=-tls, docs/device-build.md)';

export const TLS_SETTINGS = Object.freeze({}) as typeof Carried;

/** otaControlTls agent stops the start-up here, in resolveConfig, before any hardware is touched. */
export const checkTlsSettings: typeof carriedCheck = (c) => {
  if (c.controlTls === 'agent') throw new OtaError('config-invalid', AGENT_TLS_NOT_CARRIED);
};
