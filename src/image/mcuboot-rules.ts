/**
 * MCUboot's image checks for the build this agent pairs with, stated once. The agent must accept
 * exactly the images this bootloader boots: an image MCUboot would refuse costs a download, a
 * reboot and a revert; an image MCUboot would boot but the agent refuses is a lost update.
 *
 * Source read: mcu-tools/mcuboot @2d4bacc3 (2026-07-22)
 *   boot/bootutil/src/image_validate.c  bootutil_img_validate, allowed_unprot_tlvs,
 *                                       EXPECTED_HASH_TLV / EXPECTED_KEY_TLV / EXPECTED_SIG_TLV
 *   boot/bootutil/src/tlv.c             bootutil_tlv_iter_begin, bootutil_tlv_iter_next,
 *                                       bootutil_tlv_iter_is_prot
 *   boot/bootutil/src/bootutil_find_key.c  bootutil_find_key (the KEYHASH lookup)
 *   boot/bootutil/src/bootutil_misc.c   bootutil_max_image_size (swap-scratch: app_max_size)
 *
 * Build mirrored (MCUBOOT_BUILD below): MCUBOOT_SIGN_EC256 with SHA-256, MCUBOOT_USE_TLV_ALLOW_LIST,
 * MCUBOOT_VALIDATE_PRIMARY_SLOT, MCUBOOT_SWAP_USING_SCRATCH, one image, one key; NOT defined:
 * MCUBOOT_HW_KEY (so the key TLV is KEYHASH and PUBKEY is ignored), MCUBOOT_BUILTIN_KEY,
 * MCUBOOT_SIGN_PURE, MCUBOOT_ENC_IMAGES, MCUBOOT_HMAC_SHA512, MCUBOOT_HW_ROLLBACK_PROT (SEC_CNT
 * is the agent's own anti-rollback policy, see version.ts). This is Zephyr's default for an
 * ECDSA P-256 key (CONFIG_BOOT_SIGNATURE_TYPE_ECDSA_P256, CONFIG_BOOT_HW_KEY=n).
 *
 * The rules, in bootutil_img_validate's order (the reason is what the agent reports):
 *
 * | # | rule (image_validate.c unless noted)                                         | reason |
 * |---|------------------------------------------------------------------------------|--------|
 * | 1 | tlv_end beyond bootutil_max_image_size (slot minus trailer)                   | too-large |
 * | 2 | TLVs are walked protected area first, then unprotected (tlv.c iter_next)      | - |
 * | 3 | an unprotected TLV not in allowed_unprot_tlvs ends validation                 | tlv-unknown |
 * | 4 | a SHA256 TLV (either area) whose len != 32 ends validation                    | tlv-malformed |
 * | 5 | every SHA256 TLV must equal the computed hash: a second, non-matching one     | hash-mismatch |
 * |   | fails even after a matching one                                              |        |
 * | 6 | a KEYHASH longer than 32 bytes (KEY_BUF_SIZE) ends validation                 | key-hash-malformed |
 * | 7 | a KEYHASH selects the key whose SPKI SHA-256 starts with it (bootutil_find_key|  - |
 * |   | memcmp over keyhash_len); no match leaves no key selected                    |        |
 * | 8 | PUBKEY, SHA384, SHA512, ED25519, RSA*, ECDSA224, ENC_*: allowed, then ignored | - |
 * | 9 | ECDSA_SIG with no key selected is skipped                                     | - |
 * |10 | ECDSA_SIG with a key selected: len > 128 (SIG_BUF_SIZE) ends validation;      | signature-malformed |
 * |   | else it is verified and its result REPLACES any earlier one; the key is reset |        |
 * |11 | no SHA256 TLV seen                                                           | hash-missing |
 * |12 | the last counted signature decides; none counted                             | signature-missing / key-mismatch / unsupported-signature |
 *
 * Rule 10 means: of two signatures under the provisioned key, the LAST decides (a good first
 * and a bad last is rejected; a bad first and a good last boots); a signature under an unknown
 * key counts for nothing either way.
 *
 * Pure functions over already-parsed TLVs: no I/O, no allocation beyond the result.
 */
import { bytesEqual, hex } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { TLV, tlvName, type Tlv } from './tlv.js';

