/**
 * `xs-ota se`: the simulated A5000's key store, for QA.
 *
 *   xs-ota se provision --key PUBKEY.pem [--object 0x7B000201] [--store FILE]
 *   xs-ota se show [--store FILE]
 *   xs-ota se remove [--object 0x7B000201] [--store FILE]
 *   xs-ota se keygen --object ID [--store FILE]
 *   xs-ota se csr --object ID --subject CN=... [--out FILE.csr] [--store FILE]
 *   xs-ota se cert --object ID --in device.pem [--store FILE]
 *
 * `keygen` asks the simulated A5000, over T=1 with the agent's own SE05x driver, to generate a
 * P-256 key pair in the object (WriteECKey without key material) and prints the public key it
 * reads back (ReadObject answers the public point only). `csr` builds a PKCS#10 request for that
 * key, signed inside the SE (ECDSASign over the request's SHA-256), for the CA to issue the
 * device certificate.
 *
 * `provision` puts a P-256 public key (PEM or DER SubjectPublicKeyInfo, or the raw 04||X||Y point
 * in hex) into an object id of the store file the simulated dev kit loads, and prints the key
 * hash MCUboot images signed with it carry in their KEYHASH TLV. For a real A5000 see
 * docs/provisioning-a5000.md.
 */
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { p256Spki } from '../../src/se/image-verifier.js';
import { hex, unhex } from '../../src/util/bytes.js';
import { p256Point } from '../node/p256.js';
import { SIM_A5000_DEFAULT_STORE, loadSimA5000Store, objectIdText, saveSimA5000Store } from '../devkit/parts/sim-a5000.js';
import { EXIT, UsageError, wantsHelp } from './cli-common.js';
import type { Command } from './main.js';
import { writeFileSync } from 'node:fs';
import { Se05x } from '../../src/se/se05x.js';
import { T1Link } from '../../src/se/t1-link.js';
import { SimA5000 } from '../devkit/parts/sim-a5000.js';
import { VirtualTime } from '../devkit/parts/virtual-time.js';
import { buildCsr, pem } from '../devkit/pkcs10.js';
import { ecdsaSign, generateEcKey } from '../../src/se/se05x-keys.js';
import { parseDerChain } from '../../src/se/cert-chain.js';
import { pemChainDer, writeDeviceCertificate } from '../devkit/device-cert.js';

export const DEFAULT_STORE = SIM_A5000_DEFAULT_STORE;
const DEFAULT_OBJECT = 0x7b000201;

const USAGE = `usage:
  xs-ota se provision --key PUBKEY.pem [--object 0x7B000201] [--store ${DEFAULT_STORE}]
  xs-ota se show [--store ${DEFAULT_STORE}]
  xs-ota se remove [--object 0x7B000201] [--store ${DEFAULT_STORE}]
  xs-ota se keygen --object ID [--store ${DEFAULT_STORE}]
  xs-ota se csr --object ID --subject CN=... [--out FILE.csr] [--store ${DEFAULT_STORE}]
  xs-ota se cert --object ID --in device.pem [--store ${DEFAULT_STORE}]`;

