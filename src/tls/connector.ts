/**
 * A ByteStreamConnector whose streams are TLS terminated in the agent: the modem opens a plain TCP
 * socket (`tls: false`: SIM7080G AT+CAOPEN without SSL, SIM7600 AT+CIPOPEN) and TlsClient runs
 * over it, with the device key in the A5000. The control channel (IoTConnect MQTT, hawkBit DDI)
 * takes this connector in place of the modem's own TLS; the firmware download may keep the
 * modem's TLS (docs/tls.md says which channel uses which, and why).
 */
import type { ByteStream, ByteStreamConnector, StreamTarget } from '../net/byte-stream.js';
import { TlsClient, type TlsClientOptions } from './client.js';
import { Tls12Client } from './tls12.js';

/**
 * The TLS versions the agent offers (device setting otaTlsVersions): one, or '1.3,1.2': one
 * ClientHello offering both, the handshake going on in the version the server picks.
 */
export type AgentTlsVersion = '1.3' | '1.2' | '1.3,1.2';
export const AGENT_TLS_VERSIONS: readonly AgentTlsVersion[] = ['1.3,1.2', '1.3', '1.2'];

export function agentTlsConnector(plain: ByteStreamConnector, options: Omit<TlsClientOptions, 'host'>, version: AgentTlsVersion = '1.3'): ByteStreamConnector {
  return {
    async connect(target: StreamTarget): Promise<ByteStream> {
      const stream = await plain.connect({ host: target.host, port: target.port, tls: false });
      const settings = { ...options, host: target.host };
      return version === '1.2' ? Tls12Client.connect(stream, settings) : TlsClient.connect(stream, settings, version === '1.3,1.2');
    },
  };
}
