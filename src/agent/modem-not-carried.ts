import type { ModemModel } from '../modem/modem.js';
import { OtaError } from '../util/errors.js';

/** otaModem names a driver a one-modem firmware (build option OTA_MODEM) does not carry. */
export function modemNotCarried(asked: ModemModel, carried: ModemModel): OtaError {
  return new OtaError('config-invalid', `otaModem '${asked}': this firmware carries only the ${carried} driver (built with OTA_MODEM=-${carried}; build with OTA_MODEM=-${asked}, or without OTA_MODEM for both, docs/device-build.md)`);
}
