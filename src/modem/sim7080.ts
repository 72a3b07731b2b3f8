/**
 * SIM7080G (and SIM7070/SIM7090, SIM7000 with the SH and CA command sets): bearer `AT+CNACT`,
 * built-in HTTP(S) `AT+SH*`, TLS sockets `AT+CA*`, TLS config `AT+CSSLCFG` (simcom-at.md §1, §3.3,
 * §4.1, §5.1; SIMCom SIM7070/SIM7080/SIM7090 AT Command Manual V1.05 = M7080).
 */
import { asciiEncode } from '../util/bytes.js';
import { OtaError, isOtaError } from '../util/errors.js';
import { LIMITS } from './limits.js';
import type { ByteSink, CarriedRequest, ModemConfig, ModemPorts, ModemSocket, NativeHttp, NativeHttpRequest, UartFlowControl } from './modem.js';
import { SimcomModem, quote, stagedRead } from './modem.js';
import { IndicatedSocket } from './socket.js';
import { refusesUrlLength } from './url-refusal.js';

/** SSL context used for both SH* and CA* (M7080 CSSLCFG ctx 0-5). */
const SSL_CTX = 1;
/** Socket cid (0-12); one download at a time. */
const CID = 0;
/** `AT+CASEND` maximum (M7080 12.2: 1-1460). */
const CASEND_MAX = 1460;
/** `AT+CARECV` maximum (M7080 12.2: 1-1460). Field reports of truncated TLS reads above 512
 * (I-7080-148) are caught by the count check; the simulator decides whether they happen. */
const CARECV_MAX = 1460;
/**
 * Largest `+CAURC: "recv"` block accepted in push mode: the stage, so every block is held whole
 * and proven before it is handed on (the manual gives no block size; the simulator pushes <= 1460).
 * A longer announcement is hostile or broken: its payload is skipped by count and the read fails.
 */
const CAURC_RECV_MAX = LIMITS.atStageMax;
/** CAOPEN results that mean "this firmware does not take <recv_mode>": 4 parameter invalid, 7 not supported (M7080 12.2.5). */
const RECV_MODE_REFUSED = [4, 7];

/** CAOPEN result codes (M7080 12.2.5) mapped to reasons. On a TLS open, 27 "connect failed"
 * is also how a refused certificate chain ends (no code of its own in simcom-at.md §5.1). */
function caopenError(code: number, tls: boolean): OtaError {
  const reason = code === 20 ? 'dns-failed' : code === 21 ? 'link-lost' : (code >= 24 && code <= 26) || (code === 27 && tls) ? 'tls-failed' : 'link-lost';
  return new OtaError(reason, `+CAOPEN result ${code}`);
}

export interface Sim7080Options {
  /**
   * The modem's SH* HTTP client as `native` (`sim7080ShHttp`). The agent never uses it on a
   * SIM7080 (the socket is faster: src/net/modem-http.ts `sim7080HttpClient`), so the driver
   * builds it only when given: a firmware then carries none of its code. Default: `native`
   * refuses every request (invalid-argument).
   */
  shHttp?: (modem: Sim7080) => NativeHttp & { lost(): void };
  /**
   * How the board wires the UART: 'rts-cts' sends `AT+IFC=2,2` after every boot (NO_SAVE on
   * SIM7080, simcom-at.md §3.6) and turns push mode on by default. Default 'none'.
   */
  flowControl?: UartFlowControl;
  /**
   * Socket data pushed by the modem (`AT+CAOPEN=<cid>,0,"TCP",<host>,<port>,1`, recv_mode 1:
   * `+CAURC: "recv",<cid>,<n>` + n bytes, simcom-at.md §5.1) instead of read with `AT+CARECV`
   * (<= 1460 bytes and one command round trip each). The host can pause the modem only by
   * RTS/CTS, so it defaults to on exactly when `flowControl` is 'rts-cts'. Firmware that refuses
   * recv_mode (TinyGSM: "including the <recv_mode> fails") falls back to AT+CARECV reads, logged.
   */
  push?: boolean;
}

export class Sim7080 extends SimcomModem {
  readonly model = 'sim7080' as const;
  readonly native: NativeHttp;
  #socket: Sim7080Socket | undefined;
  /** The socket whose pushed block is being read: its header was taken while it was current, so
   * the payload goes to it even if another socket has been opened since (then it is skipped). */
  #pushTarget: Sim7080Socket | undefined;
  readonly flowControl: UartFlowControl;
  /** Push mode asked for (see `Sim7080Options.push`). */
  readonly pushWanted: boolean;
  /** This modem refused recv_mode 1: manual reads from then on (firmware does not change). */
  #recvModeRefused = false;

