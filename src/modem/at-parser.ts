/**
 * The AT byte-stream framer: a resumable state machine (integer states, style rules 8-10) that
 * turns modem bytes into whole lines, `>` prompts and counted binary payloads.
 *
 * - A line ends at CR or LF; empty lines (the CRLF that frames every V.25ter response) are skipped.
 *   Lines live in one fixed buffer of LIMITS.atLineMax bytes; a longer line is dropped whole.
 * - Binary payloads are read by count only, never scanned: after the owner saw a length header
 *   (`+SHREAD: n`, `+HTTPREAD: DATA,n`, ...) it calls `beginBinary(n)` from inside `onLine`, and
 *   the next n bytes go to `onBinary` as views of the caller's chunk, whatever they contain
 *   (simcom-at.md §2, pitfall 1: bodies contain `\r\nOK\r\n`).
 * - `+CARECV: <n>,<data>` puts the payload on the header's own line (SIM7080 TCP/UDP app note
 *   example `+CARECV: 10,GET / HTTP`), so the framer recognises that one inline header at its comma.
 * - A prompt (`>` at the start of a line, optional following space: Zephyr calls the SIM7080 socket
 *   prompt "an UNTERMINATED prompt '> '") is only recognised while the owner expects one; otherwise
 *   `>` is ordinary line text.
 */
import { LIMITS } from './limits.js';

const CR = 0x0d;
const LF = 0x0a;
const GT = 0x3e;
const SPACE = 0x20;
const COMMA = 0x2c;

/** Framer states (small integers: a hot per-byte loop, style rule 10). */
const LINE = 0;
const BINARY = 1;
const AFTER_PROMPT = 2;

/** `+CARECV: ` as bytes: the one header whose payload follows on the same line. */
const INLINE_PREFIX = [0x2b, 0x43, 0x41, 0x52, 0x45, 0x43, 0x56, 0x3a, 0x20];

export interface AtFramerEvents {
  /** A whole non-empty line: `line[0..length)`; valid only during the call. */
  onLine(line: Uint8Array, length: number): void;
  /** An inline binary header `+CARECV: <n>,` (n already parsed); may call `beginBinary(n)`. */
  onInlineHeader(length: number): void;
  /** A piece of a counted payload (a view of the pushed chunk). A promise pauses the framer. */
  onBinary(chunk: Uint8Array, last: boolean): void | Promise<void>;
  /** The `>` prompt the owner asked for. */
  onPrompt(): void;
  /** A line longer than LIMITS.atLineMax ended and was dropped. */
  onOverflow(): void;
}

export class AtFramer {
  readonly #events: AtFramerEvents;
  readonly #line = new Uint8Array(LIMITS.atLineMax);
  #length = 0;
  #overflow = false;
  #state = LINE;
  #remaining = 0;
  #expectPrompt = false;
  /** The last line ended at CR: an LF right after it is that line's, not payload (V.25ter CRLF). */
  #afterCr = false;
  #wait: Promise<void> | undefined;

  constructor(events: AtFramerEvents) {
    this.#events = events;
  }

  /** True while a counted payload is being read. */
  get inBinary(): boolean {
    return this.#state === BINARY;
  }

  /** No partial line is waiting for its end (the stream sits at a line boundary). */
  get atLineStart(): boolean {
    return this.#length === 0 && !this.#overflow && this.#state !== BINARY;
  }

  /** Read the next `length` bytes as payload (call from `onLine`/`onInlineHeader`). */
  beginBinary(length: number): void {
    if (length <= 0) return;
    this.#state = BINARY;
    this.#remaining = length;
  }

  /** Recognise one `>` prompt at the start of a line. */
  expectPrompt(on: boolean): void {
    this.#expectPrompt = on;
  }

  /** The promise that paused the last `push`, if any (cleared by reading it). */
  takeWait(): Promise<void> | undefined {
    const wait = this.#wait;
    this.#wait = undefined;
    return wait;
  }

  /** Forget any partial line or payload (after a timeout, a reboot, a resync). */
  reset(): void {
    this.#length = 0;
    this.#overflow = false;
    this.#state = LINE;
    this.#remaining = 0;
    this.#expectPrompt = false;
    this.#afterCr = false;
    this.#wait = undefined;
  }

  /**
   * Consume modem bytes. Returns how many were used: all of them, unless a payload consumer
   * returned a promise (see `takeWait`), in which case the caller pushes the rest later.
   */
  push(chunk: Uint8Array): number {
    let i = 0;
    const end = chunk.length;
    while (i < end) {
      if (this.#state === BINARY) {
        if (this.#afterCr) {
          this.#afterCr = false;
          if (chunk[i] === LF) {
            i++;
            continue;
          }
        }
        const n = Math.min(this.#remaining, end - i);
        const view = chunk.subarray(i, i + n);
        i += n;
        this.#remaining -= n;
        const last = this.#remaining === 0;
        if (last) this.#state = LINE;
        const wait = this.#events.onBinary(view, last);
        if (wait) {
          this.#wait = wait;
          return i;
        }
        continue;
      }
      const b = chunk[i++];
      this.#afterCr = b === CR;
      if (this.#state === AFTER_PROMPT) {
        this.#state = LINE;
        if (b === SPACE) continue;
      }
      if (b === CR || b === LF) {
        if (this.#overflow) {
          this.#overflow = false;
          this.#length = 0;
          this.#events.onOverflow();
        } else if (this.#length > 0) {
          const length = this.#length;
          this.#length = 0;
          this.#events.onLine(this.#line, length);
        }
        continue;
      }
      if (this.#overflow) continue;
      if (this.#length === 0 && b === GT && this.#expectPrompt) {
        this.#expectPrompt = false;
        this.#state = AFTER_PROMPT;
        this.#events.onPrompt();
        continue;
      }
      if (this.#length === this.#line.length) {
        this.#overflow = true;
        continue;
      }
      this.#line[this.#length++] = b;
      if (b === COMMA) this.#checkInline();
    }
    return i;
  }

  /** `+CARECV: <digits>,` just completed: hand the count to the owner and drop the header text. */
  #checkInline(): void {
    const line = this.#line;
    const length = this.#length;
    const prefix = INLINE_PREFIX.length;
    if (length < prefix + 2) return;
    for (let k = 0; k < prefix; k++) if (line[k] !== INLINE_PREFIX[k]) return;
    let n = 0;
    for (let k = prefix; k < length - 1; k++) {
      const d = line[k] - 0x30;
      if (d < 0 || d > 9 || n > LIMITS.atBinaryMax) return;
      n = n * 10 + d;
    }
    this.#length = 0;
    this.#events.onInlineHeader(n);
  }
}
