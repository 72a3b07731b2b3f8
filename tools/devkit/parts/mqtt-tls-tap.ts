/**
 * TLS listeners that can count what they owe (issue 13/15: waits of sockets with TLS in the agent
 * end on counts, not on real silence).
 *
 * With TLS terminated in the agent, the simulated modem's socket carries TLS records, whose MQTT
 * or HTTP inside no tracker on that socket can read (tools/devkit/parts/sim-modem/exchange.ts). So
 * the dev kit terminates that TLS where it can see both sides:
 * - MQTT (`startMqttTlsTap`): as a broker's TLS listener does (the broker's certificate and key, a
 *   client certificate required and verified against the broker's CA), forwarding the plaintext
 *   to the broker's plain listener;
 * - hawkBit DDI (`serverTlsTap`): inside the reference server's own TLS listener
 *   (tools/node/test-pki.ts acceptTls `tap`), which keeps its certificate checks and serves the
 *   plaintext stream the tap hands it.
 * Per connection it counts:
 * - `rawIn` / `rawOut`: TLS bytes taken from the device / written to it. Node's TLS processes a
 *   pushed chunk synchronously and writes its answer (a handshake flight, session tickets) in the
 *   same call, so once `rawIn` covers what the device sent, every TLS answer is in `rawOut`;
 * - the plaintext exchange (an ExchangeTracker fed with both directions): what the broker or the
 *   server owes, and each PUBACK / PUBLISH to the device for the cloud's work (tools/node/cloud-work.ts);
 * - `pendingWrites`: plaintext from the broker or server handed to TLS and not yet out as records.
 * The modem's socket (SimSocket) waits until it sent no byte the tap has not taken, nothing is
 * owed, nothing pending, and every byte the tap wrote has reached it.
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ExchangeTracker } from './sim-modem/exchange.js';
import type { CloudWork } from '../../node/cloud-work.js';
import type { TlsTapFactory } from '../../node/test-pki.js';

/** One device connection, as the tap counts it. */
export interface TapConnection {
  rawIn: number;
  rawOut: number;
  pendingWrites: number;
  readonly exchange: ExchangeTracker;
  /** The tap closed the device's connection (the broker closed, or TLS failed). */
  closed: boolean;
}

/** The taps' connections by the device socket's local port, and change notifications. */
export class TlsTaps {
  readonly #byPort = new Map<number, TapConnection>();
  readonly #ports = new Set<number>();
  readonly #listeners = new Set<() => void>();

  /** Whether a connection to `port` goes to a tap (then its waits need the tap's counts). */
  taps(port: number): boolean {
    return this.#ports.has(port);
  }

  /** The tap's view of the connection from local port `port` (undefined until it accepted it). */
  find(port: number): TapConnection | undefined {
    return this.#byPort.get(port);
  }

  listening(port: number): void {
    this.#ports.add(port);
  }

  add(port: number, connection: TapConnection): void {
    this.#byPort.set(port, connection);
    this.changed();
  }

  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}

export interface MqttTlsTap {
  readonly endpoint: { host: string; port: number };
  close(): Promise<void>;
}

/**
 * One device connection's TLS, counted (see the module comment): the TLS layer reads and writes
 * `wire`, which takes the device's bytes from `raw` and writes the TLS layer's to it.
 */
function countedTls(raw: net.Socket, taps: TlsTaps, secureOptions: tls.TLSSocketOptions): { secure: tls.TLSSocket; connection: TapConnection } {
  raw.on('error', () => undefined);
  const connection: TapConnection = { rawIn: 0, rawOut: 0, pendingWrites: 0, exchange: new ExchangeTracker(), closed: false };
  taps.add(raw.remotePort ?? 0, connection);
  // The TLS layer reads and writes this stream, so every TLS byte each way is counted here.
  const wire = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      connection.rawOut += chunk.length;
      raw.write(chunk);
      taps.changed();
      done();
    },
    final(done) {
      raw.end();
      done();
    },
  });
  raw.on('data', (chunk: Buffer) => {
    wire.push(chunk);
    connection.rawIn += chunk.length;
    taps.changed();
  });
  raw.on('end', () => wire.push(null));
  // A socket a sniffing server read its first byte from (tools/node/test-pki.ts acceptTls) is
  // paused: flowing again, that byte first.
  raw.resume();
  const secure = new tls.TLSSocket(wire as unknown as net.Socket, { ...secureOptions, isServer: true });
  const end = (): void => {
    if (connection.closed) return;
    connection.closed = true;
    secure.destroy();
    raw.destroy();
    taps.changed();
  };
  secure.on('error', end);
  secure.on('close', end);
  raw.on('close', end);
  return { secure, connection };
}

