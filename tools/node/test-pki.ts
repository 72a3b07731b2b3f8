/**
 * The dev kit's test PKI (tools/node/test-pki/README.md says how it was made) and TLS on the
 * loopback servers.
 *
 * `acceptTls(server)` makes an existing loopback server speak TLS as well as plain TCP on the same
 * port: a connection whose first byte is a TLS handshake record (0x16) is handed to a TLS server with
 * the test certificate, and the decrypted socket to the server's own connection handler. So every
 * URL and `resolve` mapping stays as it is; the client (the simulated modem) decides, from the URL's
 * scheme, whether it speaks TLS, and then it must verify the certificate.
 *
 * `startTlsFront(target)` is the same in front of a server we do not control (mosquitto's plain
 * listener): it terminates TLS and pipes the bytes to `target`.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';

/** tools/node/test-pki (this file runs as build/tools/node/test-pki.js). */
const PKI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tools', 'node', 'test-pki');

const read = (name: string): string => readFileSync(path.join(PKI_DIR, name), 'latin1');

/** The test CA, PEM text: what the dev kit provisions as the agent's `caCert`. */
export const TEST_CA_PEM = read('ca.pem');
/** The test CA's private key, PEM: the dev kit's factory issues device certificates with it (agent TLS to hawkBit). */
export const TEST_CA_KEY_PEM = read('ca.key');
/** The test CA as the agent's `caCert` bytes. */
export const TEST_CA = new TextEncoder().encode(TEST_CA_PEM);
/** A CA that signed none of the servers' certificates ("wrong CA uploaded"). */
export const OTHER_CA = new TextEncoder().encode(read('other-ca.pem'));

/** Names the servers' certificate is valid for (subjectAltName). */
export const TEST_SERVER_NAMES = ['*.example.com', 'example.com', 'localhost', '127.0.0.1'] as const;

/** Which certificate a server presents: the valid one, or the same names with a 2000-2001 validity. */
export type ServerCertificate = 'valid' | 'expired';

/** The servers' key and certificate (valid: for *.example.com, localhost, 127.0.0.1; or expired). */
export function serverCertificate(kind: ServerCertificate): { key: string; cert: string } {
  return certificate(kind);
}

function certificate(kind: ServerCertificate): { key: string; cert: string } {
  return { key: read('server.key'), cert: read(kind === 'expired' ? 'expired.pem' : 'server.pem') };
}

/**
 * `ca` padded to exactly `length` bytes with comment lines before the PEM block (PEM readers skip
 * text before `-----BEGIN`), for transcripts that upload a CA of a fixed size.
 */
export function paddedCa(length: number, ca: Uint8Array = TEST_CA): Uint8Array {
  const pad = length - ca.length;
  if (pad < 0) throw new Error(`the CA is ${ca.length} bytes, more than ${length}`);
  const lines: string[] = [];
  let left = pad;
  while (left > 0) {
    // Lines of at most 64 characters plus '\n', the last one exactly what is left.
    const n = Math.min(left, 65);
    lines.push(n === 1 ? '\n' : '#'.padEnd(n - 1, ' ') + '\n');
    left -= n;
  }
  const out = new Uint8Array(length);
  out.set(new TextEncoder().encode(lines.join('')));
  out.set(ca, pad);
  return out;
}

/** CN of the client certificate each accepted TLS socket presented, verified against `clientCa`. */
const verifiedClients = new WeakMap<object, string>();

/** The verified client certificate's CN of the connection `socket` belongs to; undefined: none. */
export function verifiedClientCn(socket: object): string | undefined {
  return verifiedClients.get(socket);
}

/**
 * A server-side TLSSocket made from a raw socket does not set `authorized` (node's tls.Server
 * does that), hence this check: issued by `ca`, signed by it, valid now.
 */
function verifyClient(secure: tls.TLSSocket, ca: X509Certificate): string | undefined {
  const peer = secure.getPeerX509Certificate();
  if (!peer || !peer.checkIssued(ca) || !peer.verify(ca.publicKey)) return undefined;
  const now = Date.now();
  if (now < Date.parse(peer.validFrom) || now > Date.parse(peer.validTo)) return undefined;
  return /(?:^|\n)CN=([^\n]*)/.exec(peer.subject)?.[1];
}

/**
 * Sees one accepted TLS connection's bytes (the dev kit's counting taps,
 * tools/devkit/parts/mqtt-tls-tap.ts `serverTlsTap`): builds the TLS socket for `raw` with
 * `secureOptions`, and after the handshake gives the stream the server reads and writes instead
 * of that socket.
 */
export type TlsTapFactory = (raw: net.Socket, secureOptions: tls.TLSSocketOptions) => { secure: tls.TLSSocket; plaintext(): Duplex };

