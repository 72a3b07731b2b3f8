/**
 * PEM to DER (RFC 7468) for the certificates the agent is configured with: every
 * `-----BEGIN <label>-----` block of `text`, base64-decoded strictly (the alphabet, padding only
 * at the end). Anything else is `config-invalid`.
 */
import { asciiDecode } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64(text: string): Uint8Array {
  const clean = text.replace(/[\r\n\t ]/g, '');
  if (clean.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new OtaError('config-invalid', 'PEM body is not base64');
  const pad = clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((clean.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < clean.length; i += 4) {
    const n = (ALPHABET.indexOf(clean[i]) << 18) | (ALPHABET.indexOf(clean[i + 1]) << 12) | ((ALPHABET.indexOf(clean[i + 2]) & 63) << 6) | (ALPHABET.indexOf(clean[i + 3]) & 63);
    if (o < out.length) out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

/** The DER of each `label` block (default CERTIFICATE) in `pem` (text or its ASCII bytes). */
export function pemBlocks(pem: string | Uint8Array, label = 'CERTIFICATE'): Uint8Array[] {
  const text = typeof pem === 'string' ? pem : asciiDecode(pem);
  const out: Uint8Array[] = [];
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(base64(m[1]));
  if (out.length === 0) throw new OtaError('config-invalid', `no ${label} in the PEM text`);
  return out;
}
