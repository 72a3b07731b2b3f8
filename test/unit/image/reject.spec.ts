/**
 * Every rejection reason the parser names, on crafted images (the public vector set covers the
 * imgtool-made ones): structure, flags, sizes, TLV areas, allow-list, algorithms, DER.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { encodeHeader, IMAGE_MAGIC, IMAGE_F } from '../../../src/image/header.js';
import { ImageStream } from '../../../src/image/image-stream.js';
import { encodeTlvArea, TLV, TLV_INFO_MAGIC, TLV_PROT_INFO_MAGIC } from '../../../src/image/tlv.js';
import { concatBytes } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { NodeDigest } from '../../../tools/node/node-digest.js';
import { NodeSignatureVerifier, p256KeyInfo } from '../../../tools/node/node-signature-verifier.js';
import { loadMcubootVectors, privatePem, trustedPublicPem } from '../../support/mcuboot-vectors.js';

const set = loadMcubootVectors();
const key = createPrivateKey(privatePem(set, set.trusted_key));
const other = createPrivateKey(privatePem(set, 'other-key-p256'));
const verifier = new NodeSignatureVerifier(trustedPublicPem(set));
const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());

interface Craft {
  flags?: number;
  hdrSize?: number;
  imgSize?: number;
  prot?: { type: number; value: Uint8Array }[];
  protMagic?: number;
  /** Unprotected TLVs from the region's hash, signature and key hash. */
  tlvs?: (h: Uint8Array, sig: Uint8Array, keyHash: Uint8Array, region: Uint8Array) => { type: number; value: Uint8Array }[];
  infoMagic?: number;
  /** Post-edit of the whole image. */
  edit?: (b: Uint8Array) => void;
}

function craft(c: Craft = {}): Uint8Array {
  const hdrSize = c.hdrSize ?? 0x200;
  const body = new Uint8Array(1000).map((_, i) => i & 0xff);
  const protArea = c.prot ? encodeTlvArea(c.protMagic ?? TLV_PROT_INFO_MAGIC, c.prot) : new Uint8Array(0);
  const head = new Uint8Array(Math.max(hdrSize, 32));
  encodeHeader({ magic: IMAGE_MAGIC, loadAddr: 0, hdrSize, protectTlvSize: protArea.length, imgSize: c.imgSize ?? body.length, flags: c.flags ?? 0, version: { major: 1, minor: 0, revision: 0, build: 0 } }, head);
  const region = concatBytes(head.subarray(0, hdrSize), body, protArea);
  const h = sha(region);
  const sig = new Uint8Array(cryptoSign('sha256', region, key));
  const kh = p256KeyInfo(key).keyHash;
  const list = c.tlvs ? c.tlvs(h, sig, kh, region) : [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: kh }, { type: TLV.ECDSA_SIG, value: sig }];
  const area = encodeTlvArea(c.infoMagic ?? TLV_INFO_MAGIC, list);
  const out = concatBytes(region, area);
  c.edit?.(out);
  return out;
}

function flipLast(sig: Uint8Array): Uint8Array {
  const out = sig.slice();
  out[out.length - 1] ^= 0x01;
  return out;
}

async function verdict(bytes: Uint8Array): Promise<string> {
  try {
    const s = new ImageStream({ digest: new NodeDigest() });
    s.push(bytes);
    await s.finish().verify(verifier, { trustedKeyHash: verifier.keyHash });
    return 'valid';
  } catch (error) {
    if (isOtaError(error)) return error.reason;
    throw error;
  }
}

