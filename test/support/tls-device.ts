/**
 * What the TLS specs against real servers share: a simulated A5000 with a device key generated in
 * it and a certificate from the test CA for a CSR it signed, client options, a tapped stream, and
 * readers for the ClientHello's extensions and the records' lengths.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link } from '../../src/se/t1-link.js';
import type { TlsClient, TlsClientOptions } from '../../src/tls/client.js';
import { Reader } from '../../src/tls/handshake.js';
import type { ByteStream } from '../../src/net/byte-stream.js';
import { SeKeyOps } from '../../src/tls/se-key-ops.js';
import { isOtaError } from '../../src/util/errors.js';
import type { OtaReason } from '../../src/agent/reasons.js';
import { utf8Decode, utf8Encode } from '../../src/util/bytes.js';
import { NodeDigest } from '../../tools/node/node-digest.js';
import { NodeTlsCrypto } from '../../tools/node/node-tls-crypto.js';
import { realClock } from '../../tools/node/real-clock.js';
import { SimA5000 } from '../../tools/devkit/parts/sim-a5000.js';
import { buildCsr } from '../../tools/devkit/pkcs10.js';
import { ecdsaSign, generateEcKey } from '../../src/se/se05x-keys.js';
import { readDeviceCertificate } from '../../src/tls/device-certificate.js';
import { writeDeviceCertificate } from '../../tools/devkit/device-cert.js';

export const PKI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tools', 'node', 'test-pki');
export const pki = (f: string) => readFileSync(path.join(PKI, f), 'utf8');
export const derOf = (pem: string) => new Uint8Array(Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'));
export const DEVICE_KEY = 0x7b000301;
/** The A5000 object the device certificate chain is written to and read back from (otaDeviceCert's default). */
export const DEVICE_CERT = 0x7b000304;

/**
 * The chain as a device presents it: written into the A5000's certificate object as `xs-ota se
 * cert` and the dev kit's factory step write it, then read back by the agent's boot read
 * (readDeviceCertificate: bounded, parsed, the leaf checked against the key at `deviceKeyId`).
 */
export async function viaCertificateObject(se: Se05x, certificates: Uint8Array[], deviceKeyId = DEVICE_KEY): Promise<Uint8Array[]> {
  await writeDeviceCertificate(se, DEVICE_CERT, new Uint8Array(Buffer.concat(certificates)));
  const chain = await readDeviceCertificate(se, { object: DEVICE_CERT }, deviceKeyId);
  assert.deepEqual(chain.map((c) => Buffer.from(c).toString('hex')), certificates.map((c) => Buffer.from(c).toString('hex')), 'the chain read back is the chain written');
  return chain;
}

export interface Device {
  se: Se05x;
  sim: SimA5000;
  certificatePem: string;
  keyOps: () => SeKeyOps;
}

/** A simulated A5000 with a device key generated inside it and a certificate from the test CA in its certificate object. */
export async function provisionDevice(dir: string): Promise<Device> {
  const clock = realClock();
  const sim = new SimA5000({ clock });
  const se = new Se05x({ link: new T1Link({ i2c: sim, clock }) });
  await generateEcKey(se, DEVICE_KEY);
  const point = await se.readObject(DEVICE_KEY);
  const csr = await buildCsr(point, 'CN=device-42,O=xs-ota test', (d) => ecdsaSign(se, DEVICE_KEY, d));
  writeFileSync(path.join(dir, 'device.csr'), csr);
  writeFileSync(path.join(dir, 'ca.key'), pki('ca.key'));
  writeFileSync(path.join(dir, 'ca.pem'), pki('ca.pem'));
  execFileSync('openssl', ['x509', '-req', '-inform', 'DER', '-in', 'device.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '30', '-out', 'device.pem'], { cwd: dir, stdio: 'pipe' });
  const certificatePem = readFileSync(path.join(dir, 'device.pem'), 'utf8');
  const certificateChain = await viaCertificateObject(se, [derOf(certificatePem)]);
  const keyOps = () => new SeKeyOps({ se, deviceKeyId: DEVICE_KEY, certificateChain, ephemeralKeyId: 0x7b000302, peerKeyId: 0x7b000303 });
  return { se, sim, certificatePem, keyOps };
}

export function connectTcp(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

export function options(device: Device, over: Partial<TlsClientOptions> = {}): TlsClientOptions {
  return {
    host: 'updates.example.com',
    trustAnchors: [derOf(pki('ca.pem'))],
    keys: device.keyOps(),
    crypto: new NodeTlsCrypto(),
    digest: new NodeDigest(),
    now: () => Math.floor(Date.now() / 1000),
    ...over,
  };
}

/** A stream whose bytes each way are kept: the ClientHello we sent, the records the server sent. */
export function tapped(stream: ByteStream): { stream: ByteStream; sent: Uint8Array[]; received: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  const received: Uint8Array[] = [];
  return {
    sent,
    received,
    stream: {
      write: (b) => (sent.push(b.slice()), stream.write(b)),
      onData: (h) => stream.onData((c) => (received.push(c.slice()), h(c))),
      onClose: (h) => stream.onClose(h),
      close: () => stream.close(),
    },
  };
}

/** The extensions of the ClientHello in our first record: type → body. */
export function helloExtensions(record: Uint8Array): Map<number, Uint8Array> {
  const r = new Reader(record.subarray(5 + 4), 'ClientHello');
  r.u16('version');
  r.bytes(32, 'random');
  r.vector(1, 'session');
  r.vector(2, 'suites');
  r.vector(1, 'compression');
  const exts = r.vector(2, 'extensions');
  const out = new Map<number, Uint8Array>();
  while (exts.left > 0) {
    const type = exts.u16('type');
    const e = exts.vector(2, 'body');
    out.set(type, e.bytes(e.left, 'body').slice());
  }
  return out;
}

/** Lengths of the records in the bytes the server sent. */
export function recordLengths(chunks: Uint8Array[]): number[] {
  const all = Buffer.concat(chunks);
  const out: number[] = [];
  for (let at = 0; at + 5 <= all.length; at += 5 + all.readUInt16BE(at + 3)) out.push(all.readUInt16BE(at + 3));
  return out;
}

/** Sends `text`, resolves with the first reply. */
export async function roundTrip(client: TlsClient, text: string): Promise<string> {
  const reply = new Promise<string>((resolve) => client.onData((chunk) => resolve(utf8Decode(chunk))));
  await client.write(utf8Encode(text));
  return reply;
}

export const rejectsWith = (reason: OtaReason, detail?: RegExp) => (error: unknown) => {
  assert.ok(isOtaError(error), String(error));
  assert.equal(error.reason, reason, error.message);
  if (detail) assert.match(error.message, detail);
  return true;
};


/** The extensions of the (plaintext, TLS 1.2) ServerHello at the start of what the server sent: type → body. */
export function serverHelloExtensions(chunks: Uint8Array[]): Map<number, Uint8Array> {
  const all = new Uint8Array(Buffer.concat(chunks));
  const r = new Reader(all.subarray(5 + 4, 5 + 4 + ((all[6] << 16) | (all[7] << 8) | all[8])), 'ServerHello');
  r.u16('version');
  r.bytes(32, 'random');
  r.vector(1, 'session');
  r.u16('suite');
  r.u8('compression');
  const exts = r.vector(2, 'extensions');
  const out = new Map<number, Uint8Array>();
  while (exts.left > 0) {
    const type = exts.u16('type');
    const e = exts.vector(2, 'body');
    out.set(type, e.bytes(e.left, 'body').slice());
  }
  return out;
}
