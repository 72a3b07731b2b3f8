/**
 * The device settings only the hawkBit backend reads (otaBackend hawkbit): part of CONFIG_SCHEMA (src/agent/config.ts) only in a bundle that
 * carries it; a bundle without it resolves this module to settings-hawkbit.absent.ts (rollup.config.mjs), which
 * has none of them, so that build neither carries nor reads them (docs/device-build.md, "Settings of a
 * part the build leaves out").
 */
import { LABEL, type ConfigSpec } from './setting-spec.js';

export const HAWKBIT_SETTINGS = {
  /**
   * hawkBit Authorization scheme, and which secret is sent: TargetToken (per device, secret
   * authToken) or GatewayToken (tenant-wide, secret gatewayToken).
   */
  otaTokenScheme: {
    type: 'choice',
    default: 'TargetToken',
    choices: ['TargetToken', 'GatewayToken'],
  },
  /**
   * hawkBit chunk `part` of this device's image (e.g. bApp). Empty: any part, the image header
   * chooses.
   */
  otaModulePart: {
    type: 'text',
    default: '',
    maxLength: 64,
    charset: LABEL,
    required: false,
  },
  /**
   * hawkBit confirmationBase (user consent): true confirms without the application hook; false asks
   * it (no hook: denied).
   */
  otaAutoConfirm: {
    type: 'choice',
    default: 'true',
    choices: ['true', 'false'],
  },
} as const satisfies Record<string, ConfigSpec>;
