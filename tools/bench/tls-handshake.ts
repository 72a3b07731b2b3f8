/**
 * Bench figures for one handshake of the agent's TLS (src/tls) on the control channel: the
 * agent's modem driver over the simulated SIMCom modem's plain socket on a simulated UART, to a
 * node:tls server that requires a client certificate, every private-key operation in the
 * simulated A5000 (SeKeyOps over the agent's SE05x driver and T=1), all in virtual time. The
 * connector is the agent's own (agentTlsControlConnector, as createAgent builds it).
 *
 * Counts are deterministic but for ECDSA signatures, whose DER length varies by a byte or two
 * (the SE's and the server's), so bytes and times may move by that much between runs.
 */
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Modem } from '../../src/modem/modem.js';
import { Sim7080 } from '../../src/modem/sim7080.js';
import { Sim7600 } from '../../src/modem/sim7600.js';
import { modemConnector } from '../../src/net/modem-byte-stream.js';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link } from '../../src/se/t1-link.js';
import type { TlsConnection } from '../../src/tls/connection.js';
import { TlsClient } from '../../src/tls/client.js';
import type { AgentTlsVersion } from '../../src/tls/connector.js';
import { agentTlsControlConnector } from '../../src/tls/control-channel.js';
import { readDeviceCertificate } from '../../src/tls/device-certificate.js';
import { issueFromTestCa } from '../devkit/devkit-backends.js';
import { provisionDeviceIdentity } from '../devkit/device-identity.js';
import { SimA5000 } from '../devkit/parts/sim-a5000.js';
import { CAT_1, CAT_M, createSimModem } from '../devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../devkit/parts/virtual-time.js';
import { NodeDigest } from '../node/node-digest.js';
import { NodeTlsCrypto } from '../node/node-tls-crypto.js';
import { serverCertificate, TEST_CA, TEST_CA_PEM } from '../node/test-pki.js';

export interface HandshakeFigures {
  /** The versions offered (otaTlsVersions). */
  version: AgentTlsVersion;
  /** The version the server picked (it accepts only this one). */
  spoken: '1.3' | '1.2';
  modem: 'sim7080' | 'sim7600';
  baud: number;
  /** Virtual seconds from the connect call to application data (the plain socket's open included). */
  handshakeS: number;
  /** TLS record bytes the agent sent and received. */
  tlsBytesOut: number;
  tlsBytesIn: number;
  /** UART bytes each way during the handshake (AT commands and socket data). */
  uartToModem: number;
  uartFromModem: number;
  /** APDUs the A5000 processed for the handshake, and of which kind. */
  a5000Commands: number;
  a5000KeyGenerations: number;
  a5000Agreements: number;
  a5000Signatures: number;
  a5000Verifications: number;
  /** I2C bytes to and from the A5000. */
  i2cBytes: number;
}

/**
 * One handshake per call on a fresh rig: the device key generated in the simulated A5000 and
 * certified by the test CA (the dev kit's factory step), the modem brought up, the SE session open
 * (as the agent has it after the image check), then the handshake measured.
 * `server`: the one version the server accepts (default: the offered one; required for '1.3,1.2').
 * @example const f = await benchHandshake({ version: '1.3' }); console.log(f.handshakeS);
 */
export async function benchHandshake(options: { version: AgentTlsVersion; server?: '1.3' | '1.2'; modem?: 'sim7080' | 'sim7600'; baud?: number }): Promise<HandshakeFigures> {
  const spoken = options.server ?? (options.version === '1.3,1.2' ? undefined : options.version);
  if (!spoken) throw new Error("benchHandshake: the offer of both versions needs the server's version");
  const model = options.modem ?? 'sim7080';
  const baud = options.baud ?? 115_200;
  // The server checks the device certificate against the real clock (issued now): the device's
  // virtual clock starts there too.
  const time = new VirtualTime(Math.floor(Date.now() / 1000));
  const clock = time.clockPort();
  const server = tls.createServer({ ...serverCertificate('valid'), ca: TEST_CA_PEM, requestCert: true, rejectUnauthorized: true, minVersion: `TLSv${spoken}`, maxVersion: `TLSv${spoken}` }, (socket) => socket.on('error', () => undefined));
  server.on('tlsClientError', () => undefined);
  // Closed with the server, which otherwise waits for the device's close (virtual time stands still then).
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => (sockets.add(socket), socket.once('close', () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const a5000 = new SimA5000({ clock });
    const identity = await provisionDeviceIdentity(time, a5000, { caPem: TEST_CA_PEM, issue: (csr) => issueFromTestCa(csr, 'device-bench') }, 'CN=device-bench');
    const kit = createSimModem(time, {
      model: model === 'sim7080' ? 'sim7080g' : 'sim7600',
      server: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
      network: model === 'sim7080' ? CAT_M : CAT_1,
      ipr: model === 'sim7600' ? baud : 0,
      uart: { baud, flowControl: 'rts-cts' },
    });
    const ports = { serial: kit.uart.device, clock, powerKey: kit.modem.powerKey };
    const config = { caCert: TEST_CA, registrationPollMs: 1_000 };
    const modem: Modem = model === 'sim7080' ? new Sim7080(ports, config, { push: true, flowControl: 'rts-cts' }) : new Sim7600(ports, config, { push: true, flowControl: 'rts-cts' });
    await time.runFor(modem.ready(), { untilMs: 300_000 });
    const se = new Se05x({ link: new T1Link({ i2c: a5000, clock }) });
    // The boot read (startAgent's), before the counts: the handshake presents the chain read from
    // the A5000's certificate object.
    const chain = await time.runFor(readDeviceCertificate(se, { object: identity.deviceCertObject }, identity.deviceKeyId));
    await time.runFor(se.getRandom(4));
    const connector = agentTlsControlConnector(
      { deviceKeyId: identity.deviceKeyId, certificate: { chain }, version: options.version },
      { plain: modemConnector(modem), se, clock, digest: new NodeDigest(), crypto: new NodeTlsCrypto(), caPem: TEST_CA },
    );
    const sim = { ...a5000.stats };
    const uart = { ...kit.uart.counters };
    const start = time.now();
    const stream = (await time.runFor(connector.connect({ host: 'updates.example.com', port: 8883, tls: true }), { untilMs: start + 600_000 })) as TlsConnection;
    const handshakeS = (time.now() - start) / 1000;
    if ((stream instanceof TlsClient ? stream.version : '1.2') !== spoken) throw new Error(`benchHandshake: ${spoken} expected`);
    const figures: HandshakeFigures = {
      version: options.version,
      spoken,
      modem: model,
      baud,
      handshakeS: Math.round(handshakeS * 1000) / 1000,
      tlsBytesOut: stream.stats.bytesOut,
      tlsBytesIn: stream.stats.bytesIn,
      uartToModem: kit.uart.counters.toModemBytes - uart.toModemBytes,
      uartFromModem: kit.uart.counters.toHostBytes - uart.toHostBytes,
      a5000Commands: a5000.stats.commands - sim.commands,
      a5000KeyGenerations: a5000.stats.keyGenerations - sim.keyGenerations,
      a5000Agreements: a5000.stats.agreements - sim.agreements,
      a5000Signatures: a5000.stats.signatures - sim.signatures,
      a5000Verifications: a5000.stats.verifications - sim.verifications,
      i2cBytes: a5000.stats.bytesIn + a5000.stats.bytesOut - sim.bytesIn - sim.bytesOut,
    };
    stream.close();
    return figures;
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
