/**
 * The dev kit's TLS observer (tools/devkit/parts/tls13-observer.ts) on connections it cannot read:
 * it says so (`failed`, never `settled`) instead of guessing, so the modem's socket falls back to
 * its counted quiet rule. Its reading of a TLS 1.3 session with the device's key runs end to end in
 * test/e2e/iotconnect-agent-tls.spec.ts (mosquitto's own listener).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Tls13Observer } from '../../../tools/devkit/parts/tls13-observer.js';
import { serverCertificate, TEST_CA_PEM } from '../../../tools/node/test-pki.js';

/**
 * A node:tls handshake between a client (P-256, for 1.3 TLS_AES_128_GCM_SHA256 only: the agent's
 * offer) and a server limited to `maxVersion`, every byte each way fed to `observer`.
 */
async function observe(observer: Tls13Observer, maxVersion: tls.SecureVersion): Promise<void> {
  const { key, cert } = serverCertificate('valid');
  const server = tls.createServer({ key, cert, maxVersion }, (s) => s.end('x'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // A plain relay between client and server: the observer sees what a modem socket would.
  const relay = net.createServer((down) => {
    const up = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    down.on('data', (b: Buffer) => {
      observer.sent(new Uint8Array(b));
      up.write(b);
    });
    up.on('data', (b: Buffer) => {
      observer.received(new Uint8Array(b));
      down.write(b);
    });
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.on('error', () => undefined);
    up.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  try {
    // The handshake and one record each way are all the observer needs; how the close goes (an
    // end or a reset as the relay tears down) does not matter here.
    await new Promise<void>((resolve) => {
      const c = tls.connect({ port: (relay.address() as net.AddressInfo).port, host: '127.0.0.1', servername: 'localhost', ca: TEST_CA_PEM, ecdhCurve: 'P-256', ...(maxVersion === 'TLSv1.3' ? { ciphers: 'TLS_AES_128_GCM_SHA256' } : {}) }, () => c.on('data', () => c.end()));
      c.on('close', () => resolve());
      c.on('error', () => resolve());
    });
  } finally {
    relay.close();
    server.close();
  }
}

describe('dev kit TLS observer: connections it cannot read', () => {
  it('a key share the A5000 does not hold: failed, never settled', async () => {
    const observer = new Tls13Observer(() => undefined, 2);
    await observe(observer, 'TLSv1.3');
    assert.match(observer.failed ?? '', /key share is no key the A5000 holds/);
    assert.equal(observer.settled, false);
  });

  it('a server that picks TLS 1.2: failed (not TLS 1.3), never settled', async () => {
    // Any key "known": the ServerHello is where it stops.
    const observer = new Tls13Observer(() => () => new Uint8Array(32), 2);
    await observe(observer, 'TLSv1.2');
    assert.match(observer.failed ?? '', /not TLS 1\.3/);
    assert.equal(observer.settled, false);
  });

  it('a wrong shared secret: the first protected record does not open, failed', async () => {
    const observer = new Tls13Observer(() => () => new Uint8Array(32).fill(7), 2);
    await observe(observer, 'TLSv1.3');
    assert.match(observer.failed ?? '', /does not authenticate/);
    assert.equal(observer.settled, false);
  });
});