  constructor(ports: ModemPorts, config: ModemConfig, options: Sim7080Options = {}) {
    super(ports, config);
    this.native = options.shHttp?.(this) ?? NO_SH_HTTP;
    this.flowControl = options.flowControl ?? 'none';
    this.pushWanted = options.push ?? this.flowControl === 'rts-cts';
    this.at.onDataUrc(`+CAURC: "recv",${CID},`, {
      onHeader: (line, n) => {
        const socket = this.#socket;
        if (!socket || socket.closed || !socket.pushed) return false;
        if (n > CAURC_RECV_MAX) {
          // Skipped by count (the stream stays framed); the bytes are lost to this socket.
          this.log('warn', 'modem.push-block-too-large', { length: n });
          socket.pushLost();
          return false;
        }
        socket.pushHeader(n);
        this.#pushTarget = socket;
        return true;
      },
      onData: (chunk) => this.#pushTarget?.pushData(chunk),
    });
    this.at.onUrc('+CAURC: ', (line) => {
      // A `"recv"` header the engine did not take as one failed validation (binaryHeaderLength):
      // its payload follows as if it were lines, so the pushed stream is broken.
      if (line.startsWith('+CAURC: "recv",')) {
        this.log('warn', 'modem.push-header-invalid', { line: line.slice(0, 64) });
        this.#socket?.pushLost();
      } else if (line.startsWith('+CAURC: "buffer full"')) this.log('warn', 'modem.buffer-full', {});
    });
    this.at.onNoise = () => this.#socket?.pushNoise();
    this.at.onLoss = () => this.#socket?.pushLost();
    // Bearer loss (M7080: +APP PDP: <pdp>,DEACTIVE; stacx treats it unsolicited as "IP link lost").
    this.at.onUrc('+APP PDP: 0,DEACTIVE', () => {
      this.setOffline();
    });
    this.at.onUrc('+CASTATE: ', (line) => {
      const [cid, state] = line.slice(10).split(',');
      if (Number(cid) === CID && state === '0') this.#socket?.markClosed();
    });
    this.at.onUrc('+CADATAIND: ', (line) => {
      if (Number(line.slice(12)) === CID) this.#socket?.indicate();
    });
  }

  protected override setOffline(): void {
    super.setOffline();
    this.#socket?.markClosed(true);
    (this.native as Partial<Sim7080Http>).lost?.();
  }

  /** On: >= 1 s (LilyGO 1000 ms, Zephyr 1500 ms); off: 1300 ms (LilyGO). */
  protected defaultPulseMs(): number {
    return 1_500;
  }

  protected cmeeCommand(): string {
    return 'AT+CMEE=1';
  }

  protected registrationQueries(): string[] {
    // LTE-M/NB-IoT only: CEREG is the authoritative one (simcom-at.md §3.2).
    return ['AT+CEREG?'];
  }

  /** Whether sockets are opened in push mode now (asked for, and not refused by this modem). */
  get push(): boolean {
    return this.pushWanted && !this.#recvModeRefused;
  }

  /** Upload the CA (CFSWFILE, ≤ 10240 bytes), convert it to a CA list, TLS 1.2 (H7080 §5.2). */
  protected async configureFamily(): Promise<void> {
    // NO_SAVE: gone after every boot (M7080; simcom-at.md §3.6). Only where the board wires the
    // lines: a modem honouring an unwired RTS could hold its output for good.
    if (this.flowControl === 'rts-cts') await this.at.command('AT+IFC=2,2');
    const ca = this.config.caCert;
    if (ca.length > 10_240) throw new OtaError('config-invalid', `caCert: ${ca.length} bytes, AT+CFSWFILE takes at most 10240`);
    const name = quote(this.config.caName, 'caName');
    await this.at.command('AT+CFSINIT').catch(async (error: unknown) => {
      // A file-system session left open by an earlier run: close it and start again.
      if (!isOtaError(error, 'at-error', 'cme-error')) throw error;
      await this.at.command('AT+CFSTERM');
      await this.at.command('AT+CFSINIT');
    });
    try {
      await this.at.command(`AT+CFSWFILE=3,${name},0,${ca.length},10000`, { payload: ca, promptLine: 'DOWNLOAD', timeoutMs: 15_000 });
    } finally {
      await this.at.command('AT+CFSTERM');
    }
    await this.at.command(`AT+CSSLCFG="convert",2,${name}`);
    // TinyGSM: the key names must be lower case despite the manual's capitals.
    await this.at.command(`AT+CSSLCFG="sslversion",${SSL_CTX},3`);
  }

