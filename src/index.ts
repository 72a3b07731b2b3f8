/**
 * xs-ota: the device-side firmware-update agent. This module is what the device's bundle
 * (dist/xs-ota.mjs) exports; modules/main.ts hands it the Moddable ports.
 */
export type * from './platform/index.js';
export { OtaError, isOtaError, reasonOf, type Reason } from './util/errors.js';
export type { OtaReason } from './agent/reasons.js';

/** The agent's own version, reported to the backend. */
export const AGENT_VERSION = '0.1.0';

export { startAgent, createAgent, readBootInputs, type BootReads, type StartConfig, type StartOptions, type BackendKind } from './agent/start.js';
export { UpdateAgent, type HealthCheck } from './agent/machine.js';
/** What this bundle carries of the optional parts (rollup.config.mjs, build option OTA_OPTIONS). */
export { AGENT_TLS_CARRIED } from './agent/agent-tls-part.js';
export { DELTA_CARRIED } from './agent/delta-part.js';
/** The modem drivers this bundle carries (build option OTA_MODEM). */
export { MODEMS_CARRIED } from './agent/modem-part.js';
export {
  configSchema,
  readSetting,
  settingKeys,
  settingName,
  type AgentConfig,
  type AgentSettingKey,
  type ConfigKey,
  type ConfigSpec,
  type HardwareKey,
  type SettingName,
  type SettingsInput,
} from './agent/config.js';
