/**
 * The AT engine: one command in flight over the modem UART, its response collected from whole
 * lines, counted binary payloads delivered to the caller's sink, URCs dispatched whenever they
 * arrive (also between a command's `OK` and its data), per-command timeouts, and resynchronisation
 * after a timeout.
 *
 * Response rules (V.25ter; simcom-at.md §2):
 * - A final result is a whole line: `OK`, `ERROR`, `+CME ERROR: <e>`, `+CMS ERROR: <e>`. A payload
 *   is never scanned for it (style anti-pattern 1).
 * - SIMCom answers some reads with `OK` *first* and the data after it (`AT+SHREAD`, `AT+HTTPREAD`,
 *   `AT+CCHRECV`: simcom-at.md §4.1, §4.2, §5.2) and some requests with `OK` then a result URC
 *   (`+SHREQ:`, `+HTTPACTION:`, `+APP PDP:`, `+NETOPEN:`). A command therefore completes when its
 *   final result *and* its `until` line *and* its `done()` condition have all been seen.
 * - Echo is on after every boot on SIM7080 (ATE is NO_SAVE, M7080 §2.2.3): a line equal to the
 *   command in flight is its echo and is dropped.
 *
 * @example
 * const at = new AtEngine({ serial, clock });
 * const { lines } = await at.command('AT+CPIN?', { prefixes: ['+CPIN:'] });
 */
import type { ClockPort, TimerId } from '../platform/clock.js';
import type { LogPort } from '../platform/log.js';
import type { SerialPort } from '../platform/serial.js';
import { asciiDecode } from '../util/bytes.js';
import { OtaError } from '../util/errors.js';
import { AtFramer } from './at-parser.js';
import { LIMITS } from './limits.js';

/** The binary payload a response carries. */
export interface AtDataSpec {
  /**
   * Called for each data header of this response (`+SHREAD: 2048`, ...), with the announced
   * length. Return false to discard that payload instead (it is still skipped by count).
   */
  onHeader?(line: string, length: number): boolean | void;
  /**
   * Payload bytes, in order. The chunk is a view of the engine's receive buffer: valid during the
   * call and, when a promise is returned, until it settles (the engine reads nothing meanwhile:
   * that is the backpressure). Throwing fails the command once its response has ended.
   */
  onData(chunk: Uint8Array): void | Promise<void>;
}

export interface AtCommandOptions {
  /** No-progress timeout, ms (re-armed by every response line or payload chunk). */
  timeoutMs?: number;
  /** Information-line prefixes that belong to this response (others go to URC handlers). */
  prefixes?: readonly string[];
  /** The response is complete only once a line with this prefix arrived (before or after `OK`). */
  until?: string;
  /** Extra completion condition, checked after the final result; `received` = payload bytes so far. */
  done?(received: number): boolean;
  data?: AtDataSpec;
  /** Bytes to send at the `>` prompt (or at the `promptLine`, e.g. `DOWNLOAD`). */
  payload?: Uint8Array;
  promptLine?: string;
}

export interface AtResponse {
  /** Information lines matching `prefixes` (and the `until` line), in order. */
  lines: string[];
  /** Payload bytes received (delivered or discarded). */
  received: number;
}

/** Counters for tests, logs and the benchmark (nothing here is time-based). */
export interface AtStats {
  txBytes: number;
  rxBytes: number;
  commands: number;
  payloadBytes: number;
  discardedBytes: number;
  urcs: number;
  unsolicited: number;
  /** UART line errors reported by the port (overrun, framing): bytes lost or corrupted. */
  lineErrors: number;
  linesDropped: number;
  timeouts: number;
  resyncs: number;
}

type UrcHandler = (line: string) => void;

interface Exchange {
  text: string;
  options: AtCommandOptions;
  lines: string[];
  final: 'ok' | OtaError | undefined;
  untilSeen: boolean;
  received: number;
  /** Payload of the current block goes to the sink (false: discarded). */
  deliver: boolean;
  sinkError: unknown;
  /** A line that fits nothing arrived during this data command: its payload is not trusted. */
  garbled: boolean;
  resolve(response: AtResponse): void;
  reject(error: unknown): void;
  timer: TimerId | undefined;
  settled: boolean;
}