  protected async bearerUp(): Promise<void> {
    const state = await this.at.command('AT+CNACT?', { prefixes: ['+CNACT:'] });
    if (state.lines.some((line) => line.startsWith('+CNACT: 0,1'))) return;
    let apn = this.config.apn;
    if (apn === undefined) {
      const { lines } = await this.at.command('AT+CGNAPN', { prefixes: ['+CGNAPN:'] });
      apn = /^\+CGNAPN: 1,"([^"]*)"/.exec(lines[0] ?? '')?.[1] ?? '';
    }
    await this.at.command(`AT+CNCFG=0,1,${quote(apn, 'apn')}`);
    // OK first, then +APP PDP: 0,ACTIVE (M7080 CNACT; TinyGSM waits 60 s, Zephyr 120 s).
    const { lines } = await this.at.command('AT+CNACT=0,1', { until: '+APP PDP: 0,', timeoutMs: 60_000 });
    if (!lines[lines.length - 1].endsWith('ACTIVE') || lines[lines.length - 1].endsWith('DEACTIVE')) {
      throw new OtaError('pdp-failed', lines[lines.length - 1]);
    }
  }

  async sni(host: string): Promise<void> {
    await this.at.command(`AT+CSSLCFG="sni",${SSL_CTX},${quote(host, 'host')}`);
  }

  async openSocket(host: string, port: number, tls: boolean): Promise<ModemSocket> {
    await this.ready();
    if (this.#socket && !this.#socket.closed) await this.#socket.close();
    // A socket left over from an earlier session answers ERROR here: harmless (TinyGSM does the same).
    await this.at.command(`AT+CACLOSE=${CID}`).catch(() => undefined);
    if (tls) await this.sni(host);
    await this.at.command(`AT+CASSLCFG=${CID},"SSL",${tls ? 1 : 0}`);
    if (tls) {
      await this.at.command(`AT+CASSLCFG=${CID},"CRINDEX",${SSL_CTX}`);
      await this.at.command(`AT+CASSLCFG=${CID},"CACERT",${quote(this.config.caName, 'caName')}`);
    }
    if (this.push) {
      const pushed = await this.#open(host, port, tls, true);
      if (pushed !== 'refused') return pushed;
    }
    const socket = await this.#open(host, port, tls, false);
    if (socket === 'refused') throw new OtaError('link-lost', 'AT+CAOPEN refused');
    if (this.push) {
      // recv_mode refused, the same open without it worked: firmware-dependent (simcom-at.md
      // §5.1), so AT+CARECV reads from now on. (Had both failed, the cause was something else.)
      this.#recvModeRefused = true;
      this.log('warn', 'modem.recv-mode-refused', { fallback: 'AT+CARECV' });
    }
    return socket;
  }

  /** `AT+CAOPEN`, with recv_mode 1 when `push`; 'refused' when the modem rejects recv_mode. */
  async #open(host: string, port: number, tls: boolean, push: boolean): Promise<Sim7080Socket | 'refused'> {
    const socket = new Sim7080Socket(this, push);
    this.#socket = socket;
    // `+CAOPEN: <cid>,<result>` and OK arrive in either order (M7080 async open; TinyGSM's log).
    let lines: string[];
    try {
      ({ lines } = await this.at.command(`AT+CAOPEN=${CID},0,"TCP",${quote(host, 'host')},${port}${push ? ',1' : ''}`, { until: '+CAOPEN: ', timeoutMs: 90_000 }));
    } catch (error) {
      socket.markClosed();
      if (push && isOtaError(error, 'at-error', 'cme-error')) return 'refused';
      throw error;
    }
    const result = Number(lines[lines.length - 1].split(',')[1]);
    if (result !== 0) {
      socket.markClosed();
      if (push && RECV_MODE_REFUSED.includes(result)) return 'refused';
      throw caopenError(result, tls);
    }
    return socket;
  }
}

class Sim7080Socket extends IndicatedSocket {
  protected readonly sendMax = CASEND_MAX;
  readonly #modem: Sim7080;
  /** Opened with recv_mode 1: data arrives as `+CAURC: "recv"` pushes. */
  readonly pushed: boolean;

  constructor(modem: Sim7080, push: boolean) {
    super(modem.clock, push ? { stage: modem.stage, atLineStart: () => modem.at.atLineStart } : undefined);
    this.#modem = modem;
    this.pushed = push;
  }