/**
 * The plaintext side of a counted TLS connection as a stream for a server of our own (the
 * reference server's HTTP, tools/node/test-pki.ts acceptTls `tap`): what the device sends is read
 * by the tracker before the server sees it, what the server writes before TLS takes it.
 */
function plaintextStream(secure: tls.TLSSocket, connection: TapConnection, taps: TlsTaps): Duplex {
  const x = connection.exchange;
  const plain = new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      x.received(new Uint8Array(chunk));
      connection.pendingWrites++;
      secure.write(chunk, () => {
        connection.pendingWrites--;
        taps.changed();
      });
      taps.changed();
      done();
    },
    final(done) {
      // The server ends the connection (`Connection: close`): after its last bytes are out as records.
      secure.end();
      done();
    },
    destroy(error, done) {
      secure.destroy();
      done(error);
    },
  });
  secure.on('data', (bytes: Buffer) => {
    x.sent(new Uint8Array(bytes));
    plain.push(bytes);
    taps.changed();
  });
  secure.on('end', () => plain.push(null));
  secure.on('close', () => plain.destroy());
  return plain;
}

/**
 * Counting taps for a server's own TLS listener (tools/node/test-pki.ts `acceptTls` with `tap`:
 * the reference server's, hawkBit DDI with TLS in the agent). The server keeps its certificate
 * checks (it asks for the client's certificate and reads the verified CN) and serves the
 * plaintext stream; register its port with `taps.listening(port)` once it listens.
 */
export function serverTlsTap(taps: TlsTaps): TlsTapFactory {
  return (raw, secureOptions) => {
    const { secure, connection } = countedTls(raw, taps, secureOptions);
    return { secure, plaintext: () => plaintextStream(secure, connection, taps) };
  };
}

/** Listens on loopback: TLS from the device (client certificate required), plaintext to `broker`. */
export async function startMqttTlsTap(options: {
  broker: { host: string; port: number };
  key: string;
  cert: string;
  /** CA the device's certificate must chain to. */
  ca: string;
  taps: TlsTaps;
  work?: CloudWork;
}): Promise<MqttTlsTap> {
  const { taps, work } = options;
  const context = tls.createSecureContext({ key: options.key, cert: options.cert, ca: options.ca });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
    const { secure, connection } = countedTls(raw, taps, { secureContext: context, requestCert: true, rejectUnauthorized: true });
    let upstream: net.Socket | undefined;
    secure.on('close', () => upstream?.destroy());
    secure.on('secure', () => {
      const up = net.connect(options.broker.port, options.broker.host);
      upstream = up;
      sockets.add(up);
      up.on('close', () => {
        sockets.delete(up);
        // After the broker's last bytes are out as records: the close is the device's answer.
        secure.end();
      });
      up.on('error', () => undefined);
      secure.on('data', (plain: Buffer) => {
        connection.exchange.sent(new Uint8Array(plain));
        up.write(plain);
        taps.changed();
      });
      up.on('data', (plain: Buffer) => {
        const x = connection.exchange;
        const pubacks = x.pubacksIn;
        const publishes = x.publishesIn;
        x.received(new Uint8Array(plain));
        connection.pendingWrites++;
        secure.write(plain, () => {
          connection.pendingWrites--;
          taps.changed();
        });
        work?.acknowledged(x.pubacksIn - pubacks);
        work?.arrived(x.publishesIn - publishes);
        taps.changed();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  taps.listening(port);
  return {
    endpoint: { host: '127.0.0.1', port },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
