/**
 * The Installer the agent uses when delta updates are on: for an ordinary deployment it passes
 * every call to the SlotInstaller; for a delta deployment (the machine calls `select` with the
 * deployment before each download or verify step):
 *
 *   download  resume/write/seal stage the delta's bytes in the staging area (staging.ts) through
 *             an ordinary SlotWriter: resumable per sector, as a full image is;
 *   verify    reload(length) checks the staged delta (its SHA-256 from the offer, re-hashed from
 *             flash) and the source (the primary slot's hash TLV against the offer's), then decodes
 *             it into the secondary slot through the SlotInstaller, which parses and hashes the
 *             rebuilt image as it would a download; `finish` then re-hashes it from flash, checks
 *             TLVs and the signature (A5000) exactly as for a full image. Stage/swap/confirm are
 *             the SlotInstaller's.
 *
 * Power cuts: during the download, the journal's offset (per sector); during decoding, a small
 * record in the key-value store (PROGRESS_KEY) saved after every window whose end is a sector
 * boundary (all but the last with the tools' 16 KiB windows): decoding resumes at that window,
 * the SlotInstaller re-hashing the target below it from flash. Once decoded, the record says so,
 * and a verify after a reset re-hashes the rebuilt image instead of decoding again.
 */
import type { UpdateOffer } from '../backend/backend.js';
import type { ImageInfo, Installer } from '../agent/installer.js';
import type { DigestPort, Sha256 } from '../platform/digest.js';
import type { FlashPort } from '../platform/flash.js';
import type { KeyValuePort } from '../platform/key-value.js';
import type { LogPort } from '../platform/log.js';
import type { ImageHeader } from '../image/header.js';
import { DEFAULT_TRAILER_SIZE } from '../image/image-stream.js';
import { JOURNAL_FIELD_MAX } from '../agent/journal.js';
import { SLOT_READ_PIECE_MAX } from '../agent/slot-installer.js';
import { readSlotSummary } from '../slot/slot-reader.js';
import { SlotWriter } from '../slot/slot-writer.js';
import { hex } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { startAsJob } from '../util/stack.js';
import { offsetSource } from './byte-source.js';
import { VcdiffDecoder, type WindowProgress } from './decoder.js';
import { FlashWindow } from './flash-window.js';
import { chooseDelta, useDelta, type DeltaAware, type DeltaDeployment, type DeltaHook, type DeltaOffer } from './plan.js';
import { stagingArea, type StagingArea } from './staging.js';

/** Key-value record of the decode's progress (one short value, rewritten per window). */
export const PROGRESS_KEY = 'xs-ota.delta';

interface Progress extends WindowProgress {
  /** First 16 hex digits of the delta's SHA-256: progress of another delta is ignored. */
  delta: string;
  /** The whole target was decoded and sealed: its length. */
  done: number;
}

export interface DeltaInstallerOptions {
  /** The ordinary installer on the same slots: writes, verifies, stages the rebuilt image. */
  inner: Installer;
  primary: FlashPort;
  secondary: FlashPort;
  digest: DigestPort;
  keyValue: KeyValuePort;
  trailerSize?: number;
  log?: LogPort;
}

export class DeltaInstaller implements Installer, DeltaHook {
  readonly #o: DeltaInstallerOptions;
  readonly #inner: Installer;
  readonly #trailerSize: number;
  /** The slot's sector (erase block), bytes: the staging writer and decode progress resume at its multiples. */
  readonly #sectorSize: number;
  /**
   * Length of the staged delta's re-hash buffer (at most SLOT_READ_PIECE_MAX bytes, as
   * SlotInstaller's: a flash read has no size rule, so no sector-sized buffer is needed). Made for
   * the re-hash and dropped after, as SlotInstaller's: a full image's download never uses it.
   */
  readonly #readPieceLength: number;
  #plan: { delta: DeltaDeployment; size: number; area: StagingArea } | undefined;
  #writer: SlotWriter | undefined;
  #sealed = false;

  constructor(options: DeltaInstallerOptions) {
    this.#o = options;
    this.#inner = options.inner;
    this.#trailerSize = options.trailerSize ?? DEFAULT_TRAILER_SIZE;
    this.#sectorSize = options.secondary.status().blockLength;
    this.#readPieceLength = Math.min(SLOT_READ_PIECE_MAX, this.#sectorSize);
  }

  // ── the agent's hook (src/agent/machine.ts) ──────────────────────────────────────────────

