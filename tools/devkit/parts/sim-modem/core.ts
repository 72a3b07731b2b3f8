/**
 * What both SIMCom personalities share: power key and boot, the command-line discipline (echo,
 * one command at a time, `>` data entry), result codes per `AT+CMEE`, URCs, registration, the
 * fault knobs and the counters. The personalities (sim7080.ts, sim7600.ts) add the command sets.
 *
 * Facts are from /work/shared/reference/simcom-at.md (section numbers cited in place).
 */
import type { DigitalIn, DigitalOut } from '../../../../src/platform/serial.js';
import type { UartModemEnd } from '../sim-uart.js';
import { garble } from '../sim-uart.js';
import type { VirtualTime } from '../virtual-time.js';
import { type AtCommand, CME_TEXT, parseCommand } from './at-command.js';
import type { Endpoint, NetworkModel, SimModemCounters, SimModemFaults, SimModemOptions } from './types.js';

const CR = 0x0d;
const LF = 0x0a;

/** Longest command line kept (bytes). SIMCom manuals do not state one; 1024 covers every
 * command the drivers send (SHREQ path <= 512, USERDATA <= 512 plus quoting). Past it: ERROR. */
export const COMMAND_LINE_MAX = 1024;

/** Timing of one personality's power and boot behaviour, ms. */
export interface BootPlan {
  /** PWRKEY held at least this long turns the module on. */
  powerOnHoldMs: number;
  /** PWRKEY held at least this long (while on) turns it off. */
  powerOffHoldMs: number;
  /** Power-on to UART ready (commands answered). */
  uartReadyMs: number;
  /** Power-on to `AT+CPIN?` answering READY (before: `+CME ERROR: SIM busy`). */
  simReadyMs: number;
  /** Boot URCs: (ms after power-on, text); printed only when `printBootUrcs()` says so. */
  urcs: [number, string][];
}

export abstract class ModemCore {
  readonly counters: SimModemCounters = {
    uartToModemBytes: 0,
    uartToHostBytes: 0,
    commands: 0,
    requests: 0,
    netRxBytes: 0,
    netTxBytes: 0,
    boots: 0,
    virtualMs: 0,
    mqttSent: [],
  };
  /** The module's PWRKEY as the MCU drives it (1 = key pressed). */
  readonly powerKey: DigitalOut;
  /**
   * The module's STATUS output as a GPIO input reads it: 1 from power-on (while it boots, too)
   * until it is off (SIMCom hardware designs: STATUS high while the module runs).
   */
  readonly status: DigitalIn = { read: () => (this.power === 'off' ? 0 : 1) };
  #faults: SimModemFaults = {};
  #faultNetRx = 0;
  #faultReadPayload = 0;
  #faultUartOut = 0;
  #nextGarbage: number | undefined;
  #seed: number;

  /** Power: off, booting (no UART yet), on. */
  power: 'off' | 'booting' | 'on' = 'off';
  stalled = false;
  /** Bumped at every power change: callbacks of an earlier life are dropped. */
  epoch = 0;
  poweredAt = 0;
  echo = true;
  cmee = 0;
  /** 0 = auto-baud (SIM7080 default), else the fixed rate. */
  ipr: number;
  /**
   * `AT+IFC=<dce_by_dte>,<dte_by_dce>` (simcom-at.md §3.6): 2 = RTS/CTS. The first value decides
   * whether the modem's output stops when the host deasserts RTS (`UartModemEnd.hardwareFlow`).
   * Factory 0,0; NO_SAVE on SIM7080 (back to 0,0 at every boot), kept on SIM7600.
   */
  ifc: [number, number] = [0, 0];
  #autoBaudLocked = false;
  /** Registration: 0 idle, 2 searching, 1 home, 5 roaming, 3 denied. */
  regStat = 0;
  cfun = 1;
  cregN = 0;
  cgregN = 0;
  ceregN = 0;
  #regHandle = 0;

