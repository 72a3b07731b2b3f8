/**
 * SIM7600 (and SIM7500/SIM7800; A76xx with quirks): built-in HTTP(S) `AT+HTTP*`, TLS sockets
 * `AT+CCH*`, TLS config `AT+CSSLCFG` with `authmode` and `cacert`, CA upload `AT+CCERTDOWN`
 * (simcom-at.md §1, §3.3, §4.2, §5.2; SIM7500_SIM7600 Series AT Command Manual V3.00 = M7600).
 */
import { OtaError, isOtaError } from '../util/errors.js';
import type { ByteSink, CarriedRequest, ModemConfig, ModemPorts, ModemSocket, NativeHttp, NativeHttpRequest, UartFlowControl } from './modem.js';
import { LIMITS } from './limits.js';
import { SimcomModem, quote, stagedRead } from './modem.js';
import { IndicatedSocket } from './socket.js';
import { refusesUrlLength } from './url-refusal.js';

/** SSL context for HTTP* and CCH* (M7600 CSSLCFG ctx 0-9). */
const SSL_CTX = 0;
/** CCH session id (0-1). */
const SID = 0;
/** `AT+CCHSEND` block; uplink sizes above ~1400 failed on CIPSEND (I-TG746), so stay below. */
const CCHSEND_MAX = 1024;
/** `AT+CCHRECV=<sid>,<max>`: 0 would mean "up to 2048" (M7600 10.2); ask for exactly that. */
const CCHRECV_MAX = 2048;
/** `AT+HTTPPARA="USERDATA"`: custom header text, at most 512 characters (M7600 13.2.3). Longer: invalid-argument. */
const USERDATA_MAX = 512;
/** `AT+HTTPPARA` "CONTENT" / "ACCEPT" / "UA" values, at most 256 characters (M7600 13.2.3). Longer: invalid-argument. */
const HTTP_VALUE_MAX = 256;
/**
 * Longest URL put into `AT+HTTPPARA="URL"`, characters. M7600 13.2.3 states no limit for the URL
 * and no command-line length (simcom-at.md §4.2, §11); the dev kit's modem keeps 1024-byte lines.
 * 1000 keeps the whole command (`AT+HTTPPARA="URL","…"`, 20 more) within 1024. A longer URL (a
 * pre-signed object-store link, 1.3 KiB typical) is fetched over `AT+CCHOPEN` instead
 * (NativeHttpClient), which carries the path in the request the agent writes.
 */
const HTTP_URL_MAX = 1000;
/** `AT+HTTPDATA` size, 1-153600 bytes (simcom-at.md §4.3). Agent reports stay under 1 KB (pitfall 11). Larger: invalid-argument. */
const HTTPDATA_MAX = 153_600;

export interface Sim7600Options {
  /** Range window for HTTP* requests, bytes (A76xx note: 64 KB stack unless read quickly). */
  httpWindow?: number;
  /** Bytes per `AT+HTTPREAD` (arrives as ~1024-byte `+HTTPREAD: DATA,` blocks, PWRMON). */
  httpReadMax?: number;
  /**
   * Socket data pushed by the modem as it arrives (`AT+CCHSET=1,0`, the M7600 default) instead of
   * read with `AT+CCHRECV` per 2048 bytes: no command round trip per block. The host cannot pause
   * the modem except by RTS/CTS (`AT+IFC=2,2`, simcom-at.md §3.6): use it where the board wires
   * the flow-control lines. A pushed block is handed on only once the stream proves it whole;
   * a block larger than the stage (LIMITS.atStageMax) cannot be, and is counted in
   * `unverifiedBytes`. Default: on exactly when `flowControl` is 'rts-cts'.
   */
  push?: boolean;
  /**
   * How the board wires the UART: 'rts-cts' sends `AT+IFC=2,2` after every boot (stored by the
   * module anyway, simcom-at.md §3.6; sent again so a replaced or reset module is covered) and
   * turns push mode on by default. Default 'none'.
   */
  flowControl?: UartFlowControl;
}

export class Sim7600 extends SimcomModem {
  readonly model = 'sim7600' as const;
  readonly native: NativeHttp;
  #socket: Sim7600Socket | undefined;
  /** The socket whose pushed block is being read: its header was taken while it was current, so
   * the payload goes to it even if another socket has been opened since (then it is skipped). */
  #pushTarget: Sim7600Socket | undefined;
  readonly push: boolean;
  readonly flowControl: UartFlowControl;

