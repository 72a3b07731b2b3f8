/**
 * What the agent keeps about a delta deployment (a journal field), and the two decisions around
 * it: take the offer's delta (only when it was made from the running image and fits), and fall
 * back to the full image (any delta failure, in the same deployment).
 */
import type { UpdateOffer } from '../backend/backend.js';
import { hex } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';

/** Journal field `deployment.delta` while the deployment downloads a delta. */
export interface DeltaDeployment {
  /**
   * The full image's URL and size: the fallback, and the size of the rebuilt target. The size is
   * unknown when the backend states none (IoTConnect): the target is then bounded by the staging
   * area alone and its length checked by the image's own header and signature.
   */
  fullUrl: string;
  fullSize?: number;
  /** SHA-256 (hex) of the delta file, checked over the staged bytes before decoding. */
  sha256: string;
  /** The SHA256 TLV (hex) of the image the delta was made from: the primary slot's must match. */
  source: string;
}

/** A deployment as far as delta handling needs it (journal.ts Deployment). */
export interface DeltaAware {
  url: string;
  attempts: number;
  size?: number;
  offset: number;
  validator?: string;
  delta?: DeltaDeployment;
  /** Set when a delta was tried and failed: the reason, for the report. */
  deltaFailed?: string;
}

/** What the state machine calls (src/agent/machine.ts); DeltaInstaller implements it. */
export interface DeltaHook {
  /** At decide time: make `deployment` a delta deployment when the offer has a fitting delta. */
  plan(deployment: DeltaAware, offer: UpdateOffer): DeltaOffer | undefined;
  /** Before each download or verify step of `deployment`. */
  select(deployment: DeltaAware): void;
}

/** One entry of an offer's `deltas` (backend.ts UpdateOffer). */
export interface DeltaOffer {
  url: string;
  size: number;
  sha256: Uint8Array;
  /** Version of the image the delta was made from (informational; the hash decides). */
  fromVersion: string;
  /** SHA256 TLV of that image. */
  fromImageHash: Uint8Array;
  /** Request headers the download of `url` needs, as UpdateOffer.headers for the full image. */
  headers?: Record<string, string>;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Journal validation of `deployment.delta` (journal.ts calls it); throws naming the field. */
export function validateDeltaField(value: unknown, urlOk: (url: unknown) => boolean): void {
  const bad = (field: string) => {
    throw new OtaError('journal-invalid', `deployment.delta.${field}`);
  };
  if (typeof value !== 'object' || value === null) bad('');
  const v = value as Record<string, unknown>;
  if (!urlOk(v.fullUrl)) bad('fullUrl');
  if (v.fullSize !== undefined && !(typeof v.fullSize === 'number' && Number.isSafeInteger(v.fullSize) && v.fullSize > 0)) bad('fullSize');
  if (!(typeof v.sha256 === 'string' && HEX64.test(v.sha256))) bad('sha256');
  if (!(typeof v.source === 'string' && HEX64.test(v.source))) bad('source');
}

/**
 * The delta to take for `offer` on a device running the image whose hash TLV is `runningHash`:
 * the one made from it that fits the slot with the full image (`fits`; the image's size may be
 * unknown). Undefined: take the full image.
 */
export function chooseDelta(offer: UpdateOffer, runningHash: Uint8Array | undefined, fits: (delta: DeltaOffer, targetSize: number | undefined) => boolean): DeltaOffer | undefined {
  if (!offer.deltas || !runningHash) return undefined;
  const running = hex(runningHash);
  return offer.deltas.find((x) => hex(x.fromImageHash) === running && fits(x, offer.size));
}

/** Turns a full-image deployment into one that downloads `delta` (journal fields). */
export function useDelta(d: DeltaAware, offer: UpdateOffer, delta: DeltaOffer): void {
  d.delta = { fullUrl: offer.url, sha256: hex(delta.sha256), source: hex(delta.fromImageHash) };
  if (offer.size !== undefined) d.delta.fullSize = offer.size;
  d.url = delta.url;
  d.size = delta.size;
}

/** The same deployment downloading the full image from 0, remembering why the delta failed. */
export function fallBackToFull<T extends DeltaAware>(d: T, reason: string): T {
  // Attempts start again: the full image is a new download (still bounded: a deployment falls back once).
  const full: T = { ...d, url: d.delta!.fullUrl, size: d.delta!.fullSize, offset: 0, attempts: 0, deltaFailed: reason };
  if (full.size === undefined) delete full.size;
  delete full.delta;
  delete full.validator;
  return full;
}

/** What the final report says about how the image came (undefined: an ordinary full download). */
export function deliveryNote(d: DeltaAware): string | undefined {
  if (d.delta) return `installed from a ${d.size}-byte delta${d.delta.fullSize === undefined ? '' : ` (full image ${d.delta.fullSize} bytes)`}`;
  if (d.deltaFailed) return `installed from the full image after the delta failed: ${d.deltaFailed}`;
  return undefined;
}
