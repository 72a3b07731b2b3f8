/**
 * A ModemSocket over a ByteStream, so that the agent's HTTP/1.1 client (SocketHttpClient) can run
 * over a stream some other layer set up: the hawkBit DDI control channel over TLS terminated in
 * the agent (src/tls, plain modem socket underneath) with otaControlTls agent. The stream
 * pushes; the HTTP client pulls one block per read, so the blocks in between are queued, bounded
 * by STREAM_SOCKET_QUEUE_MAX (past it the connection fails with `limit-exceeded`, never grows).
 */
import type { ByteSink, ModemSocket } from '../modem/modem.js';
import type { ClockPort } from '../platform/clock.js';
import { OtaError } from '../util/errors.js';
import type { ByteStream, ByteStreamConnector } from './byte-stream.js';

/**
 * Bytes received and not yet read. The HTTP client reads as it parses (a control-channel answer
 * is JSON, parsed as it comes), so the queue holds a record or two; a sink that waits while the
 * server sends on (the modem's reads do not stop for it) may fill it: 8 KiB is four 2 KiB records.
 */
export const STREAM_SOCKET_QUEUE_MAX = 8 * 1024;

/** How SocketHttpClient opens a connection: the modem's own socket by default. */
export type SocketOpener = (host: string, port: number, tls: boolean) => Promise<ModemSocket>;

class StreamSocket implements ModemSocket {
  readonly #stream: ByteStream;
  readonly #clock: ClockPort;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #closed = false;
  #error: OtaError | undefined;
  #overflow: OtaError | undefined;
  #wake: (() => void) | undefined;

  constructor(stream: ByteStream, clock: ClockPort) {
    this.#stream = stream;
    this.#clock = clock;
    stream.onData((chunk) => {
      if (this.#overflow) return;
      if (this.#queued + chunk.length > STREAM_SOCKET_QUEUE_MAX) {
        this.#overflow = new OtaError('limit-exceeded', `more than ${STREAM_SOCKET_QUEUE_MAX} bytes received and not read`);
        stream.close();
      } else {
        // The stream's chunk is valid only during this call (src/net/byte-stream.ts).
        this.#queue.push(chunk.slice());
        this.#queued += chunk.length;
      }
      this.#wake?.();
    });
    stream.onClose((error) => {
      this.#ended = true;
      this.#error = error;
      this.#wake?.();
    });
  }

  get closed(): boolean {
    return this.#closed || this.#ended;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new OtaError('closed', 'write on a closed socket'));
    return this.#stream.write(bytes);
  }

  async read(sink: ByteSink, idleMs: number): Promise<number> {
    for (;;) {
      if (this.#overflow) throw this.#overflow;
      const chunk = this.#queue.shift();
      if (chunk) {
        this.#queued -= chunk.length;
        await sink(chunk);
        return chunk.length;
      }
      if (this.#error) throw this.#error;
      if (this.#ended || this.#closed) return 0;
      await this.#dataOrTimeout(idleMs);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.close();
    this.#wake?.();
    await this.#stream.released?.();
  }

  #dataOrTimeout(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#wake = undefined;
        reject(new OtaError('timeout', `no data for ${ms} ms`));
      }, ms);
      this.#wake = () => {
        this.#clock.clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}

/**
 * Sockets from `connector` (its own TLS: the caller asks for https and gets the connector's
 * stream, e.g. agentTlsConnector over the modem's plain socket).
 */
export function streamSocketOpener(connector: ByteStreamConnector, clock: ClockPort): SocketOpener {
  return async (host, port, tls) => new StreamSocket(await connector.connect({ host, port, tls }), clock);
}