  constructor(ports: ModemPorts, config: ModemConfig, options: Sim7600Options = {}) {
    super(ports, config);
    // 60 KiB windows: below the 64 KB protocol-stack note (MA76 16.2.6) and the ~288 KB storage of
    // SIM767x (706), and few requests per MiB.
    this.native = new Sim7600Http(this, options.httpWindow ?? 61_440, options.httpReadMax ?? 32_768);
    this.flowControl = options.flowControl ?? 'none';
    this.push = options.push ?? this.flowControl === 'rts-cts';
    this.at.onDataUrc(`+CCHRECV: DATA,${SID},`, {
      onHeader: (_line, n) => {
        const socket = this.#socket;
        if (!socket || socket.closed) return false;
        socket.pushHeader(n);
        this.#pushTarget = socket;
        return true;
      },
      onData: (chunk) => this.#pushTarget?.pushData(chunk),
    });
    this.at.onNoise = () => this.#socket?.pushNoise();
    this.at.onLoss = () => this.#socket?.pushLost();
    // Network loss (M7600 13: +HTTP_NONET_EVENT; 11.2: +CIPEVENT: NETWORK CLOSED UNEXPECTEDLY).
    this.at.onUrc('+HTTP_NONET_EVENT', () => this.setOffline());
    this.at.onUrc('+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY', () => this.setOffline());
    this.at.onUrc('+CCH_PEER_CLOSED: ', (line) => {
      if (Number(line.slice(18)) === SID) this.#socket?.markClosed();
    });
    this.at.onUrc('+CCHCLOSE: ', (line) => {
      if (Number(line.slice(11).split(',')[0]) === SID) this.#socket?.markClosed();
    });
    this.at.onUrc('+CCHEVENT: ', (line) => {
      if (line === `+CCHEVENT: ${SID},RECV EVENT`) this.#socket?.indicate();
    });
  }

  protected override setOffline(): void {
    super.setOffline();
    this.#socket?.markClosed(true);
    (this.native as Sim7600Http)?.lost();
  }

  /** On: 500 ms typ. (LilyGO); off: 3000 ms (LilyGO), 4000 ms (Stima): one pulse must do both. */
  protected defaultPulseMs(): number {
    return 3_500;
  }

  protected cmeeCommand(): string {
    // Verbose: `+CME ERROR: SIM busy` as in the SIM7600G-H log (I-T7600-135).
    return 'AT+CMEE=2';
  }

  protected registrationQueries(): string[] {
    // Cat-1/Cat-4 with 2G/3G fallback: TinyGSM checks CGREG; CEREG covers LTE-only networks.
    return ['AT+CGREG?', 'AT+CEREG?'];
  }

  /** CA upload and a verifying TLS context (M7600 10.2.12-13): authmode 0, the default, verifies nothing. */
  protected async configureFamily(): Promise<void> {
    if (this.flowControl === 'rts-cts') await this.at.command('AT+IFC=2,2');
    const ca = this.config.caCert;
    if (ca.length > 10_240) throw new OtaError('config-invalid', `caCert: ${ca.length} bytes, AT+CCERTDOWN takes at most 10240`);
    const name = quote(this.config.caName, 'caName');
    await this.at.command(`AT+CCERTDOWN=${name},${ca.length}`, { payload: ca, timeoutMs: 15_000 });
    await this.at.command(`AT+CSSLCFG="sslversion",${SSL_CTX},3`);
    await this.at.command(`AT+CSSLCFG="authmode",${SSL_CTX},1`);
    await this.at.command(`AT+CSSLCFG="cacert",${SSL_CTX},${name}`);
    await this.at.command(`AT+CSSLCFG="enableSNI",${SSL_CTX},1`);
  }

  /** `AT+HTTPINIT` activates the PDP context itself (M7600 13.2.1); the APN goes into context 1. */
  protected async bearerUp(): Promise<void> {
    if (this.config.apn !== undefined) await this.at.command(`AT+CGDCONT=1,"IP",${quote(this.config.apn, 'apn')}`);
  }

