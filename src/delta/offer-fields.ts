/**
 * The `deltas` list of an offer as the backends receive it (manifest `deltas: [...]`, hawkBit's
 * second artifact, IoTConnect's further `urls[]`): validated like every other backend field,
 * `backend-protocol` naming the bad one. docs/delta.md has the schema.
 */
import { arrayField, ID_MAX, integerField, objectField, sha256Field, stringField } from '../backend/json-http.js';
import type { DeltaOffer } from './plan.js';

/** Deltas one offer may list (one per source image still in the field). */
export const DELTAS_MAX = 8;
/** Largest delta, bytes (a delta larger than its image is never worth taking). */
export const DELTA_SIZE_MAX = 1 << 30;

/**
 * `[{ url, size, sha256, fromVersion, fromImageHash }]`, each url checked by `url` (the
 * backend's own rule: absolute, or relative to its origin).
 */
export function parseDeltas(value: unknown, name: string, url: (value: unknown, name: string) => string): DeltaOffer[] {
  const list = arrayField(value, name, DELTAS_MAX);
  return list.map((item, i) => {
    const at = `${name}[${i}]`;
    const o = objectField(item, at);
    return {
      url: url(o.url, `${at}.url`),
      size: integerField(o.size, `${at}.size`, 1, DELTA_SIZE_MAX),
      sha256: sha256Field(o.sha256, `${at}.sha256`),
      fromVersion: stringField(o.fromVersion, `${at}.fromVersion`, ID_MAX),
      fromImageHash: sha256Field(o.fromImageHash, `${at}.fromImageHash`),
    };
  });
}
