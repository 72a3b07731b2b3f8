/**
 * The device's TlsCryptoPort for a bundle that carries TLS in the agent (OTA_OPTIONS -tls or
 * -tls-delta, OTA_BACKEND all): AES-GCM and HMAC on crypt's native parts (modules/ota-tls-crypto.ts).
 * This module, ota-tls-crypto and the SDK's "gcm" and "hmac" are in the build only then: the
 * manifest fragment rollup writes beside each bundle (dist/xs-ota-<bundle>.manifest.json, included
 * by manifest.json) names them for a TLS bundle, and modules/absent/ota-tls-port.ts otherwise.
 */
// crypt's BlockCipher (native AES) is missing from the SDK's typings of "crypt": read from the namespace.
import * as crypt from 'crypt';
import { Digest } from 'crypt';
import GCM from 'gcm';
import HMAC from 'hmac';
import type { TlsCryptoPort } from 'xs-ota';
import { ModdableTlsCrypto, type ModdableTlsCryptoClasses } from 'ota-tls-crypto';

/** Holds only the classes, so it is built whichever TLS the settings choose. */
export function tlsCryptoPort(): TlsCryptoPort | undefined {
  return new ModdableTlsCrypto({ BlockCipher: (crypt as unknown as Pick<ModdableTlsCryptoClasses, 'BlockCipher'>).BlockCipher, GCM, HMAC, Digest } as unknown as ModdableTlsCryptoClasses);
}
