/**
 * The one modem interface the HTTP clients use, whatever the SIMCom family behind it, and the
 * bring-up and recovery both families share (simcom-at.md §3): power key, `AT` sync, `ATE0`,
 * `AT+CMEE`, SIM ready (retrying `SIM busy`), registration with a deadline, signal, bearer.
 */
import { startAsJob } from '../util/stack.js';
import type { ClockPort } from '../platform/clock.js';
import type { LogPort } from '../platform/log.js';
import type { DigitalIn, DigitalOut, SerialPort } from '../platform/serial.js';
import { OtaError, isOtaError } from '../util/errors.js';
import { AtEngine, type AtCommandOptions } from './at-engine.js';
import { LIMITS } from './limits.js';

export type ModemModel = 'sim7080' | 'sim7600';

/** A byte sink for payloads read from the modem; a promise is backpressure. */
export type ByteSink = (chunk: Uint8Array) => void | Promise<void>;

/** A TCP (optionally TLS) connection carried by the modem. */
export interface ModemSocket {
  /** Send bytes (split into the modem's per-command maximum). */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Wait for received data and read one block of it into `sink`; resolves with the byte count,
   * 0 only once the peer closed and nothing is left. Rejects `timeout` after `idleMs` without data,
   * `link-lost` when the bearer dropped.
   */
  read(sink: ByteSink, idleMs: number, needs?: () => number | undefined): Promise<number>;
  readonly closed: boolean;
  /** Close (idempotent; errors from an already-closed socket are ignored). */
  close(): Promise<void>;
}

/** One request of the modem's built-in HTTP(S) client. */
export interface NativeHttpRequest {
  method: 'GET' | 'POST' | 'PUT' | 'HEAD';
  scheme: 'http' | 'https';
  host: string;
  port: number;
  path: string;
  headers: [string, string][];
  body?: Uint8Array;
  timeoutMs: number;
}

/** What `NativeHttp.carries` looks at: the URL's parts, and the method when known. */
export type CarriedRequest = Pick<NativeHttpRequest, 'scheme' | 'host' | 'port' | 'path'> & { method?: NativeHttpRequest['method'] };

/** The modem's built-in HTTP(S) client: the response body is buffered in the modem. */
export interface NativeHttp {
  /** Largest body this modem's stack buffers reliably (bytes): the Range window. */
  readonly windowMax: number;
  /** Send a request; resolves with the status and the body length held in the modem. */
  request(request: NativeHttpRequest): Promise<{ status: number; length: number }>;
  /**
   * The last response's header block (status line to the empty line, as the server sent it) into
   * `sink`, at most LIMITS.httpHeadMax bytes. Absent where the stack keeps no headers.
   */
  readHead?(sink: ByteSink): Promise<void>;
  /**
   * Whether the stack's commands can carry this request: its URL (SIM7600: `AT+HTTPPARA="URL"` on
   * one command line; SIM7080: the `AT+SHREQ` path) and its method (SIM7600's `AT+HTTPACTION`
   * has no PUT). A request it cannot carry (a 1.3 KiB pre-signed link after a redirect, hawkBit's
   * configData PUT) goes over the modem's socket instead. Absent: every request.
   */
  carries?(request: CarriedRequest): boolean;
  /** Read `[offset, offset + length)` of the buffered body into `sink`. */
  read(offset: number, length: number, sink: ByteSink): Promise<void>;
  /** End the session (after an error, or when idle). */
  close(): Promise<void>;
}

/**
 * How the board wires the modem UART: 'rts-cts' when RTS and CTS are connected (and the MCU's
 * UART driver runs hardware flow control), so the modem can be told to pause (`AT+IFC=2,2`,
 * simcom-at.md §3.6); 'none' otherwise.
 */
export type UartFlowControl = 'rts-cts' | 'none';