  #line: number[] = [];
  #lineOverflow = false;
  #queue: string[] = [];
  #busy = false;
  #dataEntry: { remaining: number; parts: number[]; done: (bytes: Uint8Array) => void } | undefined;
  /**
   * Pushed socket data (and the close URC that must follow it) waiting in the modem's receive
   * buffer for the UART: fed to the wire one block at a time as it drains, so a link loss, a close
   * or a reset still drops what has not left (as manual mode drops unread data).
   */
  #pushQueue: { owner: object; parts: (string | Uint8Array)[] }[] = [];
  #pushing = false;
  #keyDownAt: number | undefined;
  #keyHandle = 0;
  #faultHandles: number[] = [];
  #urcHandle = 0;

  protected readonly networkModel: NetworkModel;

  constructor(
    readonly time: VirtualTime,
    readonly uart: UartModemEnd,
    readonly options: SimModemOptions,
    network: NetworkModel,
  ) {
    this.networkModel = { ...network, ...options.network };
    this.ipr = options.ipr ?? this.defaultIpr();
    this.#seed = options.seed ?? 0x5eed;
    this.powerKey = { write: (value) => this.#key(value) };
    uart.onReceive = (bytes, baud) => this.#receive(bytes, baud);
    uart.baud = this.ipr || uart.baud;
  }

  // ---- personality hooks ----
  protected abstract defaultIpr(): number;
  protected abstract bootPlan(): BootPlan;
  /** Whether boot URCs are printed (SIM7080: only with a fixed `AT+IPR`, §3.1). */
  protected abstract printBootUrcs(): boolean;
  /** Run one command; return false for an unknown command (answered `ERROR`). */
  protected abstract execute(cmd: AtCommand): boolean;
  /** Forget sessions, sockets and bearer (power loss). */
  protected abstract resetSessions(): void;
  /** The data bearer went away (fault or network): close everything, print URCs. */
  protected abstract linkLost(): void;
  /** Think time before a command's first response byte, ms. */
  protected latencyMs(cmd: AtCommand): number {
    return cmd.kind === 'read' || cmd.kind === 'test' ? 15 : 10;
  }
  protected abstract defaultCmee(): number;
  /** Whether `AT+IFC` survives a reboot (SIM7600: "stored automatically"; SIM7080: NO_SAVE, §3.6). */
  protected abstract ifcSaved(): boolean;
  protected abstract defaultRssi(): number;
  protected abstract registrationDelayMs(): number;

  // ---- faults and counters ----

  get faults(): SimModemFaults {
    return this.#faults;
  }

  set faults(f: SimModemFaults) {
    this.setFaults(f);
  }

  /** Installs a fault set; byte offsets count from now. */
  setFaults(f: SimModemFaults): void {
    this.#faults = f;
    this.#faultNetRx = 0;
    this.#faultReadPayload = 0;
    this.#faultUartOut = 0;
    this.#nextGarbage = f.garbageAt;
    for (const h of this.#faultHandles) this.time.cancel(h);
    this.#faultHandles = [];
    this.time.cancel(this.#urcHandle);
    if (f.rebootAt !== undefined) {
      this.#faultHandles.push(
        this.time.at(f.rebootAt, () => {
          delete this.#faults.rebootAt;
          // Output cut: whatever the modem still had queued for the host (pushed socket data can
          // be a lot) is lost with the reset, not sent first.
          if (this.power !== 'off' && !this.stalled) this.reboot(0, true);
        }),
      );
    }
    if (f.urcEveryMs !== undefined && f.urcEveryMs > 0) {
      const every = f.urcEveryMs;
      let k = 0;
      const tick = () => {
        if (this.#faults !== f || f.urcEveryMs !== every) return;
        const urcs = this.noiseUrcs();
        this.line(urcs[k++ % urcs.length]);
        this.#urcHandle = this.time.after(every, tick);
      };
      this.#urcHandle = this.time.after(every, tick);
    }
    if (f.stallAt !== undefined) {
      this.#faultHandles.push(
        this.time.at(f.stallAt, () => {
          delete this.#faults.stallAt;
          if (this.power !== 'off') this.#stall();
        }),
      );
    }
  }

  /** Live counters (virtualMs and UART totals read now). */
  snapshot(): SimModemCounters {
    this.counters.virtualMs = this.time.now();
    return { ...this.counters };
  }

  /**
   * Account `n` payload bytes received from the network. Returns how many of them arrive before
   * a `dropLinkAt` fault cuts the link (n when no fault fires).
   */
  protected netReceive(n: number): number {
    const at = this.#faults.dropLinkAt;
    if (at !== undefined && this.#faultNetRx + n >= at && n > 0) {
      const keep = Math.max(0, at - this.#faultNetRx);
      this.#faultNetRx += keep;
      this.counters.netRxBytes += keep;
      delete this.#faults.dropLinkAt;
      return keep;
    }
    this.#faultNetRx += n;
    this.counters.netRxBytes += n;
    return n;
  }

  /** Payload bytes of a read block actually sent: fewer when `truncateAt` falls inside it. */
  protected readBlock(n: number): number {
    const at = this.#faults.truncateAt;
    if (at !== undefined && this.#faultReadPayload + n > at) {
      const keep = Math.max(0, at - this.#faultReadPayload);
      delete this.#faults.truncateAt;
      this.#faultReadPayload += keep;
      return keep;
    }
    this.#faultReadPayload += n;
    return n;
  }

  /** The `httpActionError` fault, consumed. */
  protected takeHttpActionError(): number | undefined {
    const code = this.#faults.httpActionError;
    if (code !== undefined) delete this.#faults.httpActionError;
    return code;
  }

  #takeCme(cmd: AtCommand): number | undefined {
    const f = this.#faults.cmeError;
    if (!f) return undefined;
    let want = f.command.toUpperCase();
    if (want.startsWith('AT')) want = want.slice(2);
    const read = want.endsWith('?');
    if (read) want = want.slice(0, -1);
    if (want.endsWith('=')) want = want.slice(0, -1);
    if (want !== cmd.name || (read && cmd.kind !== 'read')) return undefined;
    const times = (f.times ?? 1) - 1;
    if (times <= 0) delete this.#faults.cmeError;
    else f.times = times;
    return f.code;
  }

  // ---- output ----

  /** Bytes to the host, through the garbage fault. Silent when off or stalled. */
  out(data: string | Uint8Array): void {
    if (this.power !== 'on' || this.stalled) return;
    let bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (this.options.trace && typeof data === 'string') this.options.trace('tx', data);
    while (this.#nextGarbage !== undefined && this.#faultUartOut + bytes.length > this.#nextGarbage) {
      const cut = this.#nextGarbage - this.#faultUartOut;
      this.#write(bytes.subarray(0, cut));
      this.#write(this.#garbage(this.#faults.garbageBytes ?? 8));
      bytes = bytes.subarray(cut);
      const every = this.#faults.garbageEvery;
      if (every) this.#nextGarbage += every;
      else {
        this.#nextGarbage = undefined;
        delete this.#faults.garbageAt;
      }
    }
    this.#write(bytes);
  }

  #write(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#faultUartOut += bytes.length;
    this.counters.uartToHostBytes += bytes.length;
    this.uart.write(bytes);
  }

  #garbage(n: number): Uint8Array {
    const g = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      // xorshift32: deterministic noise for a given seed.
      let x = this.#seed;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.#seed = x >>> 0;
      g[i] = this.#seed & 0xff;
    }
    return g;
  }

