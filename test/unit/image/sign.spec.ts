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
import { loadMcubootVectors, privatePem, regenerateBody, trustedPublicPem, vectorBytes, type McubootVector } from '../../support/mcuboot-vectors.js';

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

describe('tools/image signImage --align-end', () => {
  const keyPem = privatePem(set, set.trusted_key);
  /** What MCUboot's boot_read_image_size returns: header + body + protected TLVs + TLV area. */
  const copySize = (out: Uint8Array) => {
    const v = new DataView(out.buffer, out.byteOffset);
    const tlvOff = v.getUint16(8, true) + v.getUint32(12, true);
    const prot = v.getUint16(10, true);
    return tlvOff + prot + v.getUint16(tlvOff + prot + 2, true);
  };

  it('ends every signed image on the boundary, whatever the signature length', () => {
    const input = new Uint8Array(0x200 + 5000).fill(0x5a);
    input.fill(0, 0, 0x200);
    const lengths = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const out = signImage(input, { keyPem, version: '1.0.0+1', alignEnd: 0x1000, securityCounter: i });
      assert.equal(out.length % 0x1000, 0, `attempt ${i}: ${out.length} bytes`);
      assert.equal(copySize(out), out.length);
      const s = new ImageStream({ digest: new NodeDigest() });
      s.push(out);
      lengths.add(s.finish().tlvs.find((t) => t.type === 0x22)!.value.length);
    }
    assert.ok(lengths.size >= 2, `signatures of several lengths were tried (${[...lengths]})`);
  });

  it('pads with erased bytes inside the hashed body, and the signature verifies', async () => {
    const input = new Uint8Array(0x200 + 70_000).fill(0x11);
    input.fill(0, 0, 0x200);
    const out = signImage(input, { keyPem, version: '1.2.3+4', alignEnd: 0x10000, slotSize: 0x60000 });
    assert.equal(out.length, 0x20000);
    const imgSize = new DataView(out.buffer).getUint32(12, true);
    assert.ok(imgSize > 70_000, 'the padding counts in ih_img_size');
    assert.ok(out.subarray(0x200 + 70_000, 0x200 + imgSize).every((b) => b === 0xff), 'the padding is 0xff');
    const s = new ImageStream({ digest: new NodeDigest() });
    s.push(out);
    const image = s.finish();
    const verifier = new NodeSignatureVerifier(trustedPublicPem(set));
    await image.verify(verifier, { trustedKeyHash: verifier.keyHash });
  });

  it('unsigned images end on the boundary too', () => {
    const out = signImage(new Uint8Array(0x200 + 123), { version: '1.0.0', alignEnd: 0x400 });
    assert.equal(out.length, 0x400);
    assert.equal(copySize(out), 0x400);
  });

  it('refuses an alignment whose padded image leaves no room for the trailer', () => {
    const input = new Uint8Array(0x200 + 0x50000);
    assert.ok(signImage(input, { keyPem, version: '1.0.0', slotSize: 0x60000 }).length < 0x60000);
    assert.throws(() => signImage(input, { keyPem, version: '1.0.0', slotSize: 0x60000, alignEnd: 0x20000 }), /too-large/);
  });

  it('refuses an alignment that is not a power of two', () => {
    assert.throws(() => signImage(new Uint8Array(0x200), { version: '1.0.0', alignEnd: 0x3000 }), /invalid-argument|align-end/);
  });
});
