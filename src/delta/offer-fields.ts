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

/**
 * The naming convention for a delta among an offer's files where the protocol has no field for it
 * (hawkBit: a second artifact in the chunk; IoTConnect: a further file in `urls[]`):
 * `NAME.from-<source version>-<source image hash>.vcdiff`, e.g.
 * `app.from-1.0.0+1-447e2a…e5a3.vcdiff` (the hash: the source's SHA256 TLV, 64 lowercase hex
 * digits; the version may be left out: `app.from-447e2a…e5a3.vcdiff`). Undefined: not a delta.
 */
export function deltaSourceFromFilename(filename: string): { fromVersion: string; fromImageHash: Uint8Array } | undefined {
  const m = /(?:^|\.)from-(?:(\d{1,5}\.\d{1,5}\.\d{1,5}(?:\+\d{1,10})?)-)?([0-9a-f]{64})\.vcdiff$/.exec(filename);
  if (!m) return undefined;
  const hash = new Uint8Array(32);
  for (let i = 0; i < 32; i++) hash[i] = parseInt(m[2].slice(2 * i, 2 * i + 2), 16);
  return { fromVersion: m[1] ?? '', fromImageHash: hash };
}

/** The file name `deltaSourceFromFilename` reads (what `xs-ota image delta` suggests). */
export function deltaFilename(name: string, fromVersion: string, fromImageHash: string): string {
  return `${name}.from-${fromVersion}-${fromImageHash}.vcdiff`;
}