  /**
   * Queue output of a pushing socket (`owner`): a data block (header and payload) or its close URC.
   * It goes to the UART after everything queued before it, one entry whenever the wire drained.
   */
  pushOut(owner: object, parts: (string | Uint8Array)[]): void {
    this.#pushQueue.push({ owner, parts });
    this.#pumpPush();
  }

  /** Drop what `owner` (or every socket, without one) still has queued: link lost, closed, reset. */
  dropPushed(owner?: object): void {
    this.#pushQueue = owner === undefined ? [] : this.#pushQueue.filter((e) => e.owner !== owner);
  }

  #pumpPush(): void {
    if (this.#pushing) return;
    const next = this.#pushQueue.shift();
    if (!next) return;
    this.#pushing = true;
    for (const part of next.parts) this.out(part);
    const epoch = this.epoch;
    this.uart.whenDrained(() => {
      if (epoch !== this.epoch) return;
      this.#pushing = false;
      this.#pumpPush();
    });
  }

  /** An information line or URC: `\r\n<text>\r\n`. */
  line(text: string): void {
    this.out(`\r\n${text}\r\n`);
  }

  /** Information lines of one response: `\r\n<a>\r\n<b>\r\n`. */
  lines(texts: string[]): void {
    this.out(`\r\n${texts.join('\r\n')}\r\n`);
  }

