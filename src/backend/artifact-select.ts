/**
 * Which file of a deployment is this device's MCUboot image. A backend may list several modules
 * (hawkBit chunks: `part` bApp, os, jvm...) and several files each (an image, a signature, release
 * notes), and IoTConnect several `urls[]`. The choice is made, in order:
 * 1. by the module (`part`, when configured) and the file name pattern (`*` wildcard; default
 *    `*.bin`), which the backend does;
 * 2. before any download, by the stated size: a file smaller than an MCUboot header or larger than
 *    the slot is not this device's image;
 * 3. when more than one file is left, by the image header: its first 32 bytes are fetched (one
 *    `Range: bytes=0-31` request each, at most ARTIFACT_PROBES_MAX) and must carry MCUboot's magic,
 *    a load address equal to the configured one (when configured: a board's images differ there
 *    when they are RAM-loaded or XIP-linked), and an image size that fits the stated file size.
 *    The header's version goes with the offer, so the version policy is applied before the download.
 * With one file (or one left after the size check) no probe is made: the agent checks that one
 * itself (slot size before the download, the header at its first 32 bytes) with its own reasons.
 */
import { decodeHeader, IMAGE_HEADER_SIZE, type ImageHeader } from '../image/header.js';
import { formatVersion } from '../image/version.js';
import type { HttpClient } from '../net/http.js';
import { describeError, OtaError } from '../util/errors.js';

/** Files whose header is fetched per deployment; more candidates than this: the first ones. */
export const ARTIFACT_PROBES_MAX = 4;

export interface ArtifactCandidate {
  /** Where the candidate was found, for reasons (`deployment.chunks[1].artifacts[0]`). */
  where: string;
  filename: string;
  url: string;
  size?: number;
  /** Request headers the download (and so the probe) needs. */
  headers?: Record<string, string>;
}

export interface ImageExpectation {
  /** Largest image the secondary slot holds (slot less trailer), bytes. */
  maxImageBytes?: number;
  /** The MCUboot header's ih_load_addr this board's images carry; undefined: not checked. */
  loadAddress?: number;
}

export interface ChosenArtifact<T extends ArtifactCandidate> {
  candidate: T;
  /** The header, when it was fetched to choose. */
  header?: ImageHeader;
  /** formatVersion of the header's version, when fetched. */
  imageVersion?: string;
}

/** Why a file of `size` bytes cannot be this device's image before a byte is fetched, or undefined. */
export function sizeRefusal(size: number | undefined, expect: ImageExpectation): string | undefined {
  if (size === undefined) return undefined;
  if (size < IMAGE_HEADER_SIZE) return `size ${size} is smaller than an MCUboot header`;
  if (expect.maxImageBytes !== undefined && size > expect.maxImageBytes) return `size ${size} > slot capacity ${expect.maxImageBytes}`;
  return undefined;
}

/** Why a header is not this device's image, or undefined. */
export function headerRefusal(header: ImageHeader, size: number | undefined, expect: ImageExpectation): string | undefined {
  if (expect.loadAddress !== undefined && header.loadAddr !== expect.loadAddress) {
    return `load address 0x${header.loadAddr.toString(16)} != 0x${expect.loadAddress.toString(16)}`;
  }
  const imageEnd = header.hdrSize + header.imgSize + header.protectTlvSize;
  if (size !== undefined && imageEnd > size) return `header says ${imageEnd} bytes of image and protected TLVs, the file has ${size}`;
  if (expect.maxImageBytes !== undefined && imageEnd > expect.maxImageBytes) return `image of ${imageEnd} bytes > slot capacity ${expect.maxImageBytes}`;
  return undefined;
}

/** The first 32 bytes of `url`, decoded as an MCUboot header (throws `not-an-image` etc.). */
export async function fetchHeader(http: HttpClient, url: string, headers?: Record<string, string>): Promise<ImageHeader> {
  const bytes = new Uint8Array(IMAGE_HEADER_SIZE);
  let length = 0;
  let whole = false;
  await http.request(
    { method: 'GET', url, headers, range: { start: 0, end: IMAGE_HEADER_SIZE - 1 } },
    {
      onHead: (head) => {
        if (head.status !== 200 && head.status !== 206) throw new OtaError('http-status', `header probe answered ${head.status}`);
        whole = head.status === 200;
      },
      onData: (chunk) => {
        const take = Math.min(chunk.length, IMAGE_HEADER_SIZE - length);
        if (take > 0) bytes.set(chunk.subarray(0, take), length);
        length += take;
        // A server without Range support sends the whole file: stop once the header is in.
        if (whole && length >= IMAGE_HEADER_SIZE) throw new HeaderComplete();
      },
    },
  ).catch((error: unknown) => {
    if (!(error instanceof HeaderComplete)) throw error;
  });
  if (length < IMAGE_HEADER_SIZE) throw new OtaError('truncated', `header probe brought ${length} bytes`);
  return decodeHeader(bytes);
}

/** Ends a probe once 32 bytes are in (a 200 with a whole image must not be read to its end). */
class HeaderComplete {}

/**
 * The candidate that is this device's image (see the module comment). Throws `backend-protocol`
 * naming every candidate and why it was passed over when none is.
 */
export async function chooseArtifact<T extends ArtifactCandidate>(http: HttpClient, candidates: T[], expect: ImageExpectation): Promise<ChosenArtifact<T>> {
  // One file: nothing to choose. The agent checks it (too large for the slot: `too-large` before
  // the download; not an image: at its first 32 bytes) and reports its own reason.
  if (candidates.length === 1) return { candidate: candidates[0] };
  const why: string[] = [];
  const sized = candidates.filter((c) => {
    const refusal = sizeRefusal(c.size, expect);
    if (refusal) why.push(`${c.where} (${c.filename}): ${refusal}`);
    return refusal === undefined;
  });
  if (sized.length === 1) return { candidate: sized[0] };
  for (const candidate of sized.slice(0, ARTIFACT_PROBES_MAX)) {
    let header: ImageHeader;
    try {
      header = await fetchHeader(http, candidate.url, candidate.headers);
    } catch (error) {
      // A transient failure must not be taken for "not an image": the poll fails and is retried.
      if (error instanceof OtaError && (error.reason === 'not-an-image' || error.reason === 'truncated' || error.reason === 'http-status')) {
        why.push(`${candidate.where} (${candidate.filename}): ${describeError(error)}`);
        continue;
      }
      throw error;
    }
    const refusal = headerRefusal(header, candidate.size, expect);
    if (refusal) {
      why.push(`${candidate.where} (${candidate.filename}): ${refusal}`);
      continue;
    }
    return { candidate, header, imageVersion: formatVersion(header.version) };
  }
  throw new OtaError('backend-protocol', `no MCUboot image for this device among ${candidates.length} files: ${why.join('; ') || 'none listed'}`);
}

/** Whether `name` matches `pattern`, where `*` matches any run of characters and all else is literal. */
export function matchFilename(pattern: string, name: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return name === pattern;
  if (!name.startsWith(parts[0])) return false;
  let at = parts[0].length;
  for (let i = 1; i < parts.length - 1; i++) {
    const found = name.indexOf(parts[i], at);
    if (found < 0) return false;
    at = found + parts[i].length;
  }
  const last = parts[parts.length - 1];
  return name.length - last.length >= at && name.endsWith(last);
}