const CASES: [string, Craft, string][] = [
  ['a crafted image', {}, 'valid'],
  ['bad header magic', { edit: (b) => (b[0] ^= 0xff) }, 'not-an-image'],
  ['hdr_size below 32', { hdrSize: 16 }, 'bad-header'],
  ['encrypted (AES128) flag', { flags: IMAGE_F.ENCRYPTED_AES128 }, 'unsupported-flags'],
  ['RAM_LOAD flag', { flags: IMAGE_F.RAM_LOAD }, 'unsupported-flags'],
  ['img_size beyond the slot minus trailer', { imgSize: 0x60000 - 3120 - 0x200 }, 'too-large'],
  ['an image reaching into the slot\'s last (trailer) sector', { imgSize: 0x5f000 - 0x200 - 2 }, 'last-sector'],
  ['img_size that overflows u32 with hdr_size', { imgSize: 0xffffffff }, 'too-large'],
  ['unprotected TLV info magic wrong', { infoMagic: 0x1234 }, 'tlv-malformed'],
  ['protected area with the unprotected magic', { prot: [{ type: TLV.SEC_CNT, value: new Uint8Array(4) }], protMagic: TLV_INFO_MAGIC }, 'tlv-malformed'],
  ['TLV length past its area', { edit: (b) => (b[1000 + 0x200 + 4 + 2] = 0xff) }, 'tlv-malformed'],
  ['vendor TLV in the unprotected area (allow-list)', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: 0xa0, value: new Uint8Array(2) }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }] }, 'tlv-unknown'],
  ['SEC_CNT in the unprotected area', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.SEC_CNT, value: new Uint8Array(4) }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }] }, 'tlv-unknown'],
  ['no SHA256 TLV', { tlvs: (_h, s, k) => [{ type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }] }, 'hash-missing'],
  ['SHA256 TLV of wrong length', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h.subarray(0, 20) }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }] }, 'tlv-malformed'],
  ['signature without a key before it', { tlvs: (h, s) => [{ type: TLV.SHA256, value: h }, { type: TLV.ECDSA_SIG, value: s }] }, 'signature-missing'],
  ['ED25519 signature only', { tlvs: (h, _s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ED25519, value: new Uint8Array(64) }] }, 'unsupported-signature'],
  ['RSA2048-PSS signature only', { tlvs: (h, _s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.RSA2048_PSS, value: new Uint8Array(256) }] }, 'unsupported-signature'],
  ['DER with a wrong SEQUENCE length', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: Uint8Array.from([s[0], s[1] + 1, ...s.subarray(2)]) }] }, 'signature-malformed'],
  ['DER with a negative r', { tlvs: (h, _s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: Uint8Array.from([0x30, 6, 2, 1, 0x80, 2, 1, 1]) }] }, 'signature-malformed'],
  ['DER with P-384-sized scalars', { tlvs: (h, _s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: Uint8Array.from([0x30, 100, 2, 48, ...new Uint8Array(48).fill(1), 2, 48, ...new Uint8Array(48).fill(1)]) }] }, 'unsupported-signature'],
  // mcuboot-rules.ts rule 8: without MCUBOOT_HW_KEY, PUBKEY is allowed but ignored, so the
  // signature after it has no key and never counts.
  ['PUBKEY (full key) instead of KEYHASH', { tlvs: (h, s) => [{ type: TLV.SHA256, value: h }, { type: TLV.PUBKEY, value: p256KeyInfo(key).spki }, { type: TLV.ECDSA_SIG, value: s }] }, 'signature-missing'],
  ['PUBKEY and KEYHASH: the KEYHASH selects the key', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.PUBKEY, value: p256KeyInfo(key).spki }, { type: TLV.ECDSA_SIG, value: s }] }, 'valid'],
  // Rule 5: every SHA256 TLV is compared.
  ['a second, non-matching SHA256 TLV', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }, { type: TLV.SHA256, value: new Uint8Array(32) }] }, 'hash-mismatch'],
  ['a second SHA256 TLV equal to the first', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }] }, 'valid'],
  ['a SHA256 TLV in the protected area (it cannot equal a hash over itself)', { prot: [{ type: TLV.SHA256, value: new Uint8Array(32) }] }, 'hash-mismatch'],
  // Rule 6 and 7: KEYHASH length; bootutil_find_key compares keyhash_len bytes.
  ['KEYHASH longer than 32 bytes', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: concatBytes(k, Uint8Array.of(0)) }, { type: TLV.ECDSA_SIG, value: s }] }, 'key-hash-malformed'],
  ['KEYHASH truncated to 16 bytes of the trusted key hash (bootutil_find_key memcmp)', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k.subarray(0, 16) }, { type: TLV.ECDSA_SIG, value: s }] }, 'valid'],
  // Rule 8: other algorithms' hashes and signatures are allowed and ignored.
  ['SHA384 TLV beside the SHA256 one', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.SHA384, value: new Uint8Array(48) }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }] }, 'valid'],
  ['ED25519 TLV beside the ECDSA signature', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ED25519, value: new Uint8Array(64) }, { type: TLV.ECDSA_SIG, value: s }] }, 'valid'],
  ['SIG_PURE unprotected (not allowed without MCUBOOT_SIGN_PURE)', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }, { type: TLV.SIG_PURE, value: Uint8Array.of(1) }] }, 'tlv-unknown'],
  ['ENC_X25519_SHA512 unprotected (not allowed without MCUBOOT_HMAC_SHA512)', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }, { type: TLV.ENC_X25519_SHA512, value: new Uint8Array(4) }] }, 'tlv-unknown'],
  // Rule 10: the last signature under the provisioned key decides.
  [
    'two signatures under the trusted key, the last bad',
    { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: flipLast(s) }] },
    'bad-signature',
  ],
  [
    'two signatures under the trusted key, the first bad',
    { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: flipLast(s) }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }] },
    'valid',
  ],
  [
    'the trusted key signs, then a bad signature under another key (skipped)',
    { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }, { type: TLV.KEYHASH, value: p256KeyInfo(other).keyHash }, { type: TLV.ECDSA_SIG, value: flipLast(s) }] },
    'valid',
  ],
  ['ECDSA_SIG over 128 bytes under the trusted key', { tlvs: (h, _s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: new Uint8Array(129) }] }, 'signature-malformed'],
  ['a KEYHASH in the protected area pairs with the unprotected ECDSA_SIG', { prot: [{ type: TLV.KEYHASH, value: p256KeyInfo(key).keyHash }], tlvs: (h, s) => [{ type: TLV.SHA256, value: h }, { type: TLV.ECDSA_SIG, value: s }] }, 'valid'],
  [
    'another key signs first, then the trusted key',
    {
      tlvs: (h, s, k, region) => [
        { type: TLV.SHA256, value: h },
        { type: TLV.KEYHASH, value: p256KeyInfo(other).keyHash },
        { type: TLV.ECDSA_SIG, value: new Uint8Array(cryptoSign('sha256', region, other)) },
        { type: TLV.KEYHASH, value: k },
        { type: TLV.ECDSA_SIG, value: s },
      ],
    },
    'valid',
  ],
  ['a TLV area above the buffer limit', { tlvs: (h, s, k) => [{ type: TLV.SHA256, value: h }, { type: TLV.KEYHASH, value: k }, { type: TLV.ECDSA_SIG, value: s }, { type: TLV.PUBKEY, value: new Uint8Array(1000) }] }, 'limit-exceeded'],
  ['SEC_CNT of 2 bytes', { prot: [{ type: TLV.SEC_CNT, value: new Uint8Array(2) }] }, 'tlv-malformed'],
];

describe('image/ImageStream: rejection reasons', () => {
  for (const [name, c, expected] of CASES) {
    it(`${name}: ${expected}`, async () => {
      assert.equal(await verdict(craft(c)), expected);
    });
  }

  it('allowLastSector: MCUboot\'s own limit (the trailer) applies instead', async () => {
    const s = new ImageStream({ digest: new NodeDigest(), allowLastSector: true });
    // The header alone is checked against the room: 0x5f000 - 2 + a few TLVs still fits below 0x5f3d0.
    const bytes = craft({ imgSize: 0x5f000 - 0x200 - 2 });
    assert.equal(s.push(bytes.subarray(0, 0x200)), 0x200);
  });

  it('the header is available (for the version policy) before the body arrives', () => {
    const bytes = craft();
    const s = new ImageStream({ digest: new NodeDigest() });
    s.push(bytes.subarray(0, 40));
    assert.equal(s.header?.version.major, 1);
    assert.equal(s.imageSize, undefined);
  });
});