  /** Final result codes; each ends the command and lets the next queued line run. */
  ok(): void {
    this.out('\r\nOK\r\n');
    this.done();
  }

  error(): void {
    this.out('\r\nERROR\r\n');
    this.done();
  }

  cme(code: number): void {
    if (this.cmee === 0) this.out('\r\nERROR\r\n');
    else if (this.cmee === 1) this.out(`\r\n+CME ERROR: ${code}\r\n`);
    else this.out(`\r\n+CME ERROR: ${CME_TEXT[code] ?? 'unknown'}\r\n`);
    this.done();
  }

  /** Ends the current command without a result line (the caller printed it). */
  done(): void {
    this.#busy = false;
    if (this.#queue.length > 0) {
      const next = this.#queue.shift()!;
      this.#begin(next);
    }
  }

  /** Runs `fn` `ms` from now unless the modem lost power or stalled meanwhile. */
  later(ms: number, fn: () => void): void {
    const epoch = this.epoch;
    this.time.after(ms, () => {
      if (epoch === this.epoch && !this.stalled) fn();
    });
  }

  /** Real I/O: virtual time waits for it; `then` runs unless the modem's life changed. */
  io<T>(work: Promise<T>, then: (value: T) => void): void {
    const epoch = this.epoch;
    this.time.track(
      work.then((value) => {
        if (epoch === this.epoch && !this.stalled) then(value);
      }),
    );
  }

  /** Enter data mode for exactly `n` bytes (after a `>` or `DOWNLOAD` prompt). */
  expectData(n: number, done: (bytes: Uint8Array) => void): void {
    this.#dataEntry = { remaining: n, parts: [], done };
  }

  /** A name the device gave -> loopback endpoint (undefined: DNS failure). */
  resolve(host: string, port: number): Endpoint | undefined {
    if (this.options.resolve) return this.options.resolve(host, port);
    return this.options.server;
  }

  get network(): NetworkModel {
    return this.networkModel;
  }

  // ---- power ----