/**
 * Payload length announced by a SIMCom data header, or -1 when `line` is none. Known to the
 * engine itself, so that a payload nobody asked for (a late reply after a timeout) is still skipped
 * by count and never read as lines.
 */
export function binaryHeaderLength(line: string): number {
  let rest: string | undefined;
  if (line.startsWith('+SHREAD: ')) rest = line.slice(9); // M7080 13.2.11
  else if (line.startsWith('+HTTPREAD: DATA,')) rest = line.slice(16); // M7600 13.2.6
  else if (line.startsWith('+HTTPHEAD: DATA,')) rest = line.slice(16); // SIM7600 field log (I-T7600-135)
  else if (line.startsWith('+HTTPHEAD: ')) rest = line.slice(11); // A76xx: without DATA (MA76 16)
  else if (line.startsWith('+HTTPREAD: ')) {
    // A76xx: `+HTTPREAD: <n>` without DATA (MA76 16); `+HTTPREAD: 0` ends a read, LEN, is a query.
    rest = line.slice(11);
    if (rest === '0') return -1;
  } else if (line.startsWith('+CIPRXGET: 2,')) {
    // `+CIPRXGET: 2,<link>,<read_len>,<rest_len>` (M7600 11.2)
    const f = line.slice(13).split(',');
    if (f.length !== 3) return -1;
    rest = f[1];
  } else if (line.startsWith('+CCHRECV: DATA,')) {
    // `+CCHRECV: DATA,<sid>,<len>` (M7600 10.2)
    const f = line.slice(15).split(',');
    if (f.length !== 2) return -1;
    rest = f[1];
  } else if (line.startsWith('+CAURC: "recv",')) {
    // SIM7080 recv_mode 1: `+CAURC: "recv",<id>,<length>[,<ip>,<port>]` (simcom-at.md §5.1).
    return caurcRecvLength(line.slice(15));
  }
  if (rest === undefined) return -1;
  return parseCount(rest);
}

/**
 * The `<id>,<length>[,<ip>,<port>]` of a `+CAURC: "recv"` header, every field checked (hostile
 * input): id 0-12 (M7080 cid range), length a count, ip a quoted printable string, port 1-65535.
 * -1 when any is wrong: the line is then not a header, and the driver treats it as a broken stream.
 */
function caurcRecvLength(fields: string): number {
  const f = fields.split(',');
  if (f.length !== 2 && f.length !== 4) return -1;
  const id = parseCount(f[0]);
  if (id < 0 || id > 12 || f[0].length > 2) return -1;
  if (f.length === 4) {
    const ip = f[2];
    if (ip.length < 3 || ip.length > 48 || ip.charCodeAt(0) !== 0x22 || ip.charCodeAt(ip.length - 1) !== 0x22) return -1;
    for (let i = 1; i < ip.length - 1; i++) {
      const c = ip.charCodeAt(i);
      if (c < 0x21 || c > 0x7e || c === 0x22) return -1;
    }
    const port = parseCount(f[3]);
    if (port < 1 || port > 65_535) return -1;
  }
  return parseCount(f[1]);
}

/** A decimal count 0..LIMITS.atBinaryMax, else -1. */
function parseCount(text: string): number {
  if (text.length === 0 || text.length > 7) return -1;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n <= LIMITS.atBinaryMax ? n : -1;
}

export interface AtEngineOptions {
  serial: SerialPort;
  clock: ClockPort;
  log?: LogPort;
}

