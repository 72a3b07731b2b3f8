/**
 * The device settings only the IoTConnect backend reads (otaBackend iotconnect): part of CONFIG_SCHEMA (src/agent/config.ts) only in a bundle that
 * carries it; a bundle without it resolves this module to settings-iotconnect.absent.ts (rollup.config.mjs), which
 * has none of them, so that build neither carries nor reads them (docs/device-build.md, "Settings of a
 * part the build leaves out").
 */
import { LABEL, type ConfigSpec } from './setting-spec.js';

export const IOTCONNECT_SETTINGS = {
  /** IoTConnect environment name (otaBackend iotconnect; otaTenant holds the CPID). */
  otaIotcEnv: {
    type: 'text',
    default: '',
    maxLength: 64,
    charset: LABEL,
    required: false,
  },
  /**
   * IoTConnect discovery `pf` (the global discovery host needs aws or az); empty: left out (a
   * platform-specific discovery host).
   */
  otaIotcPlatform: {
    type: 'choice',
    default: 'aws',
    choices: ['aws', 'az', ''],
  },
  /**
   * IoTConnect template hardware version matched against a command's `hw` (trimmed, any case).
   * Empty: `hw` not checked, the image header decides.
   */
  otaIotcHardwareVersion: {
    type: 'text',
    default: '',
    maxLength: 32,
    charset: LABEL,
    required: false,
  },
  /**
   * IoTConnect MQTT session: kept open between polls with keep-alive (as the SDKs), or per-call for
   * a duty-cycled modem.
   */
  otaIotcSession: {
    type: 'choice',
    default: 'kept',
    choices: ['kept', 'per-call'],
  },
  /**
   * IoTConnect st of the final success ack: 3 (OTA_DOWNLOAD_DONE, the SDKs' OTA samples) or 0 (iotc-
   * c-lib IOTCL_C2D_EVT_OTA_SUCCESS).
   */
  otaIotcSuccessSt: {
    type: 'choice',
    default: '3',
    choices: ['3', '0'],
  },
} as const satisfies Record<string, ConfigSpec>;