/** The MCUboot configuration whose checks the agent mirrors (see the file comment). */
export const MCUBOOT_BUILD = {
  commit: '2d4bacc3c15ebb6f91c28807fe6eb38b4ba98f77',
  signature: 'MCUBOOT_SIGN_EC256',
  hash: 'SHA-256',
  tlvAllowList: true,
  hwKey: false,
  builtinKey: false,
  signPure: false,
  encImages: false,
  hmacSha512: false,
  hwRollbackProt: false,
} as const;

/** sha.h: EXPECTED_HASH_TLV is IMAGE_TLV_SHA256 without MCUBOOT_SHA512 / MCUBOOT_SIGN_EC384. */
export const EXPECTED_HASH_TLV = TLV.SHA256;
/** IMAGE_HASH_SIZE for SHA-256. */
export const IMAGE_HASH_SIZE = 32;
/** Without MCUBOOT_HW_KEY the key TLV is KEYHASH, KEY_BUF_SIZE = IMAGE_HASH_SIZE. */
export const EXPECTED_KEY_TLV = TLV.KEYHASH;
export const KEY_BUF_SIZE = IMAGE_HASH_SIZE;
/** MCUBOOT_SIGN_EC256: EXPECTED_SIG_TLV = IMAGE_TLV_ECDSA_SIG, SIG_BUF_SIZE 128. */
export const EXPECTED_SIG_TLV = TLV.ECDSA_SIG;
export const SIG_BUF_SIZE = 128;

/**
 * allowed_unprot_tlvs with this build's #ifs resolved: SIG_PURE only with MCUBOOT_SIGN_PURE
 * (off); ENC_X25519 without MCUBOOT_HMAC_SHA512 (ENC_X25519_SHA512 only with it).
 */
export const ALLOWED_UNPROTECTED: readonly number[] = [
  TLV.KEYHASH, TLV.PUBKEY, TLV.SHA256, TLV.SHA384, TLV.SHA512, TLV.RSA2048_PSS, TLV.ECDSA224,
  TLV.ECDSA_SIG, TLV.RSA3072_PSS, TLV.ED25519, TLV.ENC_RSA2048, TLV.ENC_KW, TLV.ENC_EC256,
  TLV.ENC_X25519,
];

/** Signature TLVs this build passes over (another algorithm's): they never count. */
const OTHER_SIGNATURES: readonly number[] = [TLV.RSA2048_PSS, TLV.ECDSA224, TLV.RSA3072_PSS, TLV.ED25519, TLV.SIG_PURE];

/** The signature whose verification decides (rule 12), with the full key hash it was matched to. */
export interface DecidingSignature {
  signature: Uint8Array;
  /** The KEYHASH TLV value as written (may be a prefix of the key's hash: rule 7). */
  keyHashTlv: Uint8Array;
  /** The provisioned key's full SPKI SHA-256 (what the verifier compares), or the TLV when unknown. */
  keyHash: Uint8Array;
  /** Image offset of the ECDSA_SIG TLV header. */
  offset: number;
}

/** True when a KEYHASH TLV value selects the key with SPKI hash `trusted` (bootutil_find_key). */
export function keyHashSelects(keyHashTlv: Uint8Array, trusted: Uint8Array): boolean {
  if (keyHashTlv.length > KEY_BUF_SIZE) return false;
  for (let i = 0; i < keyHashTlv.length; i++) if (keyHashTlv[i] !== trusted[i]) return false;
  return true;
}

/**
 * Walks the TLVs as bootutil_img_validate does (rules 3-12) and returns the signature whose
 * verification decides, or throws the reason the image is refused.
 *
 * `trustedKeyHash` is the provisioned key's SPKI SHA-256. Without it (an inspection tool with no
 * key) every ECDSA_SIG preceded by a 32-byte KEYHASH counts, and the last one is returned.
 *
 * @example
 *   const deciding = mcubootCheckTlvs(image.protectedTlvs, image.tlvs, image.computedHash, keyHash);
 *   await verifier.verify({ algorithm: 'ecdsa-p256', imageHash, keyHash: deciding.keyHash, signature: deciding.signature });
 */