export class AtEngine {
  readonly stats: AtStats = {
    txBytes: 0,
    rxBytes: 0,
    commands: 0,
    payloadBytes: 0,
    discardedBytes: 0,
    urcs: 0,
    unsolicited: 0,
    lineErrors: 0,
    linesDropped: 0,
    timeouts: 0,
    resyncs: 0,
  };
  /** The modem echoed the last command (echo is on: send ATE0). */
  echo = false;
  /** Lines received from the modem since the engine was made (any line: a sign of life). */
  linesIn = 0;
  /** The clock instant the command in flight times out at, 0 with none armed. */
  timesOutAt = 0;

  readonly #serial: SerialPort;
  readonly #clock: ClockPort;
  readonly #log: LogPort | undefined;
  readonly #framer: AtFramer;
  readonly #rx = new Uint8Array(LIMITS.atReadChunk);
  #rxStart = 0;
  #rxEnd = 0;
  #pumping = false;
  #closed = false;
  #current: Exchange | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #needSync = false;
  #urcs: { prefix: string; handler: UrcHandler }[] = [];
  #dataUrcs: { prefix: string; spec: AtDataSpec }[] = [];
  /** The unsolicited payload in progress goes here (push-mode socket data). */
  #urcData: AtDataSpec | undefined;
  /** The pump waits for a push consumer (its promise has not settled). */
  #urcWaiting = false;
  /** Called with every line nobody claimed (noise, a payload shifted by noise). */
  onNoise: ((line: string) => void) | undefined;
  /**
   * Called when the UART reports a line error (RX overrun, framing): bytes were lost or changed
   * somewhere after what was read so far, so a pushed stream can no longer be trusted.
   */
  onLoss: ((message: string) => void) | undefined;
  #writable: (() => void) | undefined;