export interface TlsAcceptor {
  /** Switch the certificate new TLS connections see. */
  use(kind: ServerCertificate): void;
  /** TLS handshakes completed. */
  readonly handshakes: number;
  /** Of those, the ones with a client certificate verified against `clientCa` (the agent's TLS: the modem has none). */
  readonly clientAuthenticated: number;
}

/**
 * Serve TLS with the test certificate on `server`'s port too (see the module comment). Call it
 * before the server gets connections; it takes over the 'connection' listeners present now.
 */
export function acceptTls(server: net.Server, options: { certificate?: ServerCertificate; clientCa?: string; tap?: TlsTapFactory } = {}): TlsAcceptor {
  // clientCa: ask every client for a certificate and verify it against that CA, but let a client
  // without one in (the modem's TLS of the download has none): the application decides
  // (verifiedClientCn), as hawkBit behind a certificate-checking proxy does per path.
  const withClientCa = (c: { key: string; cert: string }) => (options.clientCa ? { ...c, ca: options.clientCa } : c);
  let context = tls.createSecureContext(withClientCa(certificate(options.certificate ?? 'valid')));
  const clientCa = options.clientCa ? new X509Certificate(options.clientCa) : undefined;
  const plain = server.listeners('connection') as ((socket: net.Socket) => void)[];
  server.removeAllListeners('connection');
  let handshakes = 0;
  let clientAuthenticated = 0;
  const handOver = (socket: net.Socket): void => {
    for (const listener of plain) listener.call(server, socket);
  };
  const serveTls = (raw: net.Socket): void => {
    const secureOptions: tls.TLSSocketOptions = { isServer: true, secureContext: context, ...(clientCa ? { requestCert: true, rejectUnauthorized: false } : {}) };
    // tap: the TLS runs over a stream that counts its records, and the server is given a
    // plaintext stream whose bytes are counted too (the dev kit's modem waits on those counts).
    const tapped = options.tap?.(raw, secureOptions);
    const secure = tapped?.secure ?? new tls.TLSSocket(raw, secureOptions);
    // The TLS socket takes over the connection; the raw one must still be destroyed with it, or
    // the server counts it open forever and close() never returns.
    secure.on('close', () => raw.destroy());
    // A client that refuses our certificate, or leaves, before the handshake is done: nothing to
    // serve, and nobody else would close the socket.
    let served = false;
    secure.on('error', () => secure.destroy());
    secure.once('end', () => served || secure.destroy());
    secure.once('secure', () => {
      served = true;
      const cn = clientCa && verifyClient(secure, clientCa);
      const stream = tapped ? tapped.plaintext() : secure;
      if (cn) {
        verifiedClients.set(stream, cn);
        clientAuthenticated++;
      }
      handshakes++;
      handOver(stream as net.Socket);
    });
  };
  // Connections still waiting for their first byte belong to no listener yet, so nobody else
  // would end them: close() destroys them, or it would wait for a client that never speaks (a
  // plain socket opened and left idle).
  const sniffing = new Set<net.Socket>();
  const close = server.close.bind(server);
  server.close = ((callback?: (error?: Error) => void) => {
    for (const socket of sniffing) socket.destroy();
    return close(callback);
  }) as typeof server.close;
  server.on('connection', (socket: net.Socket) => {
    sniffing.add(socket);
    socket.once('close', () => sniffing.delete(socket));
    socket.on('error', () => undefined);
    // A client that leaves before its first byte: nobody else will close the socket (node:http
    // servers allow half-open sockets), and the server would wait for it on close().
    const gone = (): void => void socket.destroy();
    socket.once('end', gone);
    const sniff = (): void => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) {
        if (!socket.destroyed) socket.once('readable', sniff);
        return;
      }
      socket.off('end', gone);
      sniffing.delete(socket);
      socket.unshift(first);
      // TLS record type 22 = handshake (RFC 8446 §5.1): a ClientHello. HTTP and MQTT start otherwise.
      if (first[0] === 0x16) serveTls(socket);
      else handOver(socket);
    };
    socket.once('readable', sniff);
  });
  return {
    use(kind) {
      context = tls.createSecureContext(withClientCa(certificate(kind)));
    },
    get handshakes() {
      return handshakes;
    },
    get clientAuthenticated() {
      return clientAuthenticated;
    },
  };
}

export interface TlsFront {
  readonly endpoint: { host: string; port: number };
  readonly tls: TlsAcceptor;
  close(): Promise<void>;
}

/** A loopback port that accepts TLS (test certificate) or plain TCP and pipes it to `target`. */
export async function startTlsFront(target: { host: string; port: number }): Promise<TlsFront> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((inbound) => {
    const outbound = net.connect(target.port, target.host);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  const acceptor = acceptTls(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port },
    tls: acceptor,
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