  /**
   * At decide time: when the offer has a delta made from the running image that fits the slot,
   * turn the deployment into a delta deployment (journal fields) and return the delta taken.
   */
  plan(deployment: DeltaAware, offer: UpdateOffer): DeltaOffer | undefined {
    if (!offer.deltas || offer.deltas.length === 0) return undefined;
    let running: Uint8Array | undefined;
    try {
      running = readSlotSummary(this.#o.primary, this.#trailerSize)?.sha256;
    } catch (error) {
      // The running image's hash cannot be read (a flash error): take the full image.
      this.#o.log?.log('warn', 'delta.source-unreadable', { detail: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
    const status = this.#o.secondary.status();
    // The journal keeps both URLs within one URL budget (journal.ts): a delta whose URL does not
    // fit beside the full image's is not taken.
    const urlRoom = JOURNAL_FIELD_MAX.url - offer.url.length;
    const delta = chooseDelta(offer, running, (x, targetSize) => x.url.length <= urlRoom && stagingArea(status, this.#trailerSize, x.size, targetSize) !== undefined);
    if (delta) useDelta(deployment, offer, delta);
    return delta;
  }

  /** Before each download or verify step: which artifact this deployment's bytes are. */
  select(deployment: DeltaAware): void {
    const delta = deployment.delta;
    if (!delta) {
      this.#plan = undefined;
      return;
    }
    const size = deployment.size ?? 0;
    const area = stagingArea(this.#o.secondary.status(), this.#trailerSize, size, delta.fullSize);
    if (!area) throw new OtaError('delta-no-room', `a ${size}-byte delta and a ${delta.fullSize ?? 'unknown'}-byte image do not both fit the slot`);
    if (this.#plan?.delta.sha256 !== delta.sha256) this.#writer = undefined;
    this.#plan = { delta, size, area };
  }

  // ── Installer ────────────────────────────────────────────────────────────────────────────

  get flushed(): number {
    return this.#plan ? (this.#writer?.durableOffset ?? 0) : this.#inner.flushed;
  }

  async resume(offset: number, size?: number, checkHeader?: (header: ImageHeader) => void): Promise<number> {
    const plan = this.#plan;
    // A delta's bytes are no image: the rebuilt image's header is checked at verify.
    if (!plan) return this.#inner.resume(offset, size, checkHeader);
    const window = new FlashWindow(this.#o.secondary, plan.area.base, plan.area.size);
    let start = Math.min(offset, plan.size);
    start -= start % this.#sectorSize;
    if (start === 0) {
      // A new delta: nothing of an earlier attempt may stay pending or count as decoded.
      this.#inner.abandon();
      this.#clearProgress();
    }
    this.#sealed = false;
    this.#writer = new SlotWriter({ flash: window, trailerSize: 0, startOffset: start, eraseEnd: plan.size });
    this.#writer.begin();
    return start;
  }

  eraseIdle(): boolean {
    // A staged delta occupies the slot's top from its first write on; until then the slot is the inner's.
    return !this.#writer && !this.#sealed && this.#inner.eraseIdle();
  }

  eraseAhead(): void {
    if (!this.#plan) this.#inner.eraseAhead();
    else if (!this.#sealed) this.#writer?.eraseAhead();
  }

  /** Not an async function, as SlotInstaller.write: on the download's synchronous data path. */
  write(chunk: Uint8Array): Promise<void> {
    if (!this.#plan) return this.#inner.write(chunk);
    try {
      if (!this.#writer || this.#sealed) throw new OtaError('bad-state', 'delta write before resume or after seal');
      this.#writer.write(chunk);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  seal(): number {
    if (!this.#plan) return this.#inner.seal();
    if (!this.#writer) throw new OtaError('bad-state', 'seal before resume');
    const length = this.#writer.flush();
    this.#writer = undefined;
    this.#sealed = true;
    return length;
  }

  /** Delta: check the staged delta and the source, then decode it into the slot (or resume decoding). */
  async reload(length: number): Promise<void> {
    const plan = this.#plan;
    if (!plan) return this.#inner.reload(length);
    const { delta, area } = plan;
    if (length !== plan.size) throw new OtaError('delta-malformed', `${length} bytes staged, the offer's delta has ${plan.size}`);
    const progress = this.#loadProgress(delta.sha256);
    if (progress && progress.done > 0) {
      // Decoded before a reset: the rebuilt image is in the slot; finish() re-hashes and verifies it.
      return this.#inner.reload(progress.done);
    }
    // Trust flash, not RAM: the delta is hashed again from the staging area (a read of its size).
    const hash = this.#o.digest.sha256();
    this.#hashStaged(new FlashWindow(this.#o.secondary, area.base, area.size), length, hash);
    const sha = hex(hash.digest());
    if (sha !== delta.sha256) throw new OtaError('hash-mismatch', `staged delta SHA-256 ${sha}, the offer's ${delta.sha256}`);
    const source = readSlotSummary(this.#o.primary, this.#trailerSize);
    if (!source?.sha256 || hex(source.sha256) !== delta.source) {
      throw new OtaError('delta-source-mismatch', `the primary slot holds ${source?.sha256 ? hex(source.sha256) : 'no image'}, the delta was made from ${delta.source}`);
    }
    const resume = progress && progress.targetOffset > 0 ? progress : undefined;
    this.#o.log?.log('info', 'delta.decode', { bytes: length, fromWindow: resume?.windows ?? 0, targetOffset: resume?.targetOffset ?? 0 });
    // The rebuilt image must never be erased ahead into the staged delta it is decoded from.
    const targetLimit = Math.min(area.base, delta.fullSize ?? area.base);
    const start = await this.#inner.resume(resume?.targetOffset ?? 0, targetLimit);
    if (start !== (resume?.targetOffset ?? 0)) throw new OtaError('bad-state', `target resumed at ${start}`);
    const secondary = this.#o.secondary;
    const block = this.#sectorSize;
    const decoder = new VcdiffDecoder({
      delta: offsetSource(secondary, area.base),
      deltaLength: length,
      source: this.#o.primary,
      sourceLength: source.imageSize,
      target: { write: (bytes) => this.#inner.write(bytes), read: (offset, into) => secondary.read(offset, into) },
      targetLimit,
      targetLength: delta.fullSize,
      writeAlign: secondary.status().writeAlign,
      resume,
      onWindow: (p) => {
        // Only a window that ends on a sector boundary is a resume point: the slot writer
        // resumes at sector starts, and everything below was written and read back.
        if (p.targetOffset % block === 0) this.#saveProgress({ ...p, delta: delta.sha256.slice(0, 16), done: 0 });
      },
    });
    // Its own job: the decoder's layers (window, instruction, section cursor, flash read) start
    // from the job queue, not on top of the agent's verify step and this installer.
    const result = await startAsJob(() => decoder.decode());
    const sealed = this.#inner.seal();
    if (sealed !== result.targetLength) throw new OtaError('bad-state', `sealed ${sealed} of ${result.targetLength} decoded bytes`);
    this.#saveProgress({ windows: result.windows, deltaOffset: length, targetOffset: sealed, delta: delta.sha256.slice(0, 16), done: sealed });
    this.#o.log?.log('info', 'delta.decoded', { windows: result.windows, bytes: sealed });
  }

  finish(): Promise<ImageInfo> {
    return this.#inner.finish();
  }

  stage(): void {
    this.#inner.stage();
  }

  abandon(): void {
    this.#inner.abandon();
    if (this.#plan) this.#clearProgress();
  }

  runningVersion(): string {
    return this.#inner.runningVersion();
  }

  runningConfirmed(): boolean {
    return this.#inner.runningConfirmed();
  }

  confirmRunning(): void {
    this.#inner.confirmRunning();
  }

  runningSecurityCounter(): number | undefined {
    return this.#inner.runningSecurityCounter();
  }

  canRevert(): boolean {
    return this.#inner.canRevert();
  }

  // ── helpers ──────────────────────────────────────────────────────────────────────────────

  #hashStaged(window: FlashPort, end: number, hash: Sha256): void {
    const buffer = new Uint8Array(this.#readPieceLength);
    for (let at = 0; at < end; at += buffer.length) {
      const piece = buffer.subarray(0, Math.min(buffer.length, end - at));
      window.read(at, piece);
      hash.update(piece);
    }
  }

  #loadProgress(sha256: string): Progress | undefined {
    const text = this.#o.keyValue.read(PROGRESS_KEY);
    if (text === undefined) return undefined;
    // "1 <delta sha prefix> <windows> <deltaOffset> <targetOffset> <done>": validated field by field.
    const f = text.split(' ');
    if (f.length !== 6 || f[0] !== '1' || f[1] !== sha256.slice(0, 16)) return undefined;
    const n = f.slice(2).map(Number);
    if (!n.every((x) => Number.isSafeInteger(x) && x >= 0)) return undefined;
    const [windows, deltaOffset, targetOffset, done] = n;
    if (targetOffset % this.#sectorSize !== 0 && done === 0) return undefined;
    return { delta: f[1], windows, deltaOffset, targetOffset, done };
  }

  #saveProgress(p: Progress): void {
    this.#o.keyValue.write(PROGRESS_KEY, `1 ${p.delta} ${p.windows} ${p.deltaOffset} ${p.targetOffset} ${p.done}`);
  }

  #clearProgress(): void {
    if (this.#o.keyValue.read(PROGRESS_KEY) !== undefined) this.#o.keyValue.delete(PROGRESS_KEY);
  }
}