  async openSocket(host: string, port: number, tls: boolean): Promise<ModemSocket> {
    await this.ready();
    if (this.#socket && !this.#socket.closed) await this.#socket.close();
    const at = this.at;
    // Report send results; then either cache received data and announce it with +CCHEVENT (pull),
    // or push it as +CCHRECV: DATA URCs (M7600 10.2).
    await at.command(`AT+CCHSET=1,${this.push ? 0 : 1}`);
    // Already started answers ERROR: harmless.
    await at.command('AT+CCHSTART', { until: '+CCHSTART: ', timeoutMs: 30_000 }).catch((error: unknown) => {
      if (!isOtaError(error, 'at-error', 'cme-error')) throw error;
    });
    await at.command(`AT+CCHSSLCFG=${SID},${SSL_CTX}`);
    const socket = new Sim7600Socket(this);
    this.#socket = socket;
    // client type 2 = SSL/TLS, 1 = plain TCP (M7600 CCHOPEN); OK, then +CCHOPEN: <sid>,<err>.
    const open = `AT+CCHOPEN=${SID},${quote(host, 'host')},${port},${tls ? 2 : 1}`;
    const opened = await at.command(open, { until: '+CCHOPEN: ', timeoutMs: 120_000 }).catch(async (error: unknown) => {
      if (!isOtaError(error, 'at-error')) throw error;
      // perf (issue 15): the session is still open from before an MCU reset (the modem kept
      // running through it; an update's reboot always leaves one): close it and open again,
      // instead of failing the request and waiting for its retry (6 s after the update's reboot).
      await at.command(`AT+CCHCLOSE=${SID}`, { until: '+CCHCLOSE: ', timeoutMs: 10_000 }).catch(() => undefined);
      return at.command(open, { until: '+CCHOPEN: ', timeoutMs: 120_000 });
    });
    const { lines } = opened;
    const err = Number(lines[lines.length - 1].split(',')[1]);
    if (err !== 0) {
      socket.markClosed();
      throw new OtaError(tls ? 'tls-failed' : 'link-lost', `+CCHOPEN error ${err}`);
    }
    return socket;
  }
}

class Sim7600Socket extends IndicatedSocket {
  protected readonly sendMax = CCHSEND_MAX;
  readonly #modem: Sim7600;

  constructor(modem: Sim7600) {
    super(modem.clock, modem.push ? { stage: modem.stage, atLineStart: () => modem.at.atLineStart } : undefined);
    this.#modem = modem;
  }

  protected async sendBlock(piece: Uint8Array): Promise<void> {
    await this.#modem.at.command(`AT+CCHSEND=${SID},${piece.length}`, { payload: piece, timeoutMs: 15_000 });
  }

  /** `AT+CCHRECV=<sid>,<max>` -> OK, `+CCHRECV: DATA,<sid>,<n>` + n bytes (repeated), `+CCHRECV: <sid>,<err>`. */
  protected async readBlock(sink: ByteSink): Promise<number | 'closed'> {
    try {
      const { received, lines } = await stagedRead(this.#modem.at, this.#modem.stage, `AT+CCHRECV=${SID},${CCHRECV_MAX}`, { until: `+CCHRECV: ${SID},`, timeoutMs: 10_000 }, sink);
      const err = Number(lines[lines.length - 1].split(',')[1]);
      if (err !== 0 && received === 0) return this.closed ? 'closed' : 0;
      return received;
    } catch (error) {
      // ERROR with the session open: nothing buffered; with it closed: the stream ended.
      if (isOtaError(error, 'at-error', 'cme-error')) return this.closed ? 'closed' : 0;
      throw error;
    }
  }

  protected async closeCommand(): Promise<void> {
    await this.#modem.at.command(`AT+CCHCLOSE=${SID}`, { until: '+CCHCLOSE: ', timeoutMs: 10_000 });
  }
}

/** HTTP*: one session, one Range window per `AT+HTTPACTION`, read back with `AT+HTTPREAD`. */
class Sim7600Http implements NativeHttp {
  readonly #modem: Sim7600;
  windowMax: number;
  readonly #readMax: number;
  #session = false;
  /** ACCEPT / CONTENT / UA the session holds (AT+HTTPINIT starts from the defaults). */
  #accept = '*/*';
  #content = 'text/plain';
  #agent: string | undefined;

  constructor(modem: Sim7600, window: number, readMax: number) {
    this.#modem = modem;
    this.windowMax = window;
    this.#readMax = readMax;
  }

  lost(): void {
    this.#session = false;
  }

  async #open(): Promise<void> {
    if (this.#session) return;
    const at = this.#modem.at;
    // A stale session makes HTTPINIT fail; HTTPTERM without one answers ERROR (I-LG503): ignore.
    await at.command('AT+HTTPTERM').catch(() => undefined);
    await at.command('AT+HTTPINIT', { timeoutMs: 120_000 });
    this.#session = true;
    this.#accept = '*/*';
    this.#content = 'text/plain';
    this.#agent = undefined;
  }

