/**
 * The modem driver as a part of a device build: src/agent/start.ts builds the modem and its HTTP
 * client only through this module. A board has one modem, so a firmware built for one (build
 * option OTA_MODEM, rollup.config.mjs) resolves this module to ./modem-part.sim7080.ts or
 * ./modem-part.sim7600.ts instead, which carry that driver and the HTTP client it uses only.
 * This module, the default build, carries both and follows otaModem.
 */
import type { ClockPort } from '../platform/clock.js';
import type { Modem, ModemConfig, ModemModel, ModemPorts, UartFlowControl } from '../modem/modem.js';
import { Sim7080 } from '../modem/sim7080.js';
import { Sim7600 } from '../modem/sim7600.js';
import type { HttpClient } from '../net/http.js';
import { modemHttpClient } from '../net/modem-http.js';

/** The modem drivers this firmware carries (otaModem must name one of them). */
export const MODEMS_CARRIED: readonly ModemModel[] = ['sim7080', 'sim7600'];

/** The fitted modem and the HTTP client over it. */
export interface ModemLink {
  readonly modem: Modem;
  readonly http: HttpClient;
}

/**
 * The driver for `model` and its HTTP client (src/net/modem-http.ts `modemHttpClient`). Throws
 * OtaError('config-invalid') for a model the firmware does not carry, before constructing anything.
 */
export function modemPart(model: ModemModel, ports: ModemPorts, config: ModemConfig, flowControl: UartFlowControl, clock: ClockPort): ModemLink {
  // Push mode follows the wiring (the drivers' default): only RTS/CTS can pause a pushing modem.
  const modem: Modem = model === 'sim7600' ? new Sim7600(ports, config, { flowControl }) : new Sim7080(ports, config, { flowControl });
  return { modem, http: modemHttpClient({ modem, clock }) };
}
