/**
 * TLS in the agent (src/tls: TLS 1.3/1.2, X.509, the A5000's key operations) as an optional part
 * of a device build: the composition root (src/agent/start.ts) is the only place that reaches
 * src/tls, and only through this module. A bundle built without agent TLS (rollup.config.mjs,
 * build option OTA_OPTIONS) resolves it to ./agent-tls-part.absent.ts: the modem's own TLS is the
 * only TLS that firmware has, and none of src/tls is in its flash.
 */
export { agentTlsControlConnector } from '../tls/control-channel.js';
export { readDeviceCertificate } from '../tls/device-certificate.js';

/** Whether this firmware carries TLS terminated in the agent. */
export const AGENT_TLS_CARRIED = true;