  /**
   * Longest URL this modem's `AT+HTTPPARA="URL"` takes: HTTP_URL_MAX, or below it once the firmware
   * refused a shorter one (M7600 states no limit; a real firmware may have one). Kept for the
   * session: firmware does not change while the agent runs.
   */
  #urlMax = HTTP_URL_MAX;

  carries(request: CarriedRequest): boolean {
    // AT+HTTPACTION: 0 GET, 1 POST, 2 HEAD, 3 DELETE; PUT (4) only on A76xx (simcom-at.md §4.2).
    if (request.method === 'PUT') return false;
    return httpUrl(request).length <= this.#urlMax;
  }

  async request(request: NativeHttpRequest): Promise<{ status: number; length: number }> {
    await this.#modem.ready();
    await this.#open();
    const at = this.#modem.at;
    const url = httpUrl(request);
    if (url.length > this.#urlMax) throw new OtaError('invalid-argument', `URL of ${url.length} characters, AT+HTTPPARA takes at most ${this.#urlMax} here`);
    try {
      await at.command(`AT+HTTPPARA="URL",${quote(url, 'url')}`);
    } catch (error) {
      // A plain ERROR (or +CME ERROR) to a long URL: this firmware's limit is below ours. Nothing
      // left the modem; the caller sends the request over the socket (NativeHttpClient), and every
      // URL this long from now on goes there at once, so the refusal is logged once per limit.
      // Only an answer that names the length (./url-refusal.ts, with the references for it).
      if (!refusesUrlLength(error, url.length)) throw error;
      this.#urlMax = url.length - 1;
      this.#modem.warn('modem.http-url-refused', { length: url.length, fallback: 'AT+CCHOPEN' });
      throw new OtaError('url-refused', `AT+HTTPPARA="URL" refused a URL of ${url.length} characters`, error);
    }
    if (request.scheme === 'https') await at.command(`AT+HTTPPARA="SSLCFG",${SSL_CTX}`);
    // The stack writes Content-Type, Accept and User-Agent itself from AT+HTTPPARA "CONTENT",
    // "ACCEPT" and "UA" (≤ 256 chars, defaults text/plain and */*, M7600 13.2.3): the same names in
    // USERDATA would reach the server twice, so they go to their own keys, and a session keeps them,
    // so ACCEPT is set (back) on every request whose value differs from the last one.
    let accept = '*/*';
    let content = 'text/plain';
    let agent: string | undefined;
    const custom: string[] = [];
    for (const [name, value] of request.headers) {
      const key = name.toLowerCase();
      if (key === 'accept') accept = value;
      else if (key === 'content-type') content = value;
      else if (key === 'user-agent') agent = value;
      else custom.push(`${name}: ${value}`);
    }
    if (accept.length > HTTP_VALUE_MAX || content.length > HTTP_VALUE_MAX || (agent?.length ?? 0) > HTTP_VALUE_MAX) {
      throw new OtaError('invalid-argument', `Accept, Content-Type or User-Agent longer than ${HTTP_VALUE_MAX} characters`);
    }
    if (accept !== this.#accept) {
      await at.command(`AT+HTTPPARA="ACCEPT",${quote(accept, 'Accept')}`);
      this.#accept = accept;
    }
    if (agent !== undefined && agent !== this.#agent) {
      await at.command(`AT+HTTPPARA="UA",${quote(agent, 'User-Agent')}`);
      this.#agent = agent;
    }
    // USERDATA carries the other header lines (≤ 512 chars), several joined by a literal `\r\n`
    // (the two-character escapes, as LilyGO's shared code writes them); an empty value clears it.
    const userData = custom.join('\\r\\n');
    if (userData.length > USERDATA_MAX) throw new OtaError('invalid-argument', `USERDATA longer than ${USERDATA_MAX} characters`);
    await at.command(`AT+HTTPPARA="USERDATA",${quote(userData, 'header')}`);
    if (request.body && request.body.length > 0) {
      if (request.body.length > HTTPDATA_MAX) throw new OtaError('invalid-argument', `POST body ${request.body.length} bytes, AT+HTTPDATA takes at most ${HTTPDATA_MAX}`);
      if (content !== this.#content) {
        await at.command(`AT+HTTPPARA="CONTENT",${quote(content, 'Content-Type')}`);
        this.#content = content;
      }
      // `DOWNLOAD`, the bytes, `OK` (simcom-at.md §2); they are the body of AT+HTTPACTION=1.
      await at.command(`AT+HTTPDATA=${request.body.length},10000`, { payload: request.body, promptLine: 'DOWNLOAD', timeoutMs: 15_000 });
    }
    const method = { GET: 0, POST: 1, HEAD: 2, PUT: -1 }[request.method];
    if (method < 0) throw new OtaError('invalid-argument', 'SIM7600 HTTP* has no PUT (LilyGO TinyGsmHttpsComm)');
    // OK, then `+HTTPACTION: <method>,<status>,<datalen>` (120 s max, M7600).
    const { lines } = await at.command(`AT+HTTPACTION=${method}`, { until: '+HTTPACTION: ', timeoutMs: Math.min(request.timeoutMs, 125_000) });
    const m = /^\+HTTPACTION: \d,(\d+),(\d+)$/.exec(lines[lines.length - 1]);
    if (!m) throw new OtaError('http-malformed', lines[lines.length - 1]);
    const status = Number(m[1]);
    const length = Number(m[2]);
    if (status >= 600) {
      // M7600 13.2 error table: 6xx/7xx are the modem's, not the server's (706 storage, 713 DNS, 715 TLS).
      this.#session = false;
      // 706 after a large body: the module's storage (~288 KB on SIM767x, I-LG352): halve the window.
      if (status === 706 || status === 602) this.windowMax = Math.max(2048, this.windowMax >> 1);
      await at.command('AT+HTTPTERM').catch(() => undefined); // session is gone either way
      const reason = status === 713 || status === 603 ? 'dns-failed' : status === 715 || status === 710 || status === 719 ? 'tls-failed' : 'http-action-error';
      throw new OtaError(reason, `+HTTPACTION status ${status}`);
    }
    return { status, length };
  }

  /**
   * `AT+HTTPHEAD` -> `+HTTPHEAD: DATA,<n>`, the n bytes of the header block as received, `OK`
   * (H7600 sequence; the `DATA,` form is a real SIM7600G-H log's, A76xx leaves it out: both are
   * read). Staged like a body read, so a block cut by noise never reaches the parser.
   */
  async readHead(sink: ByteSink): Promise<void> {
    const stage = this.#modem.stage;
    let announced = 0;
    let n = 0;
    const response = await this.#modem.at.command('AT+HTTPHEAD', {
      timeoutMs: 10_000,
      data: {
        onHeader: (_line, length) => {
          announced += length;
          // Skipped by count: the UART stays in step, the request fails below.
          return announced <= LIMITS.httpHeadMax;
        },
        onData: (chunk) => {
          stage.set(chunk, n);
          n += chunk.length;
        },
      },
    });
    if (announced > LIMITS.httpHeadMax) throw new OtaError('header-too-long', `AT+HTTPHEAD announced ${announced} bytes, at most ${LIMITS.httpHeadMax} are read`);
    if (response.received !== announced || n !== announced) throw new OtaError('body-truncated', `AT+HTTPHEAD: announced ${announced}, got ${n}`);
    if (n > 0) await sink(stage.subarray(0, n));
  }

  async read(offset: number, length: number, sink: ByteSink): Promise<void> {
    const at = this.#modem.at;
    const stage = this.#modem.stage;
    let done = 0;
    while (done < length) {
      const n = Math.min(this.#readMax, stage.length, length - done);
      // OK first, then `+HTTPREAD: DATA,<k>` blocks, then `+HTTPREAD: 0` (H7600 layout).
      const { received } = await stagedRead(at, stage, `AT+HTTPREAD=${offset + done},${n}`, { until: '+HTTPREAD: 0', timeoutMs: 10_000 }, sink);
      if (received !== n) throw new OtaError('body-truncated', `AT+HTTPREAD asked ${n}, got ${received}`);
      done += n;
    }
  }

  async close(): Promise<void> {
    if (this.#session) await this.#modem.at.command('AT+HTTPTERM').catch(() => undefined);
    this.#session = false;
  }
}

/** The URL as `AT+HTTPPARA="URL"` takes it: the default port left out. */
function httpUrl(request: Pick<NativeHttpRequest, 'scheme' | 'host' | 'port' | 'path'>): string {
  const port = request.port === (request.scheme === 'https' ? 443 : 80) ? '' : `:${request.port}`;
  return `${request.scheme}://${request.host}${port}${request.path}`;
}
