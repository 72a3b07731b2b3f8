/**
 * What src/agent/modem-part.ts is in a firmware built for the SIM7080 only (build option
 * OTA_MODEM=-sim7080, rollup.config.mjs): the SIM7080 driver and the HTTP client it uses
 * (src/net/modem-http.ts `sim7080HttpClient`), no other modem's code. otaModem naming another
 * modem stops the start-up with config-invalid naming the build option, before any hardware is
 * touched. The types are the real module's, so the variants cannot drift apart.
 */
import type { ModemModel } from '../modem/modem.js';
import { Sim7080 } from '../modem/sim7080.js';
import { sim7080HttpClient } from '../net/modem-http.js';
import type { modemPart as carriedModemPart } from './modem-part.js';
import { modemNotCarried } from './modem-not-carried.js';

export const MODEMS_CARRIED: readonly ModemModel[] = ['sim7080'];

export const modemPart: typeof carriedModemPart = (model, ports, config, flowControl, clock) => {
  if (model !== 'sim7080') throw modemNotCarried(model, 'sim7080');
  const modem = new Sim7080(ports, config, { flowControl });
  return { modem, http: sim7080HttpClient({ modem, clock }) };
};
