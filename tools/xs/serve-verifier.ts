/** Host side of tools/xs/guest/remote-verifier.ts: serves a synchronous SignatureVerifier to XS. */
import type { SignatureCheck } from '../../src/image/signature.js';
import { OtaError } from '../../src/util/errors.js';
import type { XsSession } from './session.js';

export interface SyncSignatureVerifier {
  verifySync(check: SignatureCheck): void;
}

export function serveVerifier(session: XsSession, verifier: SyncSignatureVerifier): void {
  session.provide('signature.verify', (check: SignatureCheck) => {
    try {
      verifier.verifySync(check);
      return { ok: true };
    } catch (error) {
      if (error instanceof OtaError) return { ok: false, reason: error.reason, detail: error.detail };
      throw error;
    }
  });
}