export interface ModemConfig {
  /** APN; undefined uses the one the network delivers (SIM7080 `AT+CGNAPN`). */
  apn?: string;
  /** The CA certificate (PEM) every TLS connection is verified against. Required: the modems'
   * defaults trust any server (simcom-at.md pitfall 9). */
  caCert: Uint8Array;
  /** Name of the CA file on the modem. */
  caName?: string;
  /** Deadline for network registration, ms (Zephyr SIM7080: 180 s). */
  registrationTimeoutMs?: number;
  /**
   * Polling interval while waiting for registration, ms (default 500). perf (issue 15): the
   * registration is seen at most this long after it happened; at 2 s the wait after the network
   * registered averaged 1 s of every bring-up, for an `AT+CEREG?` round trip of a few ms each.
   */
  registrationPollMs?: number;
  /** Power-key pulse that switches the modem on or off, ms (default per model, simcom-at.md §3.1). */
  powerPulseMs?: number;
  /** How long to probe with `AT` after a power-key pulse before trying another, ms. */
  bootWaitMs?: number;
  /** Power-key attempts before giving up (Zephyr: 5). */
  powerTries?: number;
  /** How long `AT+CPIN?` may answer `SIM busy`, ms. */
  simBusyMs?: number;
  /**
   * Rates to look for the modem on when it does not answer at the board's rate (the serial port's
   * rate when the driver is made): its factory rate, or one saved earlier. Tried in order, at most
   * `LIMITS.baudFallbacksMax`; default `DEFAULT_BAUD_FALLBACKS`.
   */
  baudFallbacks?: number[];
}

/** SIMCom factory rate first (SIM7600/A76xx 115200 fixed), then the rates boards commonly save. */
export const DEFAULT_BAUD_FALLBACKS: readonly number[] = [115_200, 921_600, 460_800, 230_400, 57_600, 9_600];

/** After the modem's `OK` to `AT+IPR`, the time both ends take to settle on the new rate, ms. */
const BAUD_SETTLE_MS = 50;

export interface ModemPorts {
  serial: SerialPort;
  clock: ClockPort;
  powerKey: DigitalOut;
  /** The modem's STATUS output on a GPIO input (1 = on), where the board wires it. */
  status?: DigitalIn;
  log?: LogPort;
}

export interface ModemStatus {
  /** Signal in dBm from `AT+CSQ` (undefined: 99, unknown). */
  rssiDbm: number | undefined;
  /** Firmware revision (`AT+CGMR`), for the log and the report. */
  revision: string;
}

/** The modem, as the HTTP clients see it. */
export interface Modem {
  readonly model: ModemModel;
  readonly at: AtEngine;
  /** Bring the modem to "bearer up" (power, sync, SIM, registration, PDP, TLS config); cheap when already there. */
  ready(): Promise<void>;
  /** Escalating recovery: resync with AT, then a power-key cycle; then `ready()`. */
  recover(): Promise<void>;
  /** Open a TCP connection; TLS (verified against the configured CA) when `tls`. */
  openSocket(host: string, port: number, tls: boolean): Promise<ModemSocket>;
  readonly native: NativeHttp;
  /** Counters: power cycles and bring-ups, for the log and the bench. */
  readonly counters: { powerCycles: number; starts: number; bearerLosses: number; resets: number };
  /**
   * The clock instant until which the driver waits with nothing to send and no answer to read (a
   * registration poll's pause, a busy SIM, the modem booting after the power key until its first
   * line), 0 outside such a wait: another job may use the MCU until then without slowing the
   * bring-up (the agent's link-up erase). Absent: never quiet.
   */
  readonly quietUntil?: number;
}

/**
 * Lines that mean "the modem just booted or went down" (simcom-at.md §3.1: `RDY` starts the boot
 * output at a fixed baud rate; TinyGSM treats `SMS Ready` as a reset). `SMS DONE`/`PB DONE` follow
 * `RDY` within the same SIM7600 boot, so they are not a second reset. With auto-baud a SIM7080
 * prints nothing at boot: an echo after ATE0 is the sign then (see `ready`).
 */
const BOOT_URCS = ['RDY', 'SMS Ready', 'NORMAL POWER DOWN'];

const QUIET_URCS = ['*PSUTTZ', '*PSNWID', '+CTZV', 'DST:', '+CEREG:', '+CREG:', '+CGREG:', '+CPIN:', '+CFUN:', 'SMS DONE', 'PB DONE', '+HTTP_PEER_CLOSED', '+SHSTATE:', '+CCHSEND:', '+CIPRXGET: 1', '+CPSMSTATUS', '+APP PDP:', '+CASTATE:', '+CADATAIND:', '+CCHEVENT:', '+CCH_PEER_CLOSED:', '+CCHCLOSE:', 'Autobaud', '+CGEV:', '+CIEV:', '+CMTI:', 'RING', '+CLIP:'];

/**
 * The handler of every quiet URC: one function for all of them (a closure each cost its slots of
 * RAM per modem; a module-level function is preloaded into flash on the device).
 */
