/**
 * An MQTT-over-TLS listener that can count what it owes (issue 13/15: agent-TLS MQTT waits end on
 * counts, not on real silence).
 *
 * With TLS terminated in the agent, the simulated modem's socket carries TLS records, whose MQTT
 * packets no tracker on that socket can read (tools/devkit/parts/sim-modem/exchange.ts). So the
 * dev kit terminates that TLS itself, as a broker's TLS listener does (the broker's certificate
 * and key, a client certificate required and verified against the broker's CA), and forwards the
 * plaintext to the broker's plain listener. Here both sides are visible, and per connection it
 * counts:
 * - `rawIn` / `rawOut`: TLS bytes taken from the device / written to it. Node's TLS processes a
 *   pushed chunk synchronously and writes its answer (a handshake flight, session tickets) in the
 *   same call, so once `rawIn` covers what the device sent, every TLS answer is in `rawOut`;
 * - the plaintext MQTT exchange (an ExchangeTracker fed with both directions): what the broker
 *   owes, and each PUBACK / PUBLISH to the device for the cloud's work (tools/node/cloud-work.ts);
 * - `pendingWrites`: plaintext from the broker handed to TLS and not yet out as records.
 * The modem's socket (SimSocket) waits until it sent no byte the tap has not taken, nothing is
 * owed, nothing pending, and every byte the tap wrote has reached it.
 */
import * as net from 'node:net';
import { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ExchangeTracker } from './sim-modem/exchange.js';
import type { CloudWork } from '../../node/cloud-work.js';

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
    const secure = new tls.TLSSocket(wire as unknown as net.Socket, { isServer: true, secureContext: context, requestCert: true, rejectUnauthorized: true });
    let upstream: net.Socket | undefined;
    const end = (): void => {
      if (connection.closed) return;
      connection.closed = true;
      upstream?.destroy();
      secure.destroy();
      raw.destroy();
      taps.changed();
    };
    secure.on('error', end);
    secure.on('close', end);
    raw.on('close', end);
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
