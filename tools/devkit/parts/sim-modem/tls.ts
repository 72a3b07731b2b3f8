/**
 * The modem's TLS client: what a SIMCom module does between its AT socket or HTTP stack and the
 * server. The UART carries plaintext; here the bytes go through node:tls, verified against the CA
 * file the host uploaded (`AT+CFSWFILE` + `AT+CSSLCFG="convert"` on SIM7080, `AT+CCERTDOWN` on
 * SIM7600, simcom-at.md §4.1, §4.2) with the host name from the URL or open command as SNI and as
 * the name the certificate must carry.
 *
 * Failures are classified as the modems report them: SIM7080 CAOPEN result 24 cert expired,
 * 25 CN mismatch, 26 both, 27 connect failed (§5.1); the personalities map the rest.
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from './types.js';

/** How a connection set-up failed: no TCP connection, or the TLS checks the modem makes. */
export type ConnectFailure = 'connect' | 'cert-expired' | 'cn-mismatch' | 'expired-and-mismatch' | 'untrusted';

/** TLS for one connection: the CA list the modem holds and the name it verifies. */
export interface TlsParams {
  /** CA certificates (PEM blocks) from the uploaded file. */
  ca: string[];
  /** Host name (or address) from the URL / open command. */
  host: string;
}

/** Largest CA file the modems take (CFSWFILE and CCERTDOWN: ≤ 10240 bytes, §4.1, §4.2). */
const CA_FILE_MAX = 10_240;

/** The last CA file parsed (text -> its certificates): the agent opens a TLS socket per request with the same one. */
let lastCa: { text: string; blocks: string[] | undefined } | undefined;

/**
 * The certificates in a CA file as the modem's converter reads it: PEM `CERTIFICATE` blocks
 * (text around them is ignored), each of which must parse as X.509. Undefined when the file
 * holds none or a block is broken: the module cannot use it.
 */
export function parseCaFile(bytes: Uint8Array | undefined): string[] | undefined {
  if (!bytes || bytes.length === 0 || bytes.length > CA_FILE_MAX) return undefined;
  const text = Buffer.from(bytes).toString('latin1');
  if (lastCa?.text === text) return lastCa.blocks && [...lastCa.blocks];
  const blocks = parseCaText(text);
  lastCa = { text, blocks };
  return blocks && [...blocks];
}

function parseCaText(text: string): string[] | undefined {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g);
  if (!blocks) return undefined;
  try {
    for (const block of blocks) new X509Certificate(block);
  } catch {
    return undefined;
  }
  return blocks;
}

/**
 * Opens a TCP connection to `target`, then, with `params`, a TLS session over it whose
 * certificate chain and name are checked. Resolves with the open socket (TLS or plain) or why
 * it failed; never rejects. Nothing is written before the checks passed.
 */
export function openConnection(target: Endpoint, params: TlsParams | undefined): Promise<{ socket: net.Socket } | { failure: ConnectFailure }> {
  return new Promise((resolve) => {
    if (!params) {
      const socket = net.connect(target.port, target.host);
      const onError = () => resolve({ failure: 'connect' });
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        socket.on('error', () => undefined);
        resolve({ socket });
      });
      return;
    }
    // SNI carries names only (RFC 6066 §3): none for an address, which is still verified.
    const servername = net.isIP(params.host) ? undefined : params.host;
    let tcpUp = false;
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      ca: params.ca,
      servername,
      minVersion: 'TLSv1.2',
      // Checked below, so that expiry and name are told apart (CAOPEN 24/25/26) and no byte is
      // sent to a server that failed them.
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    socket.once('connect', () => (tcpUp = true));
    const onError = () => {
      socket.destroy();
      resolve({ failure: tcpUp ? 'untrusted' : 'connect' });
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      socket.off('error', onError);
      socket.on('error', () => undefined); // the caller adds its own; never an unhandled 'error'
      const chain = socket.authorizationError as unknown as string | undefined;
      const expired = chain === 'CERT_HAS_EXPIRED' || chain === 'CERT_NOT_YET_VALID';
      const nameError = tls.checkServerIdentity(params.host, socket.getPeerCertificate());
      let failure: ConnectFailure | undefined;
      if (chain && !expired) failure = 'untrusted';
      else if (expired && nameError) failure = 'expired-and-mismatch';
      else if (expired) failure = 'cert-expired';
      else if (nameError) failure = 'cn-mismatch';
      if (failure) {
        socket.destroy();
        resolve({ failure });
      } else resolve({ socket });
    });
  });
}