function ignoreUrc(): void {}

/** Shared bring-up and recovery; the families fill in the commands that differ. */
export abstract class SimcomModem implements Modem {
  abstract readonly model: ModemModel;
  abstract readonly native: NativeHttp;
  readonly at: AtEngine;
  readonly counters = { powerCycles: 0, starts: 0, bearerLosses: 0, resets: 0, baudSwitches: 0 };
  /** Where one data command's payload waits until its response ended cleanly (LIMITS.atStageMax). */
  readonly stage = new Uint8Array(LIMITS.atStageMax);
  status: ModemStatus | undefined;

  protected readonly ports: ModemPorts;
  protected readonly config: Required<Omit<ModemConfig, 'apn'>> & { apn?: string };
  /** The board's line rate: what the driver switches the modem to. */
  readonly #boardBaud: number;
  /** The rate tried first: the board's, unless the modem refused to switch to it. */
  #lineBaud: number;
  /** Configured since the last boot: ATE0, CMEE, SIM, TLS material. */
  protected configured = false;
  /** The data bearer is up. */
  protected online = false;
  #starting: Promise<void> | undefined;
  /** See Modem.quietUntil. */
  #quietUntil = 0;
  /**
   * The modem booting after the power key: `at.linesIn` when the wait began. Quiet until each
   * unanswered probe's timeout, and over at the modem's first line.
   */
  #quietLines: number | undefined;

  constructor(ports: ModemPorts, config: ModemConfig) {
    if (!(config.caCert instanceof Uint8Array) || config.caCert.length === 0) {
      throw new OtaError('config-invalid', 'caCert: a CA certificate is required (modem defaults trust any server)');
    }
    this.ports = ports;
    this.config = {
      apn: config.apn,
      caCert: config.caCert,
      caName: config.caName ?? 'ca.pem',
      registrationTimeoutMs: config.registrationTimeoutMs ?? 180_000,
      registrationPollMs: config.registrationPollMs ?? 500,
      powerPulseMs: config.powerPulseMs ?? this.defaultPulseMs(),
      bootWaitMs: config.bootWaitMs ?? 15_000,
      powerTries: config.powerTries ?? 5,
      simBusyMs: config.simBusyMs ?? 20_000,
      baudFallbacks: validBaudFallbacks(config.baudFallbacks ?? DEFAULT_BAUD_FALLBACKS),
    };
    this.#boardBaud = ports.serial.baud;
    this.#lineBaud = this.#boardBaud;
    this.at = new AtEngine({ serial: ports.serial, clock: ports.clock, log: ports.log });
    // URCs that carry nothing the drivers act on (simcom-at.md pitfall 2: TinyGSM strips *PSNWID,
    // *PSUTTZ, +CTZV, DST:): claimed, so they never count as noise inside a data response.
    for (const urc of QUIET_URCS) this.at.onUrc(urc, ignoreUrc);
    for (const urc of BOOT_URCS) {
      this.at.onUrc(urc, (line) => {
        if (line !== urc) return;
        if (this.configured) {
          this.counters.resets++;
          this.log('warn', 'modem.reset-detected', { line });
        }
        // Echo is back on and every setting that is NO_SAVE is gone (M7080 §2.2.3).
        this.configured = false;
        this.setOffline();
      });
    }
  }

  /** The clock port (sockets wait on it). */
  get clock(): ClockPort {
    return this.ports.clock;
  }

  /** Name of the CA file on the modem. */
  get caName(): string {
    return this.config.caName;
  }

  protected log(level: 'debug' | 'info' | 'warn' | 'error', event: string, fields?: Record<string, string | number | boolean>): void {
    this.ports.log?.log(level, event, fields);
  }

  /** A warning from a part of the driver (its built-in HTTP client), in the modem's log. */
  warn(event: string, fields?: Record<string, string | number | boolean>): void {
    this.log('warn', event, fields);
  }

  protected sleep(ms: number): Promise<void> {
    return this.at.sleep(ms);
  }