  protected async sendBlock(piece: Uint8Array): Promise<void> {
    await this.#modem.at.command(`AT+CASEND=${CID},${piece.length}`, { payload: piece, timeoutMs: 15_000 });
  }

  /** `AT+CARECV=<cid>,<len>` -> `+CARECV: <n>,<n bytes>` then OK (T7080 example; Zephyr). */
  protected async readBlock(sink: ByteSink): Promise<number | 'closed'> {
    try {
      // A short block (I-TG437) is caught by the count check, noise by the engine (at-garbled):
      // either way the staged bytes never reach the HTTP parser.
      const { received } = await stagedRead(this.#modem.at, this.#modem.stage, `AT+CARECV=${CID},${CARECV_MAX}`, { timeoutMs: 10_000 }, sink);
      return received;
    } catch (error) {
      // ERROR with the socket open: nothing buffered; with the socket closed: the stream ended.
      if (isOtaError(error, 'at-error', 'cme-error')) return this.closed ? 'closed' : 0;
      throw error;
    }
  }

  protected async closeCommand(): Promise<void> {
    await this.#modem.at.command(`AT+CACLOSE=${CID}`);
  }
}

/** `AT+SHREQ` path, bytes (M7080 13.2: path ≤ 512, simcom-at.md §4.1). */
const SHREQ_PATH_MAX = 512;

/** `native` of a SIM7080 built without its SH* client (Sim7080Options.shHttp). */
const NO_SH_HTTP: NativeHttp = {
  windowMax: 0,
  request: () => Promise.reject(new OtaError('invalid-argument', 'SIM7080: no SH* HTTP client (Sim7080Options.shHttp)')),
  read: () => Promise.reject(new OtaError('invalid-argument', 'SIM7080: no SH* HTTP client (Sim7080Options.shHttp)')),
  close: () => Promise.resolve(),
};

/**
 * The SH* client for Sim7080Options.shHttp. `window`: Range window per SH* request, bytes
 * (`+SHREQ` buffers the whole body; stacx saw 602 above ~40 kB, so the default stays well below:
 * simcom-at.md §4.1, pitfall 3). `readMax`: bytes per `AT+SHREAD` command (several 2048-byte
 * `+SHREAD:` blocks each, M7080 13.2.11).
 */
export function sim7080ShHttp(options: { window?: number; readMax?: number } = {}): (modem: Sim7080) => Sim7080Http {
  return (modem) => new Sim7080Http(modem, options.window ?? 32_768, options.readMax ?? 32_768);
}

/** SH*: one connection per origin, one Range window per `+SHREQ`, read back with `AT+SHREAD`. */
class Sim7080Http implements NativeHttp {
  readonly #modem: Sim7080;
  windowMax: number;
  readonly #readMax: number;
  #origin: string | undefined;
  #connected = false;

  constructor(modem: Sim7080, window: number, readMax: number) {
    this.#modem = modem;
    this.windowMax = window;
    this.#readMax = readMax;
  }

  lost(): void {
    this.#connected = false;
  }

  /**
   * Longest `AT+SHREQ` path this modem takes: SHREQ_PATH_MAX, or below it once the firmware
   * refused a shorter one with ERROR (kept for the session, as on SIM7600).
   */
  #pathMax = SHREQ_PATH_MAX;

  /** SHCONF takes the origin (≤ 64 bytes, M7080 13.2.1), SHREQ the path (≤ 512). */
  carries(request: CarriedRequest): boolean {
    const port = request.port === (request.scheme === 'https' ? 443 : 80) ? '' : `:${request.port}`;
    return request.path.length <= this.#pathMax && `${request.scheme}://${request.host}${port}`.length <= 64;
  }