  #key(value: 0 | 1): void {
    const plan = this.bootPlan();
    if (value === 1) {
      if (this.#keyDownAt !== undefined) return;
      this.#keyDownAt = this.time.now();
      const hold = this.power === 'off' ? plan.powerOnHoldMs : plan.powerOffHoldMs;
      const wasOff = this.power === 'off';
      this.#keyHandle = this.time.after(hold, () => {
        this.#keyHandle = 0;
        if (wasOff) {
          if (this.power === 'off') this.powerOn();
        } else if (this.power !== 'off') this.powerOff(!this.stalled);
      });
    } else {
      if (this.#keyDownAt === undefined) return;
      this.#keyDownAt = undefined;
      if (this.#keyHandle) this.time.cancel(this.#keyHandle);
      this.#keyHandle = 0;
    }
  }

  /** Power on and boot (PWRKEY, or the second half of a reset). */
  powerOn(): void {
    this.epoch++;
    this.power = 'booting';
    this.stalled = false;
    this.poweredAt = this.time.now();
    this.counters.boots++;
    this.echo = true; // ATE is NO_SAVE: echo returns after every boot (§2, pitfall 10)
    this.cmee = this.defaultCmee();
    this.#autoBaudLocked = false;
    this.#line = [];
    this.#queue = [];
    this.#busy = false;
    this.#dataEntry = undefined;
    this.#pushQueue = [];
    this.#pushing = false;
    this.regStat = 0;
    this.cregN = this.cgregN = this.ceregN = 0;
    if (!this.ifcSaved()) this.setIfc(0, 0);
    this.resetSessions();
    if (this.ipr !== 0) this.uart.baud = this.ipr;
    const plan = this.bootPlan();
    this.later(plan.uartReadyMs, () => {
      this.power = 'on';
    });
    if (this.printBootUrcs()) {
      for (const [ms, text] of plan.urcs) this.later(ms, () => this.line(text));
    }
    if (this.cfun === 1) this.later(plan.simReadyMs, () => this.startRegistration(this.registrationDelayMs() - plan.simReadyMs));
  }

  /** Skip the boot: UART and SIM ready, registered now, no boot URCs (tests, `poweredOn`). */
  fastForwardBoot(): void {
    this.epoch++; // drop the scheduled boot steps
    this.power = 'on';
    this.poweredAt = this.time.now() - this.bootPlan().simReadyMs;
    if (this.cfun === 1) this.setReg(this.options.registrationStat ?? 1);
  }

  /** Power off; `announce` prints `NORMAL POWER DOWN` first (SIM7080 `AT+CPOWD=1`, §3.1). */
  powerOff(announce: boolean): void {
    if (announce && this.power === 'on') this.line('NORMAL POWER DOWN');
    const finish = () => {
      this.epoch++;
      this.power = 'off';
      this.stalled = false;
      this.regStat = 0;
      this.#pushQueue = [];
      this.#pushing = false;
      this.resetSessions();
      this.uart.flush();
    };
    if (announce) this.uart.whenDrained(finish);
    else finish();
  }

  /** A reset (`AT+CFUN=1,1`, `AT+CRESET`, or with `cut` the reboot fault) after `delayMs`; a
   * commanded reset lets its `OK` out first, a spontaneous one cuts the output. */
  reboot(delayMs: number, cut = false): void {
    this.later(delayMs, () => {
      const go = () => {
        this.epoch++;
        this.power = 'off';
        this.uart.flush();
        this.powerOn();
      };
      if (cut) go();
      else this.uart.whenDrained(go);
    });
  }

  #stall(): void {
    this.stalled = true;
    this.epoch++;
    this.#pushQueue = [];
    this.#pushing = false;
    this.uart.flush();
  }

  // ---- registration ----

  startRegistration(afterMs: number): void {
    this.time.cancel(this.#regHandle);
    this.setReg(2);
    const epoch = this.epoch;
    this.#regHandle = this.time.after(Math.max(0, afterMs), () => {
      if (epoch !== this.epoch || this.cfun !== 1) return;
      this.setReg(this.options.registrationStat ?? 1);
    });
  }

  stopRegistration(): void {
    this.time.cancel(this.#regHandle);
    this.setReg(0);
  }

  setReg(stat: number): void {
    if (stat === this.regStat) return;
    this.regStat = stat;
    if (this.power !== 'on') return;
    if (this.cregN > 0) this.line(`+CREG: ${stat}${this.#location(this.cregN)}`);
    if (this.cgregN > 0) this.line(`+CGREG: ${stat}${this.#location(this.cgregN)}`);
    if (this.ceregN > 0) this.line(`+CEREG: ${stat}${this.#location(this.ceregN)}`);
  }

  /** `,<lac/tac>,<ci>,<AcT>` when `<n>` >= 2 and registered (the manual's example location,
   * `+CREG: 1,"1816","550C",0`, §3.2; AcT 7 = LTE / LTE-M). */
  #location(n: number): string {
    return n >= 2 && this.registered ? ',"1816","550C",7' : '';
  }

  get registered(): boolean {
    return this.regStat === 1 || this.regStat === 5;
  }

  get simReady(): boolean {
    return this.time.now() - this.poweredAt >= this.bootPlan().simReadyMs;
  }

  rssi(): number {
    return this.registered ? (this.options.rssi ?? this.defaultRssi()) : 99;
  }

  /** Drops the data bearer now, as if the network did (the `dropLinkAt` fault, or a test). */
  dropLink(): void {
    if (this.power === 'on' && !this.stalled) this.linkLost();
  }

  // ---- input ----

  #receive(bytes: Uint8Array, senderBaud: number): void {
    this.counters.uartToModemBytes += bytes.length;
    if (this.power !== 'on' || this.stalled) return; // nobody listening: bytes lost
    let data = bytes;
    if (senderBaud !== this.uart.baud) {
      // SIM7080 auto-baud (`+IPR: 0`) locks onto the host's rate from the `AT` it sends (§3.5).
      if (this.ipr === 0 && !this.#autoBaudLocked && /[Aa][Tt]/.test(Buffer.from(bytes).toString('latin1'))) {
        this.uart.baud = senderBaud;
        this.#autoBaudLocked = true;
      } else data = garble(bytes, senderBaud, this.uart.baud);
    } else if (this.ipr === 0) this.#autoBaudLocked = true;
    for (let i = 0; i < data.length; i++) {
      if (this.power !== 'on' || this.stalled) return;
      const b = data[i];
      const entry = this.#dataEntry;
      if (entry) {
        entry.parts.push(b);
        if (--entry.remaining === 0) {
          this.#dataEntry = undefined;
          entry.done(Uint8Array.from(entry.parts));
        }
        continue;
      }
      if (this.echo) this.#write(Uint8Array.of(b));
      if (b === CR) {
        const text = Buffer.from(this.#line).toString('latin1');
        const overflow = this.#lineOverflow;
        this.#line = [];
        this.#lineOverflow = false;
        if (overflow) this.#enqueue('\u0000overflow');
        else if (text.length > 0) this.#enqueue(text);
        continue;
      }
      if (b === LF && this.#line.length === 0) continue; // TinyGSM's `\r\n`: LF ignored (§2)
      if (this.#line.length >= COMMAND_LINE_MAX) this.#lineOverflow = true;
      else this.#line.push(b);
    }
  }

  #enqueue(text: string): void {
    if (this.#busy) this.#queue.push(text);
    else this.#begin(text);
  }

  #begin(text: string): void {
    this.#busy = true;
    this.options.trace?.('rx', text);
    const cmd = text === '\u0000overflow' ? undefined : parseCommand(text);
    if (!cmd) {
      // Not a command line (noise, a stray payload): a real modem answers ERROR or nothing;
      // ERROR is the common case for text, and the driver must survive both.
      this.later(10, () => this.error());
      return;
    }
    this.counters.commands++;
    this.later(this.latencyMs(cmd), () => {
      const code = this.#takeCme(cmd);
      if (code !== undefined) return this.cme(code);
      if (!this.#common(cmd) && !this.execute(cmd)) this.error();
    });
  }

  /** Commands both personalities answer alike. */
  #common(cmd: AtCommand): boolean {
    switch (cmd.name) {
      case '':
        this.ok();
        return true;
      case 'E':
        if (cmd.kind === 'set' && (cmd.args[0] === '0' || cmd.args[0] === '1')) {
          this.echo = cmd.args[0] === '1';
          this.ok();
        } else if (cmd.kind === 'exec') {
          this.echo = false;
          this.ok();
        } else this.error();
        return true;
      case '+CMEE':
        if (cmd.kind === 'read') {
          this.line(`+CMEE: ${this.cmee}`);
          this.ok();
        } else if (cmd.kind === 'set' && /^[012]$/.test(cmd.args[0] ?? '')) {
          this.cmee = Number(cmd.args[0]);
          this.ok();
        } else if (cmd.kind === 'test') {
          this.line('+CMEE: (0-2)');
          this.ok();
        } else this.error();
        return true;
      case '+CPIN':
        if (cmd.kind !== 'read') return false;
        if (!this.simReady) return this.cme(14), true; // SIM busy for the first seconds (§3.1)
        this.line('+CPIN: READY');
        this.ok();
        return true;
      case '+CSQ':
        this.line(`+CSQ: ${this.rssi()},99`);
        this.ok();
        return true;
      case '+CREG':
      case '+CGREG':
      case '+CEREG': {
        const key = cmd.name === '+CREG' ? 'cregN' : cmd.name === '+CGREG' ? 'cgregN' : 'ceregN';
        if (cmd.kind === 'read') {
          this.line(`${cmd.name}: ${this[key]},${this.regStat}${this.#location(this[key])}`);
          this.ok();
        } else if (cmd.kind === 'set' && /^[0-2]$|^4$/.test(cmd.args[0] ?? '')) {
          this[key] = Number(cmd.args[0]);
          this.ok();
        } else if (cmd.kind === 'test') {
          this.line(`${cmd.name}: (0-2,4)`);
          this.ok();
        } else this.error();
        return true;
      }
      case '+CGATT':
        if (cmd.kind === 'read') {
          this.line(`+CGATT: ${this.registered ? 1 : 0}`);
          this.ok();
        } else this.ok();
        return true;
      case '+IPR':
        if (cmd.kind === 'read') {
          this.line(`+IPR: ${this.ipr}`);
          this.ok();
          return true;
        }
        if (cmd.kind === 'set') {
          const rate = Number(cmd.args[0]);
          if (!this.iprRates().includes(rate)) return this.error(), true;
          this.ipr = rate;
          this.out('\r\nOK\r\n');
          // "takes effect following the issuance of any result code" (§3.5): OK at the old rate.
          const epoch = this.epoch;
          this.uart.whenDrained(() => {
            if (epoch !== this.epoch) return;
            if (rate !== 0) this.uart.baud = rate;
            else this.#autoBaudLocked = false;
          });
          this.done();
          return true;
        }
        return false;
      case 'I':
      case '+CGMR':
      case '+CGSN':
      case '+CGMM':
      case '+CCID':
      case '+CIMI':
        this.line(this.identity(cmd.name));
        this.ok();
        return true;
      case '+IFC': {
        if (cmd.kind === 'read') {
          this.line(`+IFC: ${this.ifc[0]},${this.ifc[1]}`);
          this.ok();
        } else if (cmd.kind === 'test') {
          this.line('+IFC: (0-2),(0-2)');
          this.ok();
        } else if (cmd.kind === 'set' && /^[0-2]$/.test(cmd.args[0] ?? '') && /^[0-2]$/.test(cmd.args[1] ?? cmd.args[0])) {
          this.setIfc(Number(cmd.args[0]), Number(cmd.args[1] ?? cmd.args[0]));
          this.ok();
        } else this.error();
        return true;
      }
      case '&W':
      case '+CSCLK':
      case '+CPSMS':
      case '+CEDRXS':
      case '+CNMP':
      case '+CMNB':
      case '+CLTS':
      case '+CTZU':
        if (cmd.kind === 'read') this.line(`${cmd.name}: 0`);
        this.ok();
        return true;
      default:
        return false;
    }
  }

  /** Flow-control setting; the modem end of the UART honours RTS when `dceByDte` is 2. */
  setIfc(dceByDte: number, dteByDce: number): void {
    this.ifc = [dceByDte, dteByDce];
    this.uart.hardwareFlow = dceByDte === 2;
  }

  protected abstract iprRates(): number[];
  /** URCs a driver must ignore (the `urcEveryMs` fault). Formats are INF. */
  protected abstract noiseUrcs(): string[];
  protected abstract identity(name: string): string;
}