  get quietUntil(): number {
    if (this.#quietLines !== undefined) return this.at.linesIn === this.#quietLines ? this.at.timesOutAt : 0;
    return this.#quietUntil;
  }

  /** A sleep in which the driver needs nothing of the MCU (Modem.quietUntil says until when). */
  protected async pause(ms: number): Promise<void> {
    this.#quietUntil = this.ports.clock.now() + ms;
    try {
      await this.sleep(ms);
    } finally {
      this.#quietUntil = 0;
    }
  }

  /** The bearer went down: sockets and HTTP sessions are gone. */
  protected setOffline(): void {
    if (this.online) this.counters.bearerLosses++;
    this.online = false;
  }

  ready(): Promise<void> {
    if (this.configured && this.at.echo) {
      // Echo came back after ATE0: the modem rebooted silently (ATE is NO_SAVE, M7080 §2.2.3).
      this.counters.resets++;
      this.log('warn', 'modem.reset-detected', { line: 'echo' });
      this.configured = false;
      this.setOffline();
    }
    if (this.configured && this.online) return Promise.resolve();
    // A job of its own (src/util/stack.ts): the bring-up's AT chain does not stack on the
    // request that needed the modem (backend, redirects, HTTP client).
    this.#starting ??= startAsJob(() => this.#bringUp()).finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async recover(): Promise<void> {
    this.log('warn', 'modem.recover', {});
    // A modem that answers AT twice in a row is in sync; one that does not gets the power key.
    if (this.#statusOff() || !(await this.syncLine())) await this.powerCycle();
    await this.ready();
  }

  async #bringUp(): Promise<void> {
    if (!this.configured) {
      this.counters.starts++;
      if (this.#statusOff() || !(await this.syncLine())) await this.powerCycle();
      await this.configure();
      this.at.echo = false;
      this.configured = true;
    }
    if (!this.online) {
      await this.waitRegistered();
      await this.bearerUp();
      this.online = true;
    }
  }

  /**
   * perf (issue 15): a STATUS pin that reads 0 says the modem is off, so no AT probe can succeed:
   * the probe at the line rate and every fallback rate (about 7 s) is skipped and the power key
   * pressed at once. A pin that reads 1 (or no pin) changes nothing: the modem may be on and
   * answering, on at another rate, or hung, which only AT tells apart.
   */
  #statusOff(): boolean {
    const status = this.ports.status;
    if (status === undefined || status.read() !== 0) return false;
    this.log('info', 'modem.status-off', {});
    return true;
  }

  /**
   * Press the power key until the modem answers `AT` (simcom-at.md §3.1: Zephyr tries the key up to
   * 5 times with AT probes after each). A pulse toggles power, so a hung modem needs one pulse to
   * go off and one to come back.
   */
  protected async powerCycle(): Promise<void> {
    const { powerPulseMs, bootWaitMs, powerTries } = this.config;
    for (let attempt = 0; attempt < powerTries; attempt++) {
      this.counters.powerCycles++;
      this.log('warn', 'modem.power-key', { attempt });
      this.ports.powerKey.write(1);
      await this.sleep(powerPulseMs);
      this.ports.powerKey.write(0);
      this.at.invalidate();
      this.configured = false;
      this.setOffline();
      // While it boots, probe at the line rate only: an auto-baud modem (SIM7080) locks onto the
      // rate of the first AT it hears, so probing other rates now would pull it off the board's.
      const deadline = this.ports.clock.now() + bootWaitMs;
      // The modem boots for seconds and the probes until then go unanswered: quiet inside each
      // probe's wait for its timeout (a unit that ends before it delays nothing), until the
      // modem's first line. The one answer that arrives while another job holds the MCU waits
      // for it once; the exchanges after it never do.
      this.#quietLines = this.at.linesIn;
      try {
        while (this.ports.clock.now() < deadline) {
          if (await this.syncLine(3, 500, false)) return;
        }
      } finally {
        this.#quietLines = undefined;
      }
      // Booted and silent at the line rate: it may sit at its factory rate or a saved one.
      if (await this.syncLine(1, 500)) return;
    }
    throw new OtaError('modem-unresponsive', `no answer after ${powerTries} power-key attempts`);
  }

  /**
   * `AT` at the line rate; failing that, at each fallback rate, and once the modem answers on one,
   * switch it to the board's rate. A modem at another rate looks dead (simcom-at.md §3.5: "a wrong
   * saved baud makes the modem look dead"): a SIM7600 returns to its factory 115200 at every boot
   * (`AT+IPR` is temporary), a SIM7080 may hold a fixed rate saved by earlier firmware.
   */
  protected async syncLine(tries?: number, perTryMs?: number, hunt = true): Promise<boolean> {
    const serial = this.ports.serial;
    if (serial.baud !== this.#lineBaud) serial.setBaud(this.#lineBaud);
    if (await this.at.sync(tries, perTryMs)) return true;
    if (!hunt) return false;
    for (const rate of this.config.baudFallbacks) {
      if (rate === this.#lineBaud) continue;
      serial.setBaud(rate);
      // Three probes: the first may meet the garbled partial line our earlier probes left in the
      // modem's command buffer (ERROR), and two good answers in a row are needed.
      if (await this.at.sync(3, 300)) return this.#switchBaud(rate);
    }
    serial.setBaud(this.#lineBaud);
    return false;
  }

  /** The modem answers at `found`: move it to the board's rate, or stay at `found` if it refuses. */
  async #switchBaud(found: number): Promise<boolean> {
    const target = this.#boardBaud;
    if (found === target) {
      this.#lineBaud = target;
      return true;
    }
    this.log('warn', 'modem.baud-found', { found, target });
    if (this.configured) {
      // Found off the board's rate after it was set up: it rebooted (a SIM7600 forgets AT+IPR),
      // and every NO_SAVE setting went with the rate.
      this.counters.resets++;
      this.configured = false;
      this.setOffline();
    }
    try {
      // The OK comes at the old rate; the new rate applies after it (V.25ter; simcom-at.md §3.5).
      await this.at.command(this.baudCommand(target), { timeoutMs: 2_000 });
    } catch (error) {
      // The modem does not take the board's rate: work at the one it answers on (slower, alive).
      this.log('error', 'modem.baud-refused', { found, target, reason: isOtaError(error) ? error.reason : 'unknown' });
      this.#lineBaud = found;
      return true;
    }
    this.ports.serial.setBaud(target);
    await this.sleep(BAUD_SETTLE_MS);
    if (await this.at.sync(3, 500)) {
      this.counters.baudSwitches++;
      this.#lineBaud = target;
      this.log('info', 'modem.baud-switched', { from: found, to: target });
      return true;
    }
    // Silent at the new rate: back to the one that answered.
    this.ports.serial.setBaud(found);
    this.#lineBaud = found;
    this.log('error', 'modem.baud-switch-failed', { found, target });
    return this.at.sync(3, 300);
  }

  /**
   * The command that puts the modem on the board's rate for this boot. SIM7080: back to auto-baud
   * (`AT+IPR=0`, its factory setting, AUTO_SAVE), which locks onto the next `AT` at any rate and
   * never leaves a fixed rate saved; SIM7600: `AT+IPR=<rate>`, temporary (§3.5 table).
   */
  protected baudCommand(target: number): string {
    return this.model === 'sim7080' ? 'AT+IPR=0' : `AT+IPR=${target}`;
  }

  /** Per boot: echo off, error codes on, SIM ready, TLS material; then the family's own settings. */
  protected async configure(): Promise<void> {
    await this.at.command('ATE0');
    await this.at.command(this.cmeeCommand());
    await this.waitSim();
    const rev = await this.at.command('AT+CGMR', { prefixes: ['+CGMR:', 'Revision:'] }).catch(() => ({ lines: [] as string[] }));
    this.status = { rssiDbm: undefined, revision: rev.lines[0] ?? '' };
    await this.configureFamily();
  }

  /** A PWRKEY pulse long enough to switch the module on *and* off (simcom-at.md §3.1 table). */
  protected abstract defaultPulseMs(): number;
  protected abstract cmeeCommand(): string;
  protected abstract configureFamily(): Promise<void>;
  protected abstract registrationQueries(): string[];
  protected abstract bearerUp(): Promise<void>;

  /** `AT+CPIN?` until READY; `SIM busy` (CME 14) is retried for `simBusyMs` (simcom-at.md §3.1). */
  protected async waitSim(): Promise<void> {
    const deadline = this.ports.clock.now() + this.config.simBusyMs;
    for (;;) {
      try {
        const { lines } = await this.at.command('AT+CPIN?', { prefixes: ['+CPIN:'], timeoutMs: 5_000 });
        const state = lines[0]?.slice(7).trim();
        if (state === 'READY') return;
        throw new OtaError('sim-not-ready', state ?? 'no +CPIN line');
      } catch (error) {
        const busy = isOtaError(error, 'cme-error') && (error.detail === '14' || /busy/i.test(error.detail ?? ''));
        if (!busy) throw isOtaError(error, 'cme-error') ? new OtaError('sim-not-ready', error.detail, error) : error;
        if (this.ports.clock.now() >= deadline) throw new OtaError('sim-not-ready', `SIM busy for ${this.config.simBusyMs} ms`);
        await this.pause(1_000);
      }
    }
  }

  /**
   * Poll the registration state until home (1) or roaming (5), with a deadline; denied (3) fails at
   * once (simcom-at.md §3.2: stat values; Zephyr treats any 1/5 as registered).
   */
  protected async waitRegistered(): Promise<void> {
    const deadline = this.ports.clock.now() + this.config.registrationTimeoutMs;
    for (;;) {
      let denied = false;
      for (const query of this.registrationQueries()) {
        const prefix = query.slice(2, -1) + ':'; // AT+CEREG? -> +CEREG:
        const { lines } = await this.at.command(query, { prefixes: [prefix] });
        const stat = registrationStat(lines[0]);
        if (stat === 1 || stat === 5) {
          await this.readSignal();
          return;
        }
        if (stat === 3) denied = true;
      }
      if (denied) throw new OtaError('not-registered', 'registration denied (stat 3)');
      if (this.ports.clock.now() >= deadline) throw new OtaError('not-registered', `not registered after ${this.config.registrationTimeoutMs} ms`);
      await this.pause(this.config.registrationPollMs);
    }
  }

  protected async readSignal(): Promise<void> {
    const { lines } = await this.at.command('AT+CSQ', { prefixes: ['+CSQ:'] });
    const rssi = Number(lines[0]?.slice(6).split(',')[0]);
    // simcom-at.md §3.2: 0 is <= -115 dBm, 2..30 is -110..-54 in 2 dB steps, 31 >= -52, 99 unknown.
    const dbm = !Number.isInteger(rssi) || rssi === 99 ? undefined : rssi === 0 ? -115 : -113 + 2 * rssi /* 3GPP TS 27.007 §8.5; the transcript's 17 -> -79 dBm */;
    if (this.status) this.status.rssiDbm = dbm;
    this.log('info', 'modem.registered', { rssiDbm: dbm ?? 'unknown' });
  }

  abstract openSocket(host: string, port: number, tls: boolean): Promise<ModemSocket>;
}

function validBaudFallbacks(rates: readonly number[]): number[] {
  if (!Array.isArray(rates) || rates.length > LIMITS.baudFallbacksMax) {
    throw new OtaError('config-invalid', `baudFallbacks: at most ${LIMITS.baudFallbacksMax} rates`);
  }
  for (const rate of rates) {
    if (!Number.isInteger(rate) || rate < 1_200 || rate > 4_000_000) throw new OtaError('config-invalid', `baudFallbacks: ${rate} is not a UART rate`);
  }
  return rates.slice();
}

/** `<stat>` of a `+CxREG: <n>,<stat>[,...]` read response (or of a `+CxREG: <stat>` URC). */
export function registrationStat(line: string | undefined): number | undefined {
  if (!line) return undefined;
  const colon = line.indexOf(':');
  const fields = line.slice(colon + 1).trim().split(',');
  const stat = Number(fields.length >= 2 ? fields[1] : fields[0]);
  return Number.isInteger(stat) ? stat : undefined;
}

/** A quoted AT string argument: SIMCom strings cannot carry `"` (no escape is documented). */
export function quote(text: string, what: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 || c < 0x20 || c > 0x7e) throw new OtaError('invalid-argument', `${what} has a character an AT string cannot carry`);
  }
  return `"${text}"`;
}

/**
 * Run one data command with its payload staged in `stage`, then hand the payload to `sink` only if
 * the response ended cleanly. Resolves with the announced and received counts.
 */
export async function stagedRead(
  at: AtEngine,
  stage: Uint8Array,
  command: string,
  options: Omit<AtCommandOptions, 'data'>,
  sink: ByteSink,
): Promise<{ announced: number; received: number; lines: string[] }> {
  let announced = 0;
  let n = 0;
  const response = await at.command(command, {
    ...options,
    data: {
      onHeader: (_line, length) => {
        announced += length;
      },
      onData: (chunk) => {
        if (n + chunk.length > stage.length) throw new OtaError('limit-exceeded', `payload of ${command} larger than ${stage.length} bytes`);
        stage.set(chunk, n);
        n += chunk.length;
      },
    },
  });
  if (response.received !== announced) throw new OtaError('body-truncated', `${command}: announced ${announced}, got ${response.received}`);
  if (n > 0) await sink(stage.subarray(0, n));
  return { announced, received: n, lines: response.lines };
}
