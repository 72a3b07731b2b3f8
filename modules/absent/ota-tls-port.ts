/**
 * Module "ota-tls-port" of a bundle without TLS in the agent (dist/xs-ota-<bundle>.manifest.json
 * maps it here): no TlsCryptoPort, and no crypt GCM/HMAC code in the build. The bundle refuses
 * otaControlTls agent itself (src/agent/settings-tls.absent.ts), so nothing asks for the port.
 * Same export as modules/ota-tls-port.ts.
 */
import type { TlsCryptoPort } from 'xs-ota';

export function tlsCryptoPort(): TlsCryptoPort | undefined {
  return undefined;
}
