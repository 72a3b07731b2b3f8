/**
 * The `deltas` list of an offer as the backends receive it (manifest `deltas: [...]`, hawkBit's
 * second artifact, IoTConnect's further `urls[]`): validated like every other backend field,
 * `backend-protocol` naming the bad one. docs/delta.md has the schema.
 */
import { unhex } from '../util/bytes.js';
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
export function deltaSourceFromFilename(filename: string): { fromVersion: string; fromImageHash: Uint8Array; size?: number; sha256?: Uint8Array } | undefined {
  const m = /(?:^|\.)from-(?:(\d{1,5}\.\d{1,5}\.\d{1,5}(?:\+\d{1,10})?)-)?([0-9a-f]{64})(?:\.size-(\d{1,10})\.sha256-([0-9a-f]{64}))?\.vcdiff$/.exec(filename);
  if (!m) return undefined;
  const source: { fromVersion: string; fromImageHash: Uint8Array; size?: number; sha256?: Uint8Array } = { fromVersion: m[1] ?? '', fromImageHash: unhex(m[2]) };
  if (m[3] !== undefined) {
    const size = Number(m[3]);
    if (!(size > 0 && size <= DELTA_SIZE_MAX)) return undefined;
    source.size = size;
    source.sha256 = unhex(m[4]);
  }
  return source;
}

/**
 * Deltas among a list of files that carry no sizes or hashes of their own (IoTConnect's
 * `urls[]`): those named `NAME.from-<version>-<image hash>.size-<bytes>.sha256-<hex>.vcdiff`
 * (the file name, else the URL's last path segment). A delta named without size and SHA-256 is
 * not taken: the agent checks both before decoding.
 */
export function deltasFromFiles(files: { url: string; fileName?: string }[]): DeltaOffer[] {
  const out: DeltaOffer[] = [];
  for (const f of files) {
    const s = deltaSourceFromFilename(fileNameOf(f));
    if (s?.size !== undefined && s.sha256 !== undefined && out.length < DELTAS_MAX) {
      out.push({ url: f.url, size: s.size, sha256: s.sha256, fromVersion: s.fromVersion, fromImageHash: s.fromImageHash });
    }
  }
  return out;
}

/** A file's name: its own, else the URL's last path segment. */
export function fileNameOf(f: { url: string; fileName?: string }): string {
  return f.fileName ?? f.url.split('?')[0].split('/').pop() ?? '';
}

/** True for a file named as a delta (never taken as the image itself). */
export function isDeltaFile(f: { url: string; fileName?: string }): boolean {
  return deltaSourceFromFilename(fileNameOf(f)) !== undefined;
}

/**
 * The file name `deltaSourceFromFilename` reads; with the delta's size and SHA-256 for a backend
 * whose files carry neither (IoTConnect).
 */
export function deltaFilename(name: string, fromVersion: string, fromImageHash: string, delta?: { size: number; sha256: string }): string {
  const carried = delta ? `.size-${delta.size}.sha256-${delta.sha256}` : '';
  return `${name}.from-${fromVersion}-${fromImageHash}${carried}.vcdiff`;
}
