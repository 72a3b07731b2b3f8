/**
 * A UART in virtual time: the wire between the MCU and the modem.
 *
 * - 8N1 framing: every byte costs 10 bit times, so N bytes at B baud occupy the line for exactly
 *   N * 10 / B seconds, in each direction independently (full duplex).
 * - The device end is a `SerialPort` (src/platform/serial.ts) with a bounded RX FIFO: bytes that
 *   arrive while it is full are lost and `onError` reports the overrun, as a real UART does. Its
 *   TX FIFO is bounded too: `write` accepts what fits and `onWritable` says when room frees up.
 * - Each end has its own baud rate. Bytes sent at a rate the receiver is not set to arrive as
 *   garbage with a framing error (the "wrong saved baud looks like a dead modem" field report,
 *   simcom-at.md §3.5); the modem end may instead lock onto the sender's rate (auto-baud).
 * - Delivery is in bursts of at most `burstBytes` (a UART driver's FIFO threshold interrupt): a
 *   burst arrives when its last byte's stop bit does, so timing is exact at every burst end.
 * - RTS/CTS hardware flow control, modem -> host (simcom-at.md §3.6): when the board wires the
 *   lines (`flowControl: 'rts-cts'`) *and* the modem honours them (`AT+IFC=2,...`, which the modem
 *   end reports through `UartModemEnd.hardwareFlow`), the device deasserts RTS once its RX FIFO
 *   holds `rtsThresholdBytes` and the modem stops before its next burst; RTS comes back when a
 *   read drains the FIFO below the threshold. The burst already on the wire still lands, so the
 *   threshold leaves room for one. Without either half, bytes overrun the FIFO as before.
 */
import type { SerialEvents, SerialPort } from '../../../src/platform/serial.js';
import type { VirtualTime } from './virtual-time.js';

/** The device's RX FIFO when the board does not say (SimUartOptions.rxFifoBytes). */
export const DEFAULT_RX_FIFO_BYTES = 4096;

export interface SimUartOptions {
  /** Initial rate of both ends (SIM7600 factory default 115200, simcom-at.md §3.5). */
  baud?: number;
  /** Device RX FIFO, bytes. An ESP32 UART driver's ring buffer is typically 1-4 KiB; TinyGSM
   * asks for >= 1024 (simcom-at.md pitfall 4). Past it: overrun, bytes lost, `onError`. */
  rxFifoBytes?: number;
  /** Device TX FIFO, bytes. Past it `write` accepts fewer bytes; `onWritable` follows. */
  txFifoBytes?: number;
  /** Largest burst delivered by one event (an RX FIFO-threshold interrupt). */
  burstBytes?: number;
  /** Whether the board wires RTS/CTS between MCU and modem (default 'none'). */
  flowControl?: 'rts-cts' | 'none';
  /** RX FIFO fill at which the device deasserts RTS (default: FIFO size - 2 bursts). */
  rtsThresholdBytes?: number;
}

export interface UartCounters {
  /** Bytes that crossed the wire host -> modem. */
  toModemBytes: number;
  /** Bytes that crossed the wire modem -> host (incl. lost ones). */
  toHostBytes: number;
  /** Bytes dropped at the device's full RX FIFO. */
  overrunBytes: number;
  /** Overrun episodes reported through onError. */
  overruns: number;
  /** Bytes received at a mismatched rate (garbled). */
  framingErrors: number;
  /** Times the modem found CTS deasserted and held its output (flow control at work). */
  ctsHolds: number;
}

const BITS_PER_BYTE = 10;

/** One direction of the wire: a queue of bytes, sent back to back at the sender's rate. */
class Line {
  #queue: Uint8Array[] = [];
  #queued = 0;
  #head = 0;
  #busy = false;
  #handle = 0;
  #epoch = 0;
  /** Start of the current back-to-back run, and bytes sent in it (exact timing, no drift). */
  #runStart = 0;
  #runBytes = 0;
  #runBaud = 0;
  #drainWaiters: (() => void)[] = [];
  /** Bytes wait for `resume()`: the receiver's flow control said stop. */
  #held = false;

  constructor(
    private readonly time: VirtualTime,
    private readonly burst: number,
    private readonly baud: () => number,
    private readonly deliver: (bytes: Uint8Array, baud: number) => void,
    private readonly sent: (count: number) => void,
    /** Checked before each burst: false holds the line (CTS deasserted). */
    private readonly clear: () => boolean = () => true,
    private readonly onHold: () => void = () => undefined,
  ) {}