  constructor(options: AtEngineOptions) {
    this.#serial = options.serial;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#framer = new AtFramer({
      onLine: (line, length) => this.#onLine(asciiDecode(line, 0, length)),
      onInlineHeader: (length) => this.#onHeader(`+CARECV: ${length},`, length),
      onBinary: (chunk, last) => this.#onBinary(chunk, last),
      onPrompt: () => this.#onPrompt(),
      onOverflow: () => {
        this.stats.linesDropped++;
      },
    });
    this.#serial.attach({
      onReadable: () => this.#kick(),
      onWritable: () => {
        const wake = this.#writable;
        this.#writable = undefined;
        wake?.();
      },
      onError: (error) => this.#lineError(error.message),
    });
  }

  /**
   * A line error: the bytes in flight cannot be trusted. A data command in flight fails with
   * `at-garbled` once its response ends (its payload never reaches the sink); a push consumer is
   * told through `onLoss`.
   */
  #lineError(message: string): void {
    this.stats.lineErrors++;
    this.#log?.log('warn', 'at.uart-error', { message });
    const exchange = this.#current;
    if (exchange?.options.data) exchange.garbled = true;
    this.onLoss?.(message);
  }

  /** The stream sits between lines (no partial line, no payload in progress). */
  get atLineStart(): boolean {
    return this.#framer.atLineStart;
  }

  /** Call `handler` for every unsolicited line starting with `prefix` (several handlers may match). */
  onUrc(prefix: string, handler: UrcHandler): void {
    this.#urcs.push({ prefix, handler });
  }

  /**
   * Unsolicited data: a length header starting with `prefix` that no command in flight claims
   * (SIM7600 `+CCHRECV: DATA,<sid>,<n>` in push mode) has its payload read by count into `spec`.
   */
  onDataUrc(prefix: string, spec: AtDataSpec): void {
    this.#dataUrcs.push({ prefix, spec });
  }

  /** The line buffer and any payload in progress are dropped; the next command resyncs first. */
  invalidate(): void {
    this.#framer.reset();
    this.#urcData = undefined;
    this.#needSync = true;
  }

  /**
   * Send one command (without its CR) and collect its response. Commands queue: one is in
   * flight at a time. Rejects with `at-error`, `cme-error` (detail = the modem's code),
   * `at-timeout`, `modem-unresponsive` (resync failed) or `closed`.
   */
  command(text: string, options: AtCommandOptions = {}): Promise<AtResponse> {
    const run = async (): Promise<AtResponse> => {
      if (this.#needSync) await this.#resync();
      return this.#exchange(text, options);
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /**
   * Probe with `AT` until the modem answers twice in a row (a late `OK` of an abandoned command can
   * satisfy one probe, not two). Resolves true when in sync; never throws on silence.
   */
  sync(tries: number = LIMITS.atProbeTries, perTryMs: number = LIMITS.atProbeMs): Promise<boolean> {
    const run = async () => this.#probe(tries, perTryMs);
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /** Wait `ms` of (device) time. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#clock.setTimeout(resolve, ms));
  }

  /** Fail the command in flight and refuse new ones. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const current = this.#current;
    if (current) this.#settle(current, new OtaError('closed', 'AT engine closed'));
  }

  async #probe(tries: number, perTryMs: number): Promise<boolean> {
    this.#framer.reset();
    let good = 0;
    for (let i = 0; i < tries && good < 2; i++) {
      try {
        await this.#exchange('AT', { timeoutMs: perTryMs });
        good++;
      } catch (error) {
        if (error instanceof OtaError && error.reason === 'closed') throw error;
        good = 0;
      }
    }
    this.#needSync = good < 2;
    return good >= 2;
  }

  async #resync(): Promise<void> {
    this.stats.resyncs++;
    if (!(await this.#probe(LIMITS.atProbeTries, LIMITS.atProbeMs))) {
      throw new OtaError('modem-unresponsive', `no answer to AT after ${LIMITS.atProbeTries} probes`);
    }
  }

  #exchange(text: string, options: AtCommandOptions): Promise<AtResponse> {
    if (this.#closed) return Promise.reject(new OtaError('closed', 'AT engine closed'));
    return new Promise<AtResponse>((resolve, reject) => {
      const exchange: Exchange = {
        text,
        options,
        lines: [],
        final: undefined,
        untilSeen: options.until === undefined,
        received: 0,
        deliver: false,
        sinkError: undefined,
        garbled: false,
        resolve,
        reject,
        timer: undefined,
        settled: false,
      };
      this.#current = exchange;
      this.stats.commands++;
      this.#framer.expectPrompt(options.payload !== undefined && options.promptLine === undefined);
      this.#arm(exchange);
      this.#write(text + '\r').catch((error: unknown) => this.#settle(exchange, error));
      // Bytes may already be waiting (a URC, or a reply that raced the command).
      this.#kick();
    });
  }

  #arm(exchange: Exchange): void {
    if (exchange.timer !== undefined) this.#clock.clearTimeout(exchange.timer);
    const ms = exchange.options.timeoutMs ?? LIMITS.atTimeoutMs;
    this.timesOutAt = this.#clock.now() + ms;
    exchange.timer = this.#clock.setTimeout(() => {
      exchange.timer = undefined;
      this.timesOutAt = 0;
      if (exchange.settled) return;
      this.stats.timeouts++;
      // The reply may be stuck behind pushed data nobody consumes: void that stream so the pump
      // goes on (the consumer's socket fails its next read with at-garbled).
      if (this.#urcWaiting) this.onLoss?.(`${exchange.text} timed out while pushed data waited for its reader`);
      // Whatever the modem still sends for this command must not be read as the next one's.
      this.invalidate();
      this.#settle(exchange, new OtaError('at-timeout', `${exchange.text} (no progress for ${ms} ms)`));
    }, ms);
  }

  #disarm(exchange: Exchange): void {
    if (exchange.timer !== undefined) this.#clock.clearTimeout(exchange.timer);
    exchange.timer = undefined;
    this.timesOutAt = 0;
  }

  #settle(exchange: Exchange, error?: unknown): void {
    if (exchange.settled) return;
    exchange.settled = true;
    this.#disarm(exchange);
    if (this.#current === exchange) {
      this.#current = undefined;
      this.#framer.expectPrompt(false);
    }
    if (error !== undefined) exchange.reject(error);
    else exchange.resolve({ lines: exchange.lines, received: exchange.received });
  }

  #complete(exchange: Exchange): void {
    if (exchange.final === undefined || this.#framer.inBinary) return;
    if (exchange.final !== 'ok') {
      // An error result ends the command: no `until` line or data follows it.
      this.#settle(exchange, exchange.final);
      return;
    }
    if (!exchange.untilSeen) return;
    if (exchange.options.done && !exchange.options.done(exchange.received)) return;
    if (exchange.garbled && exchange.sinkError === undefined) {
      // Noise or a short payload shifted the stream: resync before the next command.
      this.invalidate();
      this.#settle(exchange, new OtaError('at-garbled', `unexpected line during ${exchange.text}`));
      return;
    }
    this.#settle(exchange, exchange.sinkError);
  }

  #onLine(line: string): void {
    this.linesIn++;
    const exchange = this.#current;
    const n = binaryHeaderLength(line);
    if (n >= 0) {
      this.#onHeader(line, n);
      return;
    }
    if (exchange) {
      if (line === exchange.text) {
        this.echo = true;
        return;
      }
      if (exchange.options.promptLine !== undefined && line === exchange.options.promptLine) {
        this.#sendPayload(exchange);
        return;
      }
      const final = finalResult(line);
      if (final !== undefined) {
        exchange.final = final;
        this.#complete(exchange);
        return;
      }
      const { prefixes, until } = exchange.options;
      const isUntil = until !== undefined && line.startsWith(until);
      if (isUntil || (prefixes !== undefined && prefixes.some((p) => line.startsWith(p)))) {
        if (exchange.lines.length >= LIMITS.atResponseLinesMax) {
          this.invalidate();
          this.#settle(exchange, new OtaError('limit-exceeded', `more than ${LIMITS.atResponseLinesMax} lines for ${exchange.text}`));
          return;
        }
        exchange.lines.push(line);
        if (isUntil) exchange.untilSeen = true;
        this.#arm(exchange);
        this.#complete(exchange);
        return;
      }
    }
    if (!this.#dispatch(line)) {
      if (exchange?.options.data) exchange.garbled = true;
      this.onNoise?.(line);
    }
  }

  /** Hand a line to the URC handlers; false when none claims it. */
  #dispatch(line: string): boolean {
    let handled = false;
    for (const urc of this.#urcs) {
      if (line.startsWith(urc.prefix)) {
        handled = true;
        urc.handler(line);
      }
    }
    if (handled) this.stats.urcs++;
    else this.stats.unsolicited++;
    return handled;
  }

  #onHeader(line: string, length: number): void {
    const exchange = this.#current;
    const data = exchange?.options.data;
    this.#urcData = undefined;
    if (!data) {
      const urc = this.#dataUrcs.find((u) => line.startsWith(u.prefix));
      if (urc && urc.spec.onHeader?.(line, length) !== false) {
        this.stats.urcs++;
        if (length > 0) {
          this.#urcData = urc.spec;
          this.#framer.beginBinary(length);
        }
        return;
      }
    }
    let deliver = false;
    if (exchange && data && exchange.sinkError === undefined) {
      deliver = data.onHeader?.(line, length) !== false;
      this.#arm(exchange);
    }
    if (exchange) exchange.deliver = deliver;
    if (length > 0) this.#framer.beginBinary(length);
    else if (exchange) this.#complete(exchange);
  }

  #onBinary(chunk: Uint8Array, last: boolean): void | Promise<void> {
    const urc = this.#urcData;
    if (urc) {
      if (last) this.#urcData = undefined;
      this.stats.payloadBytes += chunk.length;
      try {
        const wait = urc.onData(chunk);
        if (wait) {
          this.#urcWaiting = true;
          return wait
            .catch(() => undefined)
            .finally(() => {
              this.#urcWaiting = false;
            });
        }
      } catch (error) {
        // A push consumer must not throw (it owns its socket's failure); the rest of this payload
        // is still skipped by count, so the stream stays in sync.
        this.#urcData = undefined;
        this.#log?.log('error', 'at.push-sink-threw', { message: error instanceof Error ? error.message : String(error) });
      }
      return;
    }
    const exchange = this.#current;
    let wait: void | Promise<void> = undefined;
    if (exchange && exchange.deliver) {
      exchange.received += chunk.length;
      this.stats.payloadBytes += chunk.length;
      try {
        wait = exchange.options.data!.onData(chunk);
      } catch (error) {
        exchange.sinkError = error;
        exchange.deliver = false;
      }
      if (wait) {
        // Pause the no-progress timer while the sink works (a flash erase is not modem silence).
        this.#disarm(exchange);
        wait = wait.then(
          () => {
            if (!exchange.settled) this.#arm(exchange);
            if (last) this.#complete(exchange);
          },
          (error: unknown) => {
            exchange.sinkError ??= error;
            exchange.deliver = false;
            if (!exchange.settled) this.#arm(exchange);
            if (last) this.#complete(exchange);
          },
        );
        return wait;
      }
    } else {
      if (exchange) exchange.received += chunk.length;
      this.stats.discardedBytes += chunk.length;
    }
    if (exchange) {
      if (!exchange.settled) this.#arm(exchange);
      if (last) this.#complete(exchange);
    }
  }

  #onPrompt(): void {
    const exchange = this.#current;
    if (exchange) this.#sendPayload(exchange);
  }

  #sendPayload(exchange: Exchange): void {
    const payload = exchange.options.payload;
    if (!payload) return;
    this.#arm(exchange);
    this.#writeBytes(payload).catch((error: unknown) => this.#settle(exchange, error));
  }

  #kick(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    void this.#pump();
  }

  /** Pull bytes from the UART through the framer until none are left (or the engine closes). */
  async #pump(): Promise<void> {
    try {
      for (;;) {
        if (this.#closed) return;
        if (this.#rxStart < this.#rxEnd) {
          this.#rxStart += this.#framer.push(this.#rx.subarray(this.#rxStart, this.#rxEnd));
          const wait = this.#framer.takeWait();
          if (wait) await wait;
          continue;
        }
        const n = this.#serial.read(this.#rx);
        if (n <= 0) return;
        this.stats.rxBytes += n;
        this.#rxStart = 0;
        this.#rxEnd = n;
      }
    } catch (error) {
      // A UART read failure: fail the command in flight with it, and resync before the next.
      const current = this.#current;
      this.invalidate();
      if (current) this.#settle(current, new OtaError('platform-error', 'UART read failed', error));
    } finally {
      this.#pumping = false;
    }
  }

  async #write(text: string): Promise<void> {
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7e || (c < 0x20 && c !== 0x0d)) throw new OtaError('invalid-argument', `AT command has a non-printable byte at ${i}`);
      bytes[i] = c;
    }
    return this.#writeBytes(bytes);
  }

  async #writeBytes(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#closed) throw new OtaError('closed', 'AT engine closed');
      const accepted = this.#serial.write(offset === 0 ? bytes : bytes.subarray(offset));
      this.stats.txBytes += accepted;
      offset += accepted;
      if (offset < bytes.length) {
        // Transmit FIFO full: wait for onWritable, with a poll as a backstop for bindings that
        // do not report it.
        await new Promise<void>((resolve) => {
          const id = this.#clock.setTimeout(() => {
            this.#writable = undefined;
            resolve();
          }, 20);
          this.#writable = () => {
            this.#clock.clearTimeout(id);
            resolve();
          };
        });
      }
    }
  }
}

/** `OK` / an error result as the engine's outcome, or undefined for any other line. */
function finalResult(line: string): 'ok' | OtaError | undefined {
  if (line === 'OK') return 'ok';
  if (line === 'ERROR') return new OtaError('at-error', 'ERROR');
  if (line.startsWith('+CME ERROR: ')) return new OtaError('cme-error', line.slice(12));
  if (line.startsWith('+CMS ERROR: ')) return new OtaError('cme-error', `CMS ${line.slice(12)}`);
  return undefined;
}
