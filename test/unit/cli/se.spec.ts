/** `xs-ota se provision`: the store file it writes is what the simulated A5000 loads and verifies with. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hex } from '../../../src/util/bytes.js';
import { command } from '../../../tools/cli/se.js';
import { run } from '../../../tools/cli/main.js';
import { SimA5000, loadSimA5000Store } from '../../../tools/devkit/sim-a5000.js';
import { NodeDigest } from '../../../tools/devkit/node-digest.js';
import { VirtualTime } from '../../../tools/devkit/virtual-time.js';
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
});