  /** The receiver allows sending again: continue where the line stopped. */
  resume(): void {
    if (!this.#held || this.#busy) return;
    this.#held = false;
    if (this.#queued > 0) this.#startRun();
  }

  /** Bytes not yet delivered (waiting, or on the wire in the current burst). */
  get queued(): number {
    return this.#queued + this.#inFlight;
  }

  #inFlight = 0;

  get idle(): boolean {
    return !this.#busy && this.#queued === 0 && this.#inFlight === 0;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#queue.push(bytes.slice());
    this.#queued += bytes.length;
    if (!this.#busy) this.#startRun();
  }

  /** Drop everything not yet on the wire (power loss, reset). */
  flush(): void {
    this.#queue = [];
    this.#queued = 0;
    this.#inFlight = 0;
    this.#head = 0;
    if (this.#busy) this.time.cancel(this.#handle);
    this.#busy = false;
    this.#held = false;
    this.#epoch++;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Call `fn` once the line has sent everything queued so far (now, if idle). */
  whenDrained(fn: () => void): void {
    if (this.idle) fn();
    else this.#drainWaiters.push(fn);
  }

  #startRun(): void {
    this.#runStart = this.time.now();
    this.#runBytes = 0;
    this.#runBaud = this.baud();
    this.#next();
  }

  #next(): void {
    if (this.#queued === 0) {
      this.#busy = false;
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
      return;
    }
    if (!this.clear()) {
      // CTS deasserted: hold before the next burst; `resume` restarts the run (new timing base).
      this.#busy = false;
      this.#held = true;
      this.onHold();
      return;
    }
    if (this.baud() !== this.#runBaud) {
      // A rate change starts a new run from here (the old bytes already left at the old rate).
      this.#runStart = this.time.now();
      this.#runBytes = 0;
      this.#runBaud = this.baud();
    }
    this.#busy = true;
    const n = Math.min(this.burst, this.#queued);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.#queue[0];
      const take = Math.min(n - filled, head.length - this.#head);
      out.set(head.subarray(this.#head, this.#head + take), filled);
      filled += take;
      this.#head += take;
      if (this.#head === head.length) {
        this.#queue.shift();
        this.#head = 0;
      }
    }
    this.#queued -= n;
    this.#inFlight = n;
    this.#runBytes += n;
    const baud = this.#runBaud;
    const at = this.#runStart + (this.#runBytes * BITS_PER_BYTE * 1000) / baud;
    const epoch = this.#epoch;
    this.#handle = this.time.at(at, () => {
      if (epoch !== this.#epoch) return;
      this.#inFlight = 0;
      this.sent(n);
      this.deliver(out, baud);
      this.#next();
    });
  }
}

/** What the modem simulator sees of the wire. */
export interface UartModemEnd {
  /** Queue bytes for the host (paced at the modem's rate). */
  write(bytes: Uint8Array): void;
  /** The modem's current rate. Changing it affects bytes not yet started. */
  baud: number;
  /** Bytes arriving from the host: `senderBaud` is the rate they were sent at. */
  onReceive: (bytes: Uint8Array, senderBaud: number) => void;
  /** Drop output not yet on the wire (the modem lost power). */
  flush(): void;
  /** Run `fn` once every byte queued so far has left (for `AT+IPR`: switch after the OK). */
  whenDrained(fn: () => void): void;
  /** Bytes queued toward the host, not yet sent. */
  readonly pending: number;
  /** The modem honours the host's RTS (`AT+IFC=2,...`); effective only if the board wires it. */
  hardwareFlow: boolean;
}

export class SimUart {
  readonly counters: UartCounters = {
    toModemBytes: 0,
    toHostBytes: 0,
    overrunBytes: 0,
    overruns: 0,
    framingErrors: 0,
    ctsHolds: 0,
  };
  /** The MCU's end: hand this to the agent as `modemSerial`. */
  readonly device: SerialPort;
  /** The modem's end. */
  readonly modem: UartModemEnd;

  readonly rxFifoBytes: number;
  readonly txFifoBytes: number;
  readonly flowControl: 'rts-cts' | 'none';
  readonly rtsThresholdBytes: number;
  #modemFlow = false;
  #deviceBaud: number;
  #modemBaud: number;
  #events: SerialEvents = {};
  #rx: Uint8Array;
  #rxHead = 0;
  #rxCount = 0;
  #closed = false;
  #inOverrun = false;
  #toModem: Line;
  #toHost: Line;
  #modemReceive: (bytes: Uint8Array, senderBaud: number) => void = () => undefined;

  constructor(
    private readonly time: VirtualTime,
    options: SimUartOptions = {},
  ) {
    this.#deviceBaud = options.baud ?? 115_200;
    this.#modemBaud = this.#deviceBaud;
    this.rxFifoBytes = options.rxFifoBytes ?? DEFAULT_RX_FIFO_BYTES;
    this.txFifoBytes = options.txFifoBytes ?? 1024;
    const burst = options.burstBytes ?? 64;
    this.flowControl = options.flowControl ?? 'none';
    this.rtsThresholdBytes = options.rtsThresholdBytes ?? Math.max(1, this.rxFifoBytes - 2 * burst);
    if (this.rtsThresholdBytes + burst > this.rxFifoBytes) throw new Error(`rtsThresholdBytes ${this.rtsThresholdBytes} leaves no room for a ${burst}-byte burst in a ${this.rxFifoBytes}-byte FIFO`);
    this.#rx = new Uint8Array(this.rxFifoBytes);
    this.#toModem = new Line(
      time,
      burst,
      () => this.#deviceBaud,
      (bytes, baud) => this.#modemReceive(bytes, baud),
      (n) => {
        this.counters.toModemBytes += n;
        // TX FIFO room freed: tell the device how much it may write now.
        const room = this.txFifoBytes - this.#toModem.queued;
        if (!this.#closed && this.#events.onWritable) this.#events.onWritable(room);
      },
    );
    this.#toHost = new Line(
      time,
      burst,
      () => this.#modemBaud,
      (bytes, baud) => this.#deviceReceive(bytes, baud),
      (n) => {
        this.counters.toHostBytes += n;
      },
      () => !this.flowActive || this.rts,
      () => {
        this.counters.ctsHolds++;
      },
    );
    const uart = this;
    this.device = {
      attach(events: SerialEvents) {
        uart.#events = events;
      },
      read(into: Uint8Array): number {
        return uart.#read(into);
      },
      write(bytes: Uint8Array): number {
        if (uart.#closed) throw new Error('serial port closed');
        const room = uart.txFifoBytes - uart.#toModem.queued;
        const n = Math.min(room, bytes.length);
        if (n > 0) uart.#toModem.push(bytes.subarray(0, n));
        return n;
      },
      get readable() {
        return uart.#rxCount;
      },
      setBaud(baud: number) {
        uart.#deviceBaud = baud;
      },
      get baud() {
        return uart.#deviceBaud;
      },
      close() {
        uart.#closed = true;
        uart.#events = {};
      },
    };
    this.modem = {
      write: (bytes) => this.#toHost.push(bytes),
      get baud() {
        return uart.#modemBaud;
      },
      set baud(value: number) {
        uart.#modemBaud = value;
      },
      get onReceive() {
        return uart.#modemReceive;
      },
      set onReceive(fn) {
        uart.#modemReceive = fn;
      },
      flush: () => this.#toHost.flush(),
      whenDrained: (fn) => this.#toHost.whenDrained(fn),
      get pending() {
        return uart.#toHost.queued;
      },
      get hardwareFlow() {
        return uart.#modemFlow;
      },
      set hardwareFlow(on: boolean) {
        uart.#modemFlow = on;
        if (!on) uart.#toHost.resume();
      },
    };
  }

  /** RTS/CTS is in force: the board wires it and the modem honours it. */
  get flowActive(): boolean {
    return this.flowControl === 'rts-cts' && this.#modemFlow;
  }

  /** The device's RTS: asserted (may send) while its RX FIFO is below the threshold. */
  get rts(): boolean {
    return this.#rxCount < this.rtsThresholdBytes;
  }

  #deviceReceive(bytes: Uint8Array, senderBaud: number): void {
    if (this.#closed) return;
    let data = bytes;
    if (senderBaud !== this.#deviceBaud) {
      // Sampled at the wrong rate: each byte becomes some other value and the stop bit is
      // usually missed. Deterministic garbage so runs repeat.
      data = garble(bytes, senderBaud, this.#deviceBaud);
      this.counters.framingErrors += bytes.length;
      this.#events.onError?.(new Error(`framing error: ${bytes.length} bytes at ${senderBaud} baud, port at ${this.#deviceBaud}`));
    }
    const room = this.rxFifoBytes - this.#rxCount;
    const n = Math.min(room, data.length);
    // Into the ring in at most two pieces (the end of the buffer, then its start).
    const tail = (this.#rxHead + this.#rxCount) % this.rxFifoBytes;
    const first = Math.min(n, this.rxFifoBytes - tail);
    this.#rx.set(data.subarray(0, first), tail);
    if (n > first) this.#rx.set(data.subarray(first, n), 0);
    this.#rxCount += n;
    const lost = data.length - n;
    if (lost > 0) {
      this.counters.overrunBytes += lost;
      if (!this.#inOverrun) {
        this.#inOverrun = true;
        this.counters.overruns++;
        this.#events.onError?.(new Error(`UART RX overrun: FIFO of ${this.rxFifoBytes} bytes full, bytes lost`));
      }
    }
    if (this.#rxCount > 0) this.#events.onReadable?.(this.#rxCount);
  }

  #read(into: Uint8Array): number {
    const n = Math.min(into.length, this.#rxCount);
    const first = Math.min(n, this.rxFifoBytes - this.#rxHead);
    into.set(this.#rx.subarray(this.#rxHead, this.#rxHead + first), 0);
    if (n > first) into.set(this.#rx.subarray(0, n - first), first);
    this.#rxHead = (this.#rxHead + n) % this.rxFifoBytes;
    this.#rxCount -= n;
    if (n > 0) this.#inOverrun = false;
    // RTS asserted again: a modem that held its output continues.
    if (this.rts) this.#toHost.resume();
    return n;
  }
}

/** Bytes as a receiver at `rxBaud` samples a sender at `txBaud` (deterministic nonsense). */
export function garble(bytes: Uint8Array, txBaud: number, rxBaud: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  const k = (txBaud * 31 + rxBaud * 17) & 0xff;
  for (let i = 0; i < bytes.length; i++) out[i] = (bytes[i] ^ k ^ 0xa5 ^ (i * 13)) & 0xff || 0xff;
  return out;
}