function options(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}'`);
    if (!['--key', '--object', '--store', '--subject', '--out', '--in'].includes(a)) throw new UsageError(`unknown option ${a}`);
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${a} needs a value`);
    out[a.slice(2)] = value;
    i++;
  }
  return out;
}

function parseObjectId(text: string | undefined): number {
  if (text === undefined) return DEFAULT_OBJECT;
  const id = Number(text);
  if (!/^(0x[0-9a-f]{1,8}|\d+)$/i.test(text) || !Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new UsageError(`--object ${text}: not a 32-bit object id`);
  // 0x7FFF0000-0x7FFFFFFF is reserved for the applet (nano se05x_types.h).
  if (id >= 0x7fff0000 && id <= 0x7fffffff) throw new UsageError(`--object ${text}: in the applet-reserved range 0x7FFF0000-0x7FFFFFFF`);
  return id;
}

/** The uncompressed P-256 point of a PEM/DER SPKI file or a hex point. */
export function readPublicKey(file: string): Uint8Array {
  const content = readFileSync(file);
  const text = content.toString('utf8').trim();
  let point: Uint8Array;
  if (/^(04)?[0-9a-f]{128}$/i.test(text)) point = unhex(text.length === 128 ? `04${text}` : text);
  else {
    let key;
    try {
      key = text.includes('-----BEGIN') ? createPublicKey(text) : createPublicKey({ key: content, format: 'der', type: 'spki' });
    } catch (error) {
      void error; // OpenSSL's own text ("error:1E08010C:DECODER routines::unsupported") helps no one here
      throw new Error(`${file}: not a PEM/DER public key nor a hex P-256 point`);
    }
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`${file}: not a NIST P-256 public key (${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''})`);
    }
    const der = key.export({ type: 'spki', format: 'der' });
    point = new Uint8Array(der.subarray(der.length - 65));
  }
  if (!p256Point(point)) throw new Error(`${file}: not a point on P-256`);
  return point;
}

export function keyHashOf(point: Uint8Array): string {
  return createHash('sha256').update(p256Spki(point)).digest('hex');
}

/**
 * Runs `work` against the simulated A5000 holding `objects`, through the agent's T=1 link and
 * SE05x driver in virtual time (the same APDUs a device sends), then ends the APDU session.
 */
async function withSimulatedSe<T>(objects: ReturnType<typeof loadSimA5000Store>, work: (se: Se05x) => Promise<T>): Promise<T> {
  const time = new VirtualTime();
  // The CLI's A5000 draws keys from node:crypto, as a chip's TRNG would (not the sims' fixed seed).
  const sim = new SimA5000({ clock: time.clockPort(), objects, random: (n) => new Uint8Array(randomBytes(n)) });
  const se = new Se05x({ link: new T1Link({ i2c: sim, clock: time.clockPort() }) });
  try {
    return await time.runFor(work(se), { maxEvents: 200_000 });
  } finally {
    await time.runFor(se.close(), { maxEvents: 10_000 });
  }
}

export const command: Command = {
  summary: 'simulated A5000 key store: provision | show | remove | keygen | csr | cert',
  async run(args) {
    if (wantsHelp(args) || args[0] === 'help') {
      console.log(USAGE);
      return EXIT.done;
    }
    // A UsageError (exit 2) or any other error (exit 1) is printed as one line by tools/cli/main.ts.
    const [sub, ...rest] = args;
    if (!sub) throw new UsageError('missing subcommand: provision, show, remove, keygen, csr or cert');
    const opts = options(rest);
    const store = opts.store ?? DEFAULT_STORE;
    const objects = loadSimA5000Store(store);
    switch (sub) {
      case 'provision': {
        if (!opts.key) throw new UsageError('provision needs --key');
        const id = parseObjectId(opts.object);
        const point = readPublicKey(opts.key);
        objects.set(id, { type: 'ec-p256-public', value: point });
        mkdirSync(path.dirname(path.resolve(store)), { recursive: true });
        saveSimA5000Store(store, objects);
        console.log(`${store}: object ${objectIdText(id)} = P-256 public key ${hex(point)}`);
        console.log(`key hash (MCUboot KEYHASH TLV): ${keyHashOf(point)}`);
        return 0;
      }
      case 'show':
        if (objects.size === 0) console.log(`${store}: no objects`);
        for (const [id, object] of objects) {
          const extra = object.type === 'ec-p256-public' ? ` key hash ${keyHashOf(object.value)}` : object.type === 'ec-p256-keypair' ? ` public ${hex(object.value)}` : '';
          console.log(`${objectIdText(id)} ${object.type} ${object.value.length} bytes${extra}`);
        }
        return 0;
      case 'remove': {
        const id = parseObjectId(opts.object);
        if (!objects.delete(id)) {
          console.error(`${store}: no object ${objectIdText(id)}`);
          return 1;
        }
        saveSimA5000Store(store, objects);
        console.log(`${store}: removed ${objectIdText(id)}`);
        return 0;
      }
      case 'keygen': {
        if (!opts.object) throw new UsageError('keygen needs --object');
        const id = parseObjectId(opts.object);
        const existing = objects.get(id);
        if (existing && existing.type !== 'ec-p256-keypair') throw new Error(`${store}: object ${objectIdText(id)} holds a ${existing.type}; remove it first`);
        const point = await withSimulatedSe(objects, async (se) => {
          await generateEcKey(se, id);
          return se.readObject(id);
        });
        mkdirSync(path.dirname(path.resolve(store)), { recursive: true });
        saveSimA5000Store(store, objects);
        console.log(`${store}: object ${objectIdText(id)} = P-256 key pair generated in the A5000 (the private key stays there)`);
        console.log(`public key ${hex(point)}`);
        console.log(pem('PUBLIC KEY', p256Spki(point)).trimEnd());
        return 0;
      }
      case 'csr': {
        if (!opts.object) throw new UsageError('csr needs --object');
        if (!opts.subject) throw new UsageError('csr needs --subject (e.g. CN=device-42,O=Vendor)');
        const id = parseObjectId(opts.object);
        const object = objects.get(id);
        if (!object || object.type !== 'ec-p256-keypair') throw new Error(`${store}: object ${objectIdText(id)} is no key pair generated in the A5000 (run xs-ota se keygen --object ${objectIdText(id)})`);
        const subject = opts.subject;
        const csr = await withSimulatedSe(objects, async (se) => {
          const point = await se.readObject(id);
          return buildCsr(point, subject, (digest) => ecdsaSign(se, id, digest));
        });
        const text = pem('CERTIFICATE REQUEST', csr);
        if (opts.out) {
          writeFileSync(opts.out, text);
          console.log(`${opts.out}: PKCS#10 request for object ${objectIdText(id)}, ${subject}, signed in the A5000`);
        } else process.stdout.write(text);
        return 0;
      }
      case 'cert': {
        // The device certificate chain (PEM, leaf first) as DER certificates back to back in one
        // binary object, written with the agent's own WriteBinary, as a factory station would.
        if (!opts.object) throw new UsageError('cert needs --object');
        if (!opts.in) throw new UsageError('cert needs --in device.pem');
        const id = parseObjectId(opts.object);
        const der = pemChainDer(readFileSync(opts.in, 'utf8'), opts.in);
        // Garbage is refused before the store's object is touched.
        parseDerChain(der);
        const existing = objects.get(id);
        if (existing && existing.type !== 'binary') throw new Error(`${store}: object ${objectIdText(id)} holds a ${existing.type}; remove it first`);
        objects.delete(id);
        const count = await withSimulatedSe(objects, (se) => writeDeviceCertificate(se, id, der));
        mkdirSync(path.dirname(path.resolve(store)), { recursive: true });
        saveSimA5000Store(store, objects);
        console.log(`${store}: object ${objectIdText(id)} = ${count} certificate(s), ${der.length} bytes DER`);
        return 0;
      }
      default:
        throw new UsageError(`unknown subcommand '${sub}'`);
    }
  },
};

