/** `xs-ota se provision`: the store file it writes is what the simulated A5000 loads and verifies with. */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hex } from '../../../src/util/bytes.js';
import { command } from '../../../tools/cli/se.js';
import { run } from '../../../tools/cli/main.js';
import { SimA5000, loadSimA5000Store } from '../../../tools/devkit/parts/sim-a5000.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { createSeDriver } from '../../support/se-driver.js';
import { fixturePath } from '../../support/paths.js';
import { mcubootCases, trustedKey } from '../../support/se-scenarios.js';

describe('cli: xs-ota se', () => {
  let dir: string;
  let store: string;
  const log = console.log;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'xs-ota-se-'));
    store = path.join(dir, 'a5000.json');
    console.log = () => undefined;
  });
  afterEach(() => {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  });

  it('provisions a PEM key; the simulated A5000 loaded from the store verifies the MCUboot image', async () => {
    const rc = await command.run(['provision', '--key', fixturePath('se05x-images', 'signing-key-p256.pub.pem'), '--store', store]);
    assert.equal(rc, 0);
    const objects = loadSimA5000Store(store);
    assert.equal(hex(objects.get(0x7b000201)!.value), hex(trustedKey()));
    const time = new VirtualTime();
    const sim = new SimA5000({ clock: time.clockPort(), objects });
    const driver = createSeDriver({ i2c: sim, clock: time.clockPort(), digest: new NodeDigest() });
    const image = mcubootCases().find((c) => c.expected === 'verified')!;
    assert.equal(await time.runFor(driver.verify(image)), 'verified');
  });

  it('takes a raw hex point and another object id, and removes it again', async () => {
    assert.equal(await command.run(['provision', '--key', fixturePath('se05x-images', 'other-key-p256.pub.raw.hex'), '--object', '0x7B000202', '--store', store]), 0);
    assert.ok(loadSimA5000Store(store).has(0x7b000202));
    assert.equal(await command.run(['remove', '--object', '0x7B000202', '--store', store]), 0);
    assert.equal(loadSimA5000Store(store).size, 0);
  });

  it('refuses a file that is no P-256 key, and reserved object ids', async () => {
    const junk = path.join(dir, 'junk.pem');
    writeFileSync(junk, 'not a key');
    const errors: string[] = [];
    const err = console.error;
    console.error = (...a: unknown[]) => void errors.push(a.join(' '));
    try {
      // A bad file: exit 1, one line, no OpenSSL text; a reserved id: a usage error, exit 2.
      assert.equal(await run(['se', 'provision', '--key', junk, '--store', store]), 1);
      assert.match(errors.join('\n'), /not a PEM\/DER public key/);
      assert.doesNotMatch(errors.join('\n'), /DECODER|error:[0-9A-F]{8}/);
      assert.equal(await run(['se', 'provision', '--key', fixturePath('se05x-images', 'signing-key-p256.pub.pem'), '--object', '0x7FFF0201', '--store', store]), 2);
      assert.match(errors.join('\n'), /applet-reserved/);
      // --help anywhere: usage, exit 0, nothing written.
      assert.equal(await command.run(['provision', '--help']), 0);
      assert.equal(await command.run(['provision', '--key', junk, '--store', store, '-h']), 0);
      assert.equal(await run(['se', 'provision', '--frob', 'x']), 2);
    } finally {
      console.error = err;
    }
    assert.throws(() => readFileSync(store), /ENOENT/);
  });
  it('keygen: the key pair is generated in the A5000 and kept in its store; csr: a PKCS#10 request signed in the SE, which openssl req -verify accepts', async () => {
    const lines: string[] = [];
    console.log = (...a: unknown[]) => void lines.push(a.join(' '));
    assert.equal(await command.run(['keygen', '--object', '0x7B000301', '--store', store]), 0);
    const object = loadSimA5000Store(store).get(0x7b000301)!;
    assert.equal(object.type, 'ec-p256-keypair');
    assert.match(lines.join('\n'), new RegExp(`public key ${hex(object.value)}`));
    assert.ok(!lines.join('\n').includes(hex((object as { secret: Uint8Array }).secret)), 'the secret is never printed');
    const csr = path.join(dir, 'device.csr');
    assert.equal(await command.run(['csr', '--object', '0x7B000301', '--subject', 'CN=device-42,O=Vendor,C=DE', '--out', csr, '--store', store]), 0);
    // openssl req -verify exits 0 either way: its verdict is the line it prints (stderr on 3.x).
    const verdict = (file: string, ...extra: string[]) => {
      const r = spawnSync('openssl', ['req', '-in', file, ...extra, '-verify', '-noout'], { encoding: 'utf8' });
      return `${r.stdout}${r.stderr}`;
    };
    assert.match(verdict(csr), /verify OK/);
    const out = execFileSync('openssl', ['req', '-in', csr, '-noout', '-subject', '-pubkey'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /subject=CN\s?=\s?device-42, O\s?=\s?Vendor, C\s?=\s?DE/);
    const pub = createPublicKey(out.slice(out.indexOf('-----BEGIN PUBLIC KEY-----')));
    const der = pub.export({ type: 'spki', format: 'der' });
    assert.equal(hex(new Uint8Array(der.subarray(der.length - 65))), hex(object.value), 'the CSR names the key generated in the SE');
    // A tampered request fails openssl's check: the verification is real.
    const text = readFileSync(csr, 'utf8');
    const body = Buffer.from(text.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
    body[body.length - 5] ^= 0x01;
    const bad = path.join(dir, 'bad.csr');
    writeFileSync(bad, body);
    const badVerdict = verdict(bad, '-inform', 'DER');
    assert.match(badVerdict, /verify fail/);
    assert.doesNotMatch(badVerdict, /verify OK/);
  });

  it('keygen refuses an object holding a public key; csr needs a key pair and a subject', async () => {
    assert.equal(await command.run(['provision', '--key', fixturePath('se05x-images', 'signing-key-p256.pub.pem'), '--store', store]), 0);
    await assert.rejects(command.run(['keygen', '--object', '0x7B000201', '--store', store]), /holds a ec-p256-public/);
    await assert.rejects(command.run(['csr', '--object', '0x7B000201', '--subject', 'CN=x', '--store', store]), /no key pair/);
    assert.equal(await command.run(['keygen', '--object', '0x7B000301', '--store', store]), 0);
    await assert.rejects(command.run(['csr', '--object', '0x7B000301', '--store', store]), /needs --subject/);
    await assert.rejects(command.run(['csr', '--object', '0x7B000301', '--subject', 'XX=1', '--store', store]), /unknown/);
  });

  it('cert: a PEM chain goes into one binary object as DER certificates (WriteBinary, chunked); garbage and a missing --in are refused', async () => {
    const pemFile = path.join(dir, 'chain.pem');
    const pki = path.join(process.cwd(), 'tools', 'node', 'test-pki');
    const chainText = readFileSync(path.join(pki, 'server.pem'), 'utf8') + readFileSync(path.join(pki, 'ca.pem'), 'utf8');
    writeFileSync(pemFile, chainText);
    assert.equal(await command.run(['cert', '--object', '0x7B000304', '--in', pemFile, '--store', store]), 0);
    const object = loadSimA5000Store(store).get(0x7b000304)!;
    assert.equal(object.type, 'binary');
    const ders = [...chainText.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END/g)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
    assert.equal(ders.length, 2);
    assert.equal(hex(object.value), hex(new Uint8Array(Buffer.concat(ders))));
    assert.ok(object.value.length > 0xe0, 'more than one ReadObject chunk');
    const bad = path.join(dir, 'bad.pem');
    writeFileSync(bad, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await assert.rejects(command.run(['cert', '--object', '0x7B000304', '--in', bad, '--store', store]), /device certificate/);
    await assert.rejects(command.run(['cert', '--object', '0x7B000304', '--store', store]), /needs --in/);
  });
});
