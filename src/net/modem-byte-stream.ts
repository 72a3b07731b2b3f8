/**
 * A ByteStream (what the MQTT client runs on) over a modem TCP/TLS socket. The modem socket is
 * pull-based (`read` waits for the modem's data indication, then reads one block); this adapter
 * runs one read loop per stream and pushes each block to the stream's data handler.
 */
import type { Modem, ModemSocket } from '../modem/modem.js';
import { OtaError, isOtaError } from '../util/errors.js';
import type { ByteStream, ByteStreamConnector, StreamTarget } from './byte-stream.js';

/**
 * How long one read waits for data before it is simply issued again. Silence is normal on an
 * MQTT link between keep-alives; the MQTT client's own keep-alive timer decides when it is dead.
 */
export const SOCKET_IDLE_POLL_MS = 30_000;

class ModemByteStream implements ByteStream {
  #socket: ModemSocket;
  #onData: ((chunk: Uint8Array) => void) | undefined;
  #onClose: ((error?: OtaError) => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #pumping: Promise<void>;

  constructor(socket: ModemSocket) {
    this.#socket = socket;
    this.#pumping = this.#pump();
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new OtaError('closed', 'write on a closed modem stream'));
    return this.#socket.write(bytes);
  }

  onData(handler: (chunk: Uint8Array) => void): void {
    this.#onData = handler;
  }

  onClose(handler: (error?: OtaError) => void): void {
    this.#onClose = handler;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = this.#socket.close().catch(() => undefined);
  }

  /** The close command answered and the read loop ended: the modem's AT channel is quiet. */
  async released(): Promise<void> {
    await this.#closing;
    await this.#pumping;
  }

  async #pump(): Promise<void> {
    let error: OtaError | undefined;
    while (!this.#closed) {
      try {
        const n = await this.#socket.read((chunk) => this.#onData?.(chunk), SOCKET_IDLE_POLL_MS);
        if (n === 0) break; // the peer closed
      } catch (e) {
        if (isOtaError(e, 'timeout')) continue;
        error = isOtaError(e) ? e : new OtaError('link-lost', String(e), e);
        break;
      }
    }
    const wasOpen = !this.#closed;
    this.close();
    if (wasOpen || error) this.#onClose?.(error);
  }
}

/** Connector for the MQTT client: each connect opens one modem socket (TLS when asked). */
export function modemConnector(modem: Modem): ByteStreamConnector {
  return {
    async connect(target: StreamTarget): Promise<ByteStream> {
      await modem.ready();
      return new ModemByteStream(await modem.openSocket(target.host, target.port, target.tls));
    },
  };
}
