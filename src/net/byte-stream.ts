/**
 * A connected, ordered, reliable duplex byte stream: what MQTT (and HTTP/1.1 over a socket) needs
 * from whatever carries it. On the device that is the modem's TLS socket (SIM7080G `AT+CA*` with
 * `CASSLCFG "SSL"`, SIM7600 `AT+CCH*`); in the dev kit a Node `net`/`tls` socket
 * (tools/node/node-byte-stream.ts) or a bridge to one from XS (tools/xs/serve-socket.ts).
 *
 * The contract, kept minimal so that an AT-command socket can honour it:
 * - `write` queues bytes; calls are ordered (a later call's bytes never go before an earlier
 *   call's, even when the earlier promise has not settled). It resolves when the transport took
 *   the bytes (not when the peer got them) and rejects with an OtaError (`closed`, `link-lost`, a
 *   modem reason) when it could not. The caller must not modify `bytes` until it settles.
 * - `onData` receives bytes in order, split anywhere. The chunk is valid only during the call.
 *   One handler; setting it again replaces it. Bytes that arrive before a handler is set are
 *   kept by the stream and delivered once one is set.
 * - `onClose` is called exactly once when the stream ends for any reason: with an OtaError when
 *   the peer or the link ended it (`link-lost`, `tls-failed`), with none after our own `close()`.
 *   No `onData` call follows it. Setting it after the stream ended calls it at once.
 * - `close` is total and idempotent: it ends the stream, drops queued writes (their promises
 *   reject with `closed`) and never throws.
 *
 * TLS, the server certificate check and the client certificate are the transport's business
 * (the modem's SSL context, set up at provisioning); the stream carries plaintext application bytes.
 */
import type { OtaError } from '../util/errors.js';

export interface ByteStream {
  write(bytes: Uint8Array): Promise<void>;
  onData(handler: (chunk: Uint8Array) => void): void;
  onClose(handler: (error?: OtaError) => void): void;
  close(): void;
  /**
   * Optional: resolves once the transport is released after `close()` (a modem socket: its close
   * command answered). A caller that resets the MCU next must wait for it, or the modem's late
   * answer meets the next boot's first command. Never rejects.
   */
  released?(): Promise<void>;
}

/** Where to connect. `tls` false is for loopback tests only; a device always uses TLS. */
export interface StreamTarget {
  host: string;
  port: number;
  tls: boolean;
}

/**
 * Opens byte streams. The MQTT backend connects per poll, so it is given a connector rather than a
 * stream. Rejects with an OtaError (`dns-failed`, `tls-failed`, `link-lost`, `timeout`, …).
 */
export interface ByteStreamConnector {
  connect(target: StreamTarget): Promise<ByteStream>;
}