  async #connect(request: NativeHttpRequest): Promise<void> {
    const at = this.#modem.at;
    const origin = `${request.scheme}://${request.host}${request.port === (request.scheme === 'https' ? 443 : 80) ? '' : `:${request.port}`}`;
    if (this.#connected && this.#origin === origin) {
      const { lines } = await at.command('AT+SHSTATE?', { prefixes: ['+SHSTATE:'] });
      if (lines[0] === '+SHSTATE: 1') return;
    }
    if (this.#connected || this.#origin !== undefined) await at.command('AT+SHDISC').catch(() => undefined);
    this.#connected = false;
    if (origin.length > 64) throw new OtaError('invalid-argument', `SHCONF URL '${origin}' longer than 64 bytes (M7080 13.2.1)`);
    if (request.scheme === 'https') {
      await this.#modem.sni(request.host);
      // Never `AT+SHSSL=<ctx>,""`: that skips verification (H7080 §5.2).
      await at.command(`AT+SHSSL=${SSL_CTX},${quote(this.#modem.caName, 'caName')}`);
    }
    await at.command(`AT+SHCONF="URL",${quote(origin, 'url')}`);
    await at.command('AT+SHCONF="BODYLEN",1024');
    await at.command('AT+SHCONF="HEADERLEN",350');
    await at.command('AT+SHCONN', { timeoutMs: 60_000 }).catch((error: unknown) => {
      // SHCONN ERROR is the only signal for DNS, TCP and TLS failures alike (I-BOT200).
      throw isOtaError(error, 'at-error', 'cme-error') ? new OtaError('tls-failed', `AT+SHCONN to ${origin} failed`, error) : error;
    });
    this.#origin = origin;
    this.#connected = true;
  }

  async request(request: NativeHttpRequest): Promise<{ status: number; length: number }> {
    await this.#modem.ready();
    await this.#connect(request);
    const at = this.#modem.at;
    await at.command('AT+SHCHEAD');
    for (const [name, value] of request.headers) {
      if (name.length + value.length > 350) throw new OtaError('invalid-argument', `header ${name} too long for AT+SHAHEAD (350)`);
      await at.command(`AT+SHAHEAD=${quote(name, 'header name')},${quote(value, 'header value')}`);
    }
    if (request.body && request.body.length > 0) {
      if (request.body.length > 1024) throw new OtaError('body-too-large', `SH* request body ${request.body.length} > BODYLEN 1024`);
      await at.command(`AT+SHBOD=${request.body.length},10000`, { payload: request.body });
    }
    const type = { GET: 1, PUT: 2, POST: 3, HEAD: 5 }[request.method];
    if (!this.carries(request)) throw new OtaError('invalid-argument', `SHREQ path longer than ${this.#pathMax} bytes`);
    // OK at once, then `+SHREQ: "<method>",<status>,<length>` once the whole body is in modem RAM.
    let lines: string[];
    try {
      ({ lines } = await at.command(`AT+SHREQ=${quote(request.path, 'path')},${type}`, { until: '+SHREQ: ', timeoutMs: request.timeoutMs }));
    } catch (error) {
      // ERROR instead of OK to a long path: the firmware's limit is below the manual's 512. The
      // request did not leave the modem; NativeHttpClient sends it over the socket (see SIM7600).
      // Only an answer that names the length (./url-refusal.ts, with the references for it).
      if (!refusesUrlLength(error, request.path.length)) throw error;
      this.#pathMax = request.path.length - 1;
      this.#modem.warn('modem.http-url-refused', { length: request.path.length, fallback: 'AT+CAOPEN' });
      throw new OtaError('url-refused', `AT+SHREQ refused a path of ${request.path.length} bytes`, error);
    }
    const m = /^\+SHREQ: "[A-Z]+",(\d+),(\d+)$/.exec(lines[lines.length - 1]);
    if (!m) throw new OtaError('http-malformed', lines[lines.length - 1]);
    const status = Number(m[1]);
    const length = Number(m[2]);
    if (status >= 600) {
      // Modem-side errors (602 no memory, 601 network, 603 DNS; HTTPTOFS table, stacx).
      this.#connected = false;
      // 602: the window did not fit the modem's buffer (stacx: ~40 kB): halve it for the retry.
      if (status === 602) this.windowMax = Math.max(2048, this.windowMax >> 1);
      throw new OtaError(status === 603 ? 'dns-failed' : 'http-action-error', `+SHREQ status ${status}`);
    }
    return { status, length };
  }

  async read(offset: number, length: number, sink: ByteSink): Promise<void> {
    const at = this.#modem.at;
    const stage = this.#modem.stage;
    let done = 0;
    while (done < length) {
      const n = Math.min(this.#readMax, stage.length, length - done);
      // OK comes first, then one or more `+SHREAD: <k>` blocks of <= 2048 bytes (H7080).
      const { received } = await stagedRead(at, stage, `AT+SHREAD=${offset + done},${n}`, { done: (got) => got >= n, timeoutMs: 10_000 }, sink);
      if (received !== n) throw new OtaError('body-truncated', `AT+SHREAD asked ${n}, got ${received}`);
      done += n;
    }
  }

  async close(): Promise<void> {
    if (this.#connected) await this.#modem.at.command('AT+SHDISC').catch(() => undefined);
    this.#connected = false;
    this.#origin = undefined;
  }
}
