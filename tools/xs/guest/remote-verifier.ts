/**
 * A SignatureVerifier inside XS that asks the host (tools/xs/serve-verifier.ts) to check the
 * signature: the dev kit's stand-in while the agent runs on xsnap without the simulated A5000.
 * Only the digest, key hash and signature cross, as with the real secure element.
 */
import type { SignatureVerifier } from '../../../src/image/signature.js';
import { OtaError } from '../../../src/util/errors.js';
import type { OtaReason } from '../../../src/agent/reasons.js';
import { hostCall } from './bridge.js';

export function remoteVerifier(): SignatureVerifier {
  return {
    async verify(check) {
      const r = hostCall<{ ok: boolean; reason?: string; detail?: string }>('signature.verify', check);
      if (!r.ok) throw new OtaError(r.reason as OtaReason, r.detail);
    },
  };
}
