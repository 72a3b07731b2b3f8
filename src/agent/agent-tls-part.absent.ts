/**
 * What src/agent/agent-tls-part.ts is in a bundle built without agent TLS (rollup.config.mjs):
 * asking for agent TLS stops the start-up with config-invalid naming the build option, before any
 * hardware is touched; with the modem's TLS (otaControlTls modem) nothing here runs. The type is
 * the real function's, so the two cannot drift apart.
 */
import type { agentTlsControlConnector as carriedConnector, readDeviceCertificate as carriedRead } from './agent-tls-part.js';
import { OtaError } from '../util/errors.js';
import { AGENT_TLS_NOT_CARRIED } from './settings-tls.absent.js';

export const AGENT_TLS_CARRIED = false;

const notCarried = (): never => {
  throw new OtaError('config-invalid', AGENT_TLS_NOT_CARRIED);
};

export const agentTlsControlConnector: typeof carriedConnector = notCarried;

/** The boot read of the device certificate (startAgent), asked for only with otaControlTls agent. */
export const readDeviceCertificate: typeof carriedRead = notCarried;
