/**
 * `xs-ota image sign` writes imgtool's exact format: each vector that imgtool produced directly
 * (no post-processing) is re-signed from its regenerated input (README label rule) with the
 * vector's own (randomized) signature injected, and must equal the vector file byte for byte.
 * With a fresh signature, the result must pass our verifier.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ImageStream } from '../../../src/image/image-stream.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeSignatureVerifier } from '../../../tools/node/node-signature-verifier.js';
import { signImage, type SignOptions } from '../../../tools/image/imgtool-sign.js';
import { loadMcubootVectors, regenerateBody, trustedPublicPem, vectorBytes, type McubootVector } from '../../support/mcuboot-vectors.js';

const set = loadMcubootVectors();
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

/** The imgtool command line of a vector as SignOptions. */
function optionsOf(v: McubootVector): SignOptions {
  const argv = v.imgtool_command.split(/\s+/);
  const o: SignOptions = { version: '0' };
  const custom: { type: number; value: Uint8Array }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--key') o.keyPem = readFileSync(path.join(set.dir, argv[++i]), 'utf8');
    else if (a === '--version') o.version = argv[++i];
    else if (a === '--header-size') o.headerSize = Number(argv[++i]);
    else if (a === '--align') o.align = Number(argv[++i]);
    else if (a === '--slot-size') o.slotSize = Number(argv[++i]);
    else if (a === '--pad') o.pad = true;
    else if (a === '--confirm') o.confirm = true;
    else if (a === '--security-counter') o.securityCounter = Number(argv[++i]);
    else if (a === '--custom-tlv') {
      const type = Number(argv[++i]);
      const value = argv[++i];
      custom.push({ type, value: value.startsWith('0x') ? unhex(value.slice(2)) : new TextEncoder().encode(value) });
    }
  }
  if (custom.length) o.customTlvs = custom;
  return o;
}

function inputOf(v: McubootVector): Uint8Array {
  const body = regenerateBody(v.payload.label, v.payload.size, sha);
  assert.equal(hex(sha(body)), v.payload.sha256, 'regenerated body matches the README hash');
  const input = new Uint8Array(0x200 + body.length);
  input.set(body, 0x200);
  return input;
}

describe('tools/image signImage: imgtool 2.4.0 format', () => {
  for (const v of set.vectors.filter((x) => x.post_processing === null)) {
    it(`reproduces ${v.file} exactly (signature injected)`, () => {
      const sig = v.parsed.tlvs.find((t) => t.type === 0x22);
      const out = signImage(inputOf(v), { ...optionsOf(v), signFn: () => unhex(sig!.value_hex) });
      const expected = vectorBytes(set, v.file);
      assert.equal(out.length, expected.length);
      assert.ok(Buffer.from(out).equals(Buffer.from(expected)), 'byte-identical');
    });
  }

  it('a fresh signature verifies with the trusted key', async () => {
    // A vector with a SEC_CNT protected TLV, found by content (another set names files its own way).
    const v = set.vectors.find((x) => x.post_processing === null && x.key === set.trusted_key && x.parsed.protected_tlvs.some((t) => t.type === 0x50))!;
    const secCnt = new DataView(unhex(v.parsed.protected_tlvs.find((t) => t.type === 0x50)!.value_hex).buffer).getUint32(0, true);
    const out = signImage(inputOf(v), optionsOf(v));
    const s = new ImageStream({ digest: new NodeDigest() });
    s.push(out);
    const image = s.finish();
    const verifier = new NodeSignatureVerifier(trustedPublicPem(set));
    await image.verify(verifier, { trustedKeyHash: verifier.keyHash });
    assert.equal(image.securityCounter, secCnt);
  });

  it('refuses an image that leaves no room for the trailer', () => {
    assert.throws(() => signImage(new Uint8Array(0x60000 - 3120), { version: '1.0.0', slotSize: 0x60000 }), /too-large/);
  });
});