export function mcubootCheckTlvs(protectedTlvs: readonly Tlv[], tlvs: readonly Tlv[], computedHash: Uint8Array, trustedKeyHash?: Uint8Array): DecidingSignature {
  let hashValid = false;
  let selected: Uint8Array | undefined;
  let deciding: DecidingSignature | undefined;
  let unknownKey: Uint8Array | undefined;
  let orphanSignature = false;
  let pubkeyOnly = false;
  let otherSignature: number | undefined;
  const all = protectedTlvs.length === 0 ? tlvs : [...protectedTlvs, ...tlvs];
  for (const t of all) {
    if (!t.protected && !ALLOWED_UNPROTECTED.includes(t.type)) {
      throw new OtaError('tlv-unknown', `unprotected TLV ${tlvName(t.type)} at ${t.offset} is not on MCUboot's allow-list (image_validate.c allowed_unprot_tlvs)`);
    }
    switch (t.type) {
      case EXPECTED_HASH_TLV:
        if (t.value.length !== IMAGE_HASH_SIZE) {
          throw new OtaError('tlv-malformed', `SHA256 TLV at ${t.offset} of ${t.value.length} bytes, MCUboot requires ${IMAGE_HASH_SIZE}`);
        }
        if (!bytesEqual(t.value, computedHash)) {
          const which = hashValid ? 'a second SHA256 TLV' : 'SHA256 TLV';
          throw new OtaError('hash-mismatch', `${which} at ${t.offset} is ${hex(t.value)}, computed ${hex(computedHash)}`);
        }
        hashValid = true;
        break;
      case EXPECTED_KEY_TLV:
        if (t.value.length > KEY_BUF_SIZE) {
          throw new OtaError('key-hash-malformed', `KEYHASH at ${t.offset} of ${t.value.length} bytes, MCUboot refuses more than ${KEY_BUF_SIZE} (KEY_BUF_SIZE)`);
        }
        if (trustedKeyHash) {
          selected = keyHashSelects(t.value, trustedKeyHash) ? t.value : undefined;
          if (!selected) unknownKey = t.value;
        } else {
          selected = t.value.length === IMAGE_HASH_SIZE ? t.value : undefined;
          if (!selected) unknownKey = t.value;
        }
        break;
      case EXPECTED_SIG_TLV:
        if (!selected) {
          orphanSignature = true;
          break;
        }
        if (t.value.length > SIG_BUF_SIZE) {
          throw new OtaError('signature-malformed', `ECDSA_SIG at ${t.offset} of ${t.value.length} bytes, MCUboot refuses more than ${SIG_BUF_SIZE} (SIG_BUF_SIZE)`);
        }
        deciding = { signature: t.value, keyHashTlv: selected, keyHash: trustedKeyHash ?? selected, offset: t.offset };
        selected = undefined;
        break;
      case TLV.PUBKEY:
        pubkeyOnly = true;
        break;
      default:
        if (OTHER_SIGNATURES.includes(t.type)) otherSignature ??= t.type;
        break;
    }
  }
  if (!hashValid) {
    const other = all.find((t) => t.type === TLV.SHA384 || t.type === TLV.SHA512);
    throw new OtaError('hash-missing', other ? `only ${tlvName(other.type)}; this MCUboot build checks SHA-256` : 'no SHA256 TLV');
  }
  if (deciding) return deciding;
  if (unknownKey && trustedKeyHash) {
    throw new OtaError('key-mismatch', `KEYHASH ${hex(unknownKey)} does not select the provisioned key ${hex(trustedKeyHash)}`);
  }
  if (unknownKey) throw new OtaError('key-hash-malformed', `KEYHASH of ${unknownKey.length} bytes cannot be checked without the key`);
  if (pubkeyOnly) {
    throw new OtaError('signature-missing', 'the image names its key with PUBKEY; MCUboot built without MCUBOOT_HW_KEY ignores PUBKEY and needs KEYHASH (sign with the key hash)');
  }
  if (otherSignature !== undefined) throw new OtaError('unsupported-signature', `${tlvName(otherSignature)}; this MCUboot build verifies ECDSA P-256 only`);
  if (orphanSignature) throw new OtaError('signature-missing', 'ECDSA_SIG without a KEYHASH before it');
  throw new OtaError('signature-missing', 'no KEYHASH + ECDSA_SIG TLVs (unsigned image)');
}
