/**
 * ByteStream (src/net/byte-stream.ts) over a Node `net` or `tls` socket: the dev kit's stand-in
 * for the modem's TLS socket, used by the tests, the IoTConnect double's cloud side and the XS
 * socket bridge.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { ByteStream, ByteStreamConnector, StreamTarget } from '../../src/net/byte-stream.js';
import { OtaError } from '../../src/util/errors.js';

/** Wrap a connected socket. */
export function socketByteStream(socket: net.Socket): ByteStream {
  let dataHandler: ((chunk: Uint8Array) => void) | undefined;
  let closeHandler: ((error?: OtaError) => void) | undefined;
  const early: Uint8Array[] = [];
  let ended: { error?: OtaError } | undefined;
  let closedByUs = false;
  let lastError: Error | undefined;

  const finish = (error?: OtaError): void => {
    if (ended) return;
    ended = { error };
    const handler = closeHandler;
    closeHandler = undefined;
    handler?.(error);
  };
  socket.on('data', (chunk: Buffer) => {
    if (ended) return;
    const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (dataHandler) dataHandler(bytes);
    else early.push(bytes.slice());
  });
  socket.on('error', (error) => {
    lastError = error;
  });
  socket.on('close', () => {
    if (closedByUs) finish();
    else {
      const isTls = socket instanceof tls.TLSSocket;
      const detail = lastError ? lastError.message : 'peer closed the connection';
      finish(new OtaError(isTls && lastError && /SSL|TLS|certificate|alert/i.test(lastError.message) ? 'tls-failed' : 'link-lost', detail, lastError));
    }
  });
  socket.on('end', () => {
    // The peer half-closed: MQTT has no use for a half-open socket.
    socket.end();
  });

  return {
    write(bytes) {
      if (ended || closedByUs) return Promise.reject(new OtaError('closed', 'stream closed'));
      return new Promise<void>((resolve, reject) => {
        socket.write(bytes, (error) => (error ? reject(new OtaError('link-lost', error.message, error)) : resolve()));
      });
    },
    onData(handler) {
      dataHandler = handler;
      while (early.length > 0 && dataHandler === handler && !ended) handler(early.shift()!);
    },
    onClose(handler) {
      if (ended) handler(ended.error);
      else closeHandler = handler;
    },
    close() {
      if (closedByUs) return;
      closedByUs = true;
      socket.destroy();
      finish();
    },
  };
}

export interface TlsCredentials {
  /** PEM of the CA that signed the server certificate. */
  ca: string | Buffer;
  /** PEM client certificate and key (mutual TLS). */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** SNI and name to check; default the target host. */
  servername?: string;
}

/** Open a TCP or TLS connection as a ByteStream. */
export function connectNode(target: StreamTarget, credentials?: TlsCredentials): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    const onError = (error: Error): void => {
      const code = (error as NodeJS.ErrnoException).code;
      reject(new OtaError(code === 'ENOTFOUND' ? 'dns-failed' : target.tls ? 'tls-failed' : 'link-lost', error.message, error));
    };
    if (target.tls) {
      if (!credentials) {
        reject(new OtaError('invalid-argument', 'TLS needs a CA'));
        return;
      }
      const servername = credentials.servername ?? target.host;
      socket = tls.connect({
        host: target.host,
        port: target.port,
        ca: credentials.ca,
        cert: credentials.cert,
        key: credentials.key,
        // SNI must be a name, not an address (RFC 6066 §3); the certificate check still runs.
        servername: net.isIP(servername) ? undefined : servername,
        checkServerIdentity: (host, cert) => tls.checkServerIdentity(servername, cert),
      });
      socket.once('secureConnect', () => {
        socket.off('error', onError);
        resolve(socketByteStream(socket));
      });
    } else {
      socket = net.connect({ host: target.host, port: target.port });
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(socketByteStream(socket));
      });
    }
    socket.setNoDelay(true);
    socket.once('error', onError);
  });
}

/** A ByteStreamConnector for Node: TLS targets use `credentials`. */
export function nodeConnector(credentials?: TlsCredentials): ByteStreamConnector & { opened: number } {
  const connector = {
    opened: 0,
    connect(target: StreamTarget): Promise<ByteStream> {
      connector.opened++;
      return connectNode(target, credentials);
    },
  };
  return connector;
}
