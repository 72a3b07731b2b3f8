/**
 * SIM7600 personality (SIM7500/SIM7600 command set): `AT+NETOPEN` bearer, `AT+HTTP*` HTTP(S)
 * client, `AT+CCH*` TLS sockets, `AT+CIP*` TCP sockets, `AT+CCERTDOWN` and SIM7600-style
 * `AT+CSSLCFG`. Every behaviour cites simcom-at.md (§ numbers) or is marked INF there.
 */
import type { UartModemEnd } from '../sim-uart.js';
import type { VirtualTime } from '../virtual-time.js';
import { type AtCommand, intArg } from './at-command.js';
import { type BootPlan, ModemCore } from './core.js';
import { type FetchRequest, type FetchResult, fetchOnce, SimSocket, transferMs } from './net.js';
import { parseCaFile, type TlsParams } from './tls.js';
import { CAT_1, type SimModemOptions } from './types.js';

/** `+HTTPREAD: DATA,<n>` blocks are ~1024 bytes on SIM7600 (one field report, §4.2). */
const HTTPREAD_BLOCK = 1024;
/** CCHRECV: max 0 means up to 2048 (§5.2). */
const CCHRECV_DEFAULT = 2048;
/** CIPRXGET=2 and CIPSEND length limit (§5.2: <= 1500). */
const CIP_MAX = 1500;
/** Body the HTTP client buffers before `+HTTPACTION: <m>,706,0`: ~288 KB user storage on
 * SIM7670G (§4.2 field meaning of 706); the SIM7600 figure is not known (INF). */
export const HTTP_BODY_MAX_DEFAULT = 294_912;
const HTTP_METHODS = ['GET', 'POST', 'HEAD', 'DELETE'] as const;
/** `AT+HTTPDATA=<size>,<time>` size range: 1-153600 (§4.3, the A76xx manual; M7600 gives the same
 * command, its range is not in the reference: INF). Outside it: ERROR. */
const HTTPDATA_MAX = 153_600;
/** `AT+HTTPPARA` CONTENT / ACCEPT / UA: header values of at most 256 characters (§4.2). */
const HTTP_HEADER_VALUE_MAX = 256;
const IPR_RATES = [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 3000000, 3200000, 3686400];

/** Received bytes a socket holds until the device reads them. */
class RxBuffer {
  parts: Uint8Array[] = [];
  size = 0;
  indicated = false;

  push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  take(max: number): Uint8Array {
    const n = Math.min(max, this.size);
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.parts[0];
      const take = Math.min(n - filled, head.length);
      out.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.parts.shift();
      else this.parts[0] = head.subarray(take);
    }
    this.size -= n;
    if (this.size === 0) this.indicated = false;
    return out;
  }
}

interface Sock {
  socket: SimSocket;
  open: boolean;
  rx: RxBuffer;
  host: string;
  port: number;
}

interface SslCtx {
  version: number;
  authmode: number;
  cacert: string | undefined;
  sni: boolean;
}

export class SimulatedSim7600 extends ModemCore {
  #netOpen = false;
  #apn = '';
  #savedIpr = 115200;
  #files = new Map<string, Uint8Array>();
  #ssl = new Map<number, SslCtx>();
  #http = {
    init: false,
    url: undefined as URL | undefined,
    sslCtx: 0,
    userdata: '',
    content: 'text/plain',
    accept: '*/*',
    ua: '',
    data: undefined as Uint8Array | undefined,
    brk: 0,
    brkEnd: 0,
    connected: false,
    head: undefined as Uint8Array | undefined,
    body: undefined as Uint8Array | undefined,
    readPos: 0,
    peerClosedPending: false,
  };
  #cch = { started: false, report: false, manual: false, ctx: [0, 0] };
  #cchS = new Map<number, Sock>();
  #cipManual = false;
  #cip = new Map<number, Sock>();

  constructor(time: VirtualTime, uart: UartModemEnd, options: SimModemOptions) {
    super(time, uart, options, CAT_1);
    for (const [k, v] of Object.entries(options.files ?? {})) this.#files.set(k, v);
    this.#savedIpr = options.ipr ?? 115200;
  }

  protected defaultIpr(): number {
    return 115200; // factory default, fixed (§3.5 [U7600])
  }
  protected ifcSaved(): boolean {
    return true; // "these setting are stored automatically" (§3.6)
  }
  protected defaultCmee(): number {
    return 0; // not stated for SIM7600; V.25ter default (INF)
  }
  protected defaultRssi(): number {
    return 22;
  }
  protected registrationDelayMs(): number {
    return this.options.registrationMs ?? 15_500;
  }
  protected noiseUrcs(): string[] {
    return ['+CTZV: +00,0', '+CGEV: ME PDN ACT 1', 'DST: 0'];
  }
  protected iprRates(): number[] {
    return IPR_RATES;
  }
  protected identity(name: string): string {
    switch (name) {
      case 'I':
        return 'Manufacturer: SIMCOM INCORPORATED\r\nModel: SIMCOM_SIM7600G-H\r\nRevision: LE20B04SIM7600G22';
      case '+CGMR':
        return '+CGMR: LE20B04SIM7600G22';
      case '+CGMM':
        return 'SIMCOM_SIM7600G-H';
      case '+CGSN':
        return '862636050000001';
      case '+CIMI':
        return '001010000000001';
      default:
        return '+ICCID: 89860000000000000001';
    }
  }

  /**
   * PWRKEY 500 ms on (LilyGO "typ. 500 ms"), 3 s off (§3.1). `RDY` 11 s after power-on,
   * `+CPIN: READY`, `SMS DONE`, `PB DONE` as in the driver fixture and the transcript; SIM busy
   * until `SMS DONE` (the transcript's AT+CPIN? at +12.2 s answers SIM busy, at +14.6 s READY).
   */
  protected bootPlan(): BootPlan {
    return {
      powerOnHoldMs: 500,
      powerOffHoldMs: 3000,
      uartReadyMs: 11_000,
      simReadyMs: 13_764,
      urcs: [
        [11_000, 'RDY'],
        [12_201, '+CPIN: READY'],
        [13_764, 'SMS DONE'],
        [14_565, 'PB DONE'],
      ],
    };
  }

  protected printBootUrcs(): boolean {
    return true;
  }

  protected override latencyMs(cmd: AtCommand): number {
    switch (cmd.name) {
      case '+HTTPINIT':
        return 600; // "activates the PDP context if needed" (transcript: 0.6 s)
      case '+HTTPTERM':
        return this.#http.init ? 50 : 10;
      default:
        return super.latencyMs(cmd);
    }
  }

  protected resetSessions(): void {
    this.dropPushed();
    this.#netOpen = false;
    this.ipr = this.#savedIpr; // AT+IPR is temporary; AT+IPREX is saved (§3.5)
    this.#ssl.clear();
    this.#http = { init: false, url: undefined, sslCtx: 0, userdata: '', content: 'text/plain', accept: '*/*', ua: '', data: undefined, brk: 0, brkEnd: 0, connected: false, head: undefined, body: undefined, readPos: 0, peerClosedPending: false };
    for (const s of this.#cchS.values()) s.socket.close();
    for (const s of this.#cip.values()) s.socket.close();
    this.#cchS.clear();
    this.#cip.clear();
    this.#cch = { started: false, report: false, manual: false, ctx: [0, 0] };
    this.#cipManual = false;
  }

  protected linkLost(): void {
    if (this.#http.init) {
      this.#http.connected = false;
      this.line('+HTTP_NONET_EVENT');
    }
    for (const [sid, s] of this.#cchS) {
      this.dropPushed(s); // received data not yet pushed is gone with the link
      if (s.open) {
        s.open = false;
        s.socket.close();
        this.line(`+CCH_PEER_CLOSED: ${sid}`);
      }
    }
    for (const [link, s] of this.#cip) {
      if (s.open) {
        s.open = false;
        s.socket.close();
        this.line(`+IPCLOSE: ${link},1`);
      }
    }
    if (this.#netOpen) {
      this.#netOpen = false;
      this.line('+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY');
    }
  }

  #sslOk(ctx: number): boolean {
    // Strict TLS: authmode 0 (the default) does not verify (§4.2); the simulator refuses it.
    const c = this.#ssl.get(ctx);
    return !!c && c.authmode >= 1 && c.cacert !== undefined && this.#files.has(c.cacert);
  }

  /**
   * TLS for a connection to `host` under SSL context `ctx` (call after `#sslOk`). CCERTDOWN stores
   * any bytes; a file that holds no valid certificate fails at the handshake, as the module only
   * parses it then (INF): undefined.
   */
  #tlsParams(ctx: number, host: string): TlsParams | undefined {
    const ca = parseCaFile(this.#files.get(this.#ssl.get(ctx)?.cacert ?? ''));
    return ca && { ca, host };
  }

  protected execute(cmd: AtCommand): boolean {
    switch (cmd.name) {
      case '+CFUN':
        return this.#cfun(cmd);
      case '+CRESET':
        this.ok();
        this.reboot(100);
        return true;
      case '+CPOF':
        this.ok();
        this.uart.whenDrained(() => this.powerOff(false));
        return true;
      case '+IPREX':
        if (cmd.kind === 'read') {
          this.line(`+IPREX: ${this.#savedIpr}`);
          return this.ok(), true;
        }
        if (cmd.kind !== 'set' || !IPR_RATES.includes(Number(cmd.args[0]))) return this.error(), true;
        {
          // Saved rate; like AT+IPR it switches after the OK (V.25ter, §3.5).
          const rate = Number(cmd.args[0]);
          this.#savedIpr = this.ipr = rate;
          this.out('\r\nOK\r\n');
          const epoch = this.epoch;
          this.uart.whenDrained(() => {
            if (epoch === this.epoch) this.uart.baud = rate;
          });
          this.done();
        }
        return true;
      case '+CGDCONT':
        if (cmd.kind === 'set') {
          if (cmd.args[2] !== undefined) this.#apn = cmd.args[2];
          this.ok();
        } else if (cmd.kind === 'read') {
          this.line(`+CGDCONT: 1,"IP","${this.#apn}","0.0.0.0",0,0`);
          this.ok();
        } else this.ok();
        return true;
      case '+CGACT':
      case '+CIPCCFG':
      case '+CIPTIMEOUT':
      case '+CIPSRIP':
        this.ok();
        return true;
      case '+NETOPEN':
        return this.#netopen(cmd);
      case '+NETCLOSE':
        if (!this.#netOpen) {
          this.line('+IP ERROR: Network not opened');
          return this.error(), true;
        }
        this.ok();
        for (const s of this.#cip.values()) s.socket.close();
        this.#cip.clear();
        this.#netOpen = false;
        this.later(200, () => this.line('+NETCLOSE: 0'));
        return true;
      case '+IPADDR':
        if (!this.#netOpen) {
          this.line('+IP ERROR: Network not opened');
          return this.error(), true;
        }
        this.line('+IPADDR: 10.71.155.118');
        this.ok();
        return true;
      case '+CCERTDOWN': {
        const len = intArg(cmd, 1, 1, 10240);
        if (cmd.kind !== 'set' || !cmd.args[0] || len === undefined) return this.error(), true;
        this.out('\r\n>'); // transcript: "\r\n>" (exact bytes around '>' not documented)
        this.expectData(len, (bytes) => {
          this.#files.set(cmd.args[0], bytes);
          this.later(transferMs(len, 1_000_000), () => this.ok());
        });
        return true;
      }
      case '+CCERTLIST':
        if ([...this.#files.keys()].length) this.lines([...this.#files.keys()].map((k) => `+CCERTLIST: "${k}"`));
        this.ok();
        return true;
      case '+CCERTDELE':
        if (!this.#files.delete(cmd.args[0] ?? '')) return this.error(), true;
        this.ok();
        return true;
      case '+CSSLCFG':
        return this.#csslcfg(cmd);
      case '+HTTPINIT':
        if (this.#http.init || !this.registered) return this.error(), true;
        this.#http.init = true;
        this.ok();
        return true;
      case '+HTTPTERM':
        // "AT+HTTPTERM with no session answers ERROR" (pitfall 5).
        if (!this.#http.init) return this.error(), true;
        this.resetHttp();
        this.ok();
        return true;
      case '+HTTPPARA':
        return this.#httppara(cmd);
      case '+HTTPDATA':
        return this.#httpdata(cmd);
      case '+HTTPACTION':
        return this.#httpaction(cmd);
      case '+HTTPHEAD': {
        const head = this.#http.head;
        if (!this.#http.init || !head) return this.error(), true;
        this.out(`\r\n+HTTPHEAD: DATA,${head.length}\r\n`);
        this.out(head);
        this.ok();
        return true;
      }
      case '+HTTPREAD':
        return this.#httpread(cmd);
      case '+CCHSET':
        this.#cch.report = cmd.args[0] === '1';
        this.#cch.manual = cmd.args[1] === '1';
        this.ok();
        return true;
      case '+CCHSTART':
        if (this.#cch.started || !this.registered) return this.error(), true;
        this.#cch.started = true;
        this.ok();
        this.later(100, () => this.line('+CCHSTART: 0'));
        return true;
      case '+CCHSTOP':
        if (!this.#cch.started) return this.error(), true;
        for (const s of this.#cchS.values()) {
          s.socket.close();
          this.dropPushed(s);
        }
        this.#cchS.clear();
        this.#cch.started = false;
        this.ok();
        this.later(100, () => this.line('+CCHSTOP: 0'));
        return true;
      case '+CCHSSLCFG': {
        const sid = intArg(cmd, 0, 0, 1);
        const ctx = intArg(cmd, 1, 0, 9);
        if (sid === undefined || ctx === undefined) return this.error(), true;
        this.#cch.ctx[sid] = ctx;
        this.ok();
        return true;
      }
      case '+CCHOPEN':
        return this.#cchopen(cmd);
      case '+CCHSEND':
        return this.#send(cmd, this.#cchS, 0, 2048, (sid, n) => {
          if (this.#cch.report) this.line(`+CCHSEND: ${sid},0`);
          void n;
        });
      case '+CCHRECV':
        return this.#cchrecv(cmd);
      case '+CCHCLOSE': {
        const sid = intArg(cmd, 0, 0, 1);
        const s = sid === undefined ? undefined : this.#cchS.get(sid);
        if (!s) return this.error(), true;
        s.socket.close();
        this.dropPushed(s);
        this.#cchS.delete(sid!);
        this.ok();
        this.later(50, () => this.line(`+CCHCLOSE: ${sid},0`));
        return true;
      }
      case '+CIPRXGET':
        return this.#ciprxget(cmd);
      case '+CIPOPEN':
        return this.#cipopen(cmd);
      case '+CIPSEND':
        return this.#send(cmd, this.#cip, 0, CIP_MAX, (link, n) => this.line(`+CIPSEND: ${link},${n},${n}`));
      case '+CIPCLOSE': {
        if (cmd.kind === 'read') {
          this.line('+CIPCLOSE: ' + Array.from({ length: 10 }, (_, i) => (this.#cip.get(i)?.open ? 1 : 0)).join(','));
          return this.ok(), true;
        }
        const link = intArg(cmd, 0, 0, 9);
        const s = link === undefined ? undefined : this.#cip.get(link);
        if (!s) return this.error(), true;
        s.socket.close();
        this.#cip.delete(link!);
        this.ok();
        this.later(50, () => this.line(`+CIPCLOSE: ${link},0`));
        return true;
      }
      default:
        return false;
    }
  }

  resetHttp(): void {
    this.#http = { init: false, url: undefined, sslCtx: 0, userdata: '', content: 'text/plain', accept: '*/*', ua: '', data: undefined, brk: 0, brkEnd: 0, connected: false, head: undefined, body: undefined, readPos: 0, peerClosedPending: false };
  }

  #cfun(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.line(`+CFUN: ${this.cfun}`);
      return this.ok(), true;
    }
    const fun = intArg(cmd, 0, 0, 7);
    const rst = cmd.args[1] === undefined ? 0 : intArg(cmd, 1, 0, 1);
    if (cmd.kind !== 'set' || fun === undefined || ![0, 1, 4, 7].includes(fun) || rst === undefined) return this.error(), true;
    if (rst === 1) {
      this.cfun = 1;
      this.ok();
      this.reboot(100);
      return true;
    }
    if (fun === this.cfun) return this.ok(), true;
    this.cfun = fun;
    if (fun === 1) this.startRegistration(2000);
    else {
      this.linkLost();
      this.stopRegistration();
    }
    this.ok();
    return true;
  }

  #netopen(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.line(`+NETOPEN: ${this.#netOpen ? 1 : 0}`);
      return this.ok(), true;
    }
    if (this.#netOpen) {
      this.line('+IP ERROR: Network is already opened');
      return this.error(), true;
    }
    if (!this.registered) return this.error(), true;
    this.ok();
    this.later(800, () => {
      if (!this.registered) return this.line('+NETOPEN: 1');
      this.#netOpen = true;
      this.line('+NETOPEN: 0');
    });
    return true;
  }

  #csslcfg(cmd: AtCommand): boolean {
    if (cmd.kind !== 'set') return cmd.kind === 'test' ? (this.ok(), true) : false;
    const ctx = intArg(cmd, 1, 0, 9);
    if (ctx === undefined) return this.error(), true;
    const c = this.#ssl.get(ctx) ?? { version: 4, authmode: 0, cacert: undefined, sni: false };
    const v = cmd.args[2];
    switch ((cmd.args[0] ?? '').toLowerCase()) {
      case 'sslversion':
        if (intArg(cmd, 2, 0, 4) === undefined) return this.error(), true;
        c.version = Number(v);
        break;
      case 'authmode':
        if (intArg(cmd, 2, 0, 3) === undefined) return this.error(), true;
        c.authmode = Number(v);
        break;
      case 'cacert':
        c.cacert = v;
        break;
      case 'enablesni':
        c.sni = v === '1';
        break;
      case 'ignorelocaltime':
      case 'negotiatetime':
      case 'clientcert':
      case 'clientkey':
      case 'ciphersuites':
        break;
      default:
        return this.error(), true;
    }
    this.#ssl.set(ctx, c);
    this.ok();
    return true;
  }

  #httppara(cmd: AtCommand): boolean {
    const h = this.#http;
    if (cmd.kind !== 'set' || !h.init) return this.error(), true;
    const v = cmd.args[1] ?? '';
    switch ((cmd.args[0] ?? '').toUpperCase()) {
      case 'URL': {
        // A firmware whose HTTP client takes shorter URLs than the agent assumes (`urlMax`; M7600
        // states no limit): a plain ERROR, as a refused argument is answered.
        if (this.options.urlMax !== undefined && v.length > this.options.urlMax) return this.error(), true;
        try {
          const u = new URL(v);
          if (!/^https?:$/.test(u.protocol)) return this.error(), true;
          h.url = u;
        } catch {
          return this.error(), true;
        }
        break;
      }
      case 'SSLCFG': {
        const ctx = intArg(cmd, 1, 0, 9);
        if (ctx === undefined) return this.error(), true;
        h.sslCtx = ctx;
        break;
      }
      case 'USERDATA':
        if (v.length > 512) return this.error(), true;
        h.userdata = v; // replaces the previous USERDATA (transcript)
        break;
      case 'BREAK':
        h.brk = Number(v) || 0;
        break;
      case 'BREAKEND':
        h.brkEnd = Number(v) || 0;
        break;
      case 'CONTENT':
      case 'ACCEPT':
      case 'UA': {
        // Header values, <= 256 characters (§4.2); the stack writes them as Content-Type, Accept
        // and User-Agent itself.
        if (v.length > HTTP_HEADER_VALUE_MAX) return this.error(), true;
        const key = (cmd.args[0] ?? '').toUpperCase();
        if (key === 'CONTENT') h.content = v;
        else if (key === 'ACCEPT') h.accept = v;
        else h.ua = v;
        break;
      }
      case 'CONNECTTO':
      case 'RECVTO':
      case 'RESPTO':
      case 'CID':
        break;
      default:
        return this.error(), true;
    }
    this.ok();
    return true;
  }

  /**
   * `AT+HTTPDATA=<size>,<time>` -> `DOWNLOAD`, then exactly `size` bytes -> `OK` (§2: the DOWNLOAD
   * prompt; §4.3: size 1-153600). The data is the body of the next `AT+HTTPACTION=1` (POST, §4.2);
   * `<time>` (ms to wait for the bytes) is checked, not simulated: the host sends them at once.
   */
  #httpdata(cmd: AtCommand): boolean {
    const h = this.#http;
    const size = intArg(cmd, 0, 1, HTTPDATA_MAX);
    const wait = intArg(cmd, 1, 1, 1_000_000);
    if (cmd.kind !== 'set' || !h.init || size === undefined || (cmd.args.length > 1 && wait === undefined)) return this.error(), true;
    this.out('\r\nDOWNLOAD\r\n');
    this.expectData(size, (bytes) => {
      h.data = bytes;
      this.ok();
    });
    return true;
  }

  #headers(method: number): [string, string][] {
    const h = this.#http;
    const out: [string, string][] = [];
    // Headers the stack writes from AT+HTTPPARA CONTENT/ACCEPT/UA (defaults text/plain, */*, §4.2);
    // Content-Type only with a body. A host that also puts them in USERDATA sends them twice.
    out.push(['Accept', h.accept]);
    if (h.ua !== '') out.push(['User-Agent', h.ua]);
    if (method === 1 && h.data) out.push(['Content-Type', h.content]);
    // USERDATA is raw header text; several headers are separated by \r\n (written literally as
    // the four characters "\r\n" on the AT line, which is how drivers send it).
    for (const line of h.userdata.split(/\\r\\n|\r\n/)) {
      const c = line.indexOf(':');
      if (c > 0) out.push([line.slice(0, c).trim(), line.slice(c + 1).trim()]);
    }
    if (h.brk > 0 || h.brkEnd > 0) out.push(['Range', h.brkEnd > h.brk ? `bytes=${h.brk}-${h.brkEnd}` : `bytes=${h.brk}-`]);
    return out;
  }

  #httpaction(cmd: AtCommand): boolean {
    const h = this.#http;
    const method = intArg(cmd, 0, 0, 3);
    if (cmd.kind !== 'set' || method === undefined || !h.init || !h.url) return this.error(), true;
    const name = HTTP_METHODS[method];
    this.ok();
    h.head = h.body = undefined;
    h.readPos = 0;
    this.counters.requests++;
    const m = this.network;
    const url = h.url;
    const tls = url.protocol === 'https:';
    const report = (status: number, len: number, ms: number) => this.later(ms, () => this.line(`+HTTPACTION: ${method},${status},${len}`));
    const injected = this.takeHttpActionError();
    if (injected !== undefined) return report(injected, 0, m.rttMs), true;
    if (tls && !this.#sslOk(h.sslCtx)) return report(719, 0, m.rttMs), true; // CA missed
    const port = Number(url.port || (tls ? 443 : 80));
    const target = this.resolve(url.hostname, port);
    if (!target) return report(713, 0, m.rttMs * 4), true; // get DNS failed
    // First request of a session (or after the server closed) pays TCP (+TLS) setup.
    const setup = h.connected ? 0 : m.rrcSetupMs + m.rttMs * (tls ? 3 : 1) + (tls ? m.tlsCryptoMs : 0);
    const params = tls ? this.#tlsParams(h.sslCtx, url.hostname) : undefined;
    if (tls && !params) return report(715, 0, setup), true; // handshake failed: the CA file is unusable
    const req: FetchRequest = {
      method: name,
      host: url.host,
      port,
      path: url.pathname + url.search,
      headers: this.#headers(method),
      // POST sends what AT+HTTPDATA stored (INF: kept for later POSTs until replaced or HTTPTERM).
      body: method === 1 ? h.data : undefined,
      bodyMax: this.options.httpBodyMax ?? HTTP_BODY_MAX_DEFAULT,
    };
    this.io(fetchOnce(target, req, params), (r: FetchResult) => {
      if (r.kind === 'dns') return report(713, 0, setup);
      if (r.kind === 'connect') return report(714, 0, setup + m.rttMs);
      // Chain, expiry or name refused: 715 handshake failed (§4.2; field: I-LG503, I-LG401).
      if (r.kind === 'tls') return report(715, 0, setup);
      if (r.kind === 'reset') return report(706, 0, setup + m.rttMs);
      if (r.kind === 'too-large') return report(706, 0, setup + m.rttMs); // past the module's storage (§4.2)
      this.counters.netTxBytes += r.sentBytes;
      const wire = r.head.length + r.body.length;
      const kept = this.netReceive(wire);
      const t = setup + m.rttMs + transferMs(r.sentBytes, m.uplinkBps);
      if (kept < wire) {
        return this.later(t + transferMs(kept, m.downlinkBps), () => {
          this.linkLost();
          this.line(`+HTTPACTION: ${method},706,0`);
        });
      }
      this.later(t + transferMs(wire, m.downlinkBps), () => {
        if (!this.#http.init) return;
        h.connected = !r.closed;
        h.head = r.head;
        h.body = method === 2 ? new Uint8Array(0) : r.body;
        this.line(`+HTTPACTION: ${method},${r.status},${r.body.length}`);
        h.peerClosedPending = r.closed;
        if (r.closed && h.body.length === 0) this.#peerClosed();
      });
    });
    return true;
  }

  /**
   * `+HTTP_PEER_CLOSED` "may appear at any time" (§4.2); it is sent ~0.3 s after the host has read
   * the body of a response whose server closed, which is where the transcript shows it (INF).
   */
  #peerClosed(): void {
    this.#http.peerClosedPending = false;
    this.later(300, () => this.#http.init && this.line('+HTTP_PEER_CLOSED'));
  }

  #httpread(cmd: AtCommand): boolean {
    const h = this.#http;
    if (cmd.kind === 'read') {
      if (!h.init) return this.error(), true;
      this.line(`+HTTPREAD: LEN,${h.body ? h.body.length - h.readPos : 0}`);
      return this.ok(), true;
    }
    if (cmd.kind !== 'set' || !h.init || !h.body) return this.error(), true;
    // The manual's syntax table has one argument, every example two (§4.2); offsets are honoured
    // as random access into the buffered body (INF: §11 lists this as uncertain).
    const two = cmd.args.length >= 2;
    const start = two ? intArg(cmd, 0, 0, h.body.length) : h.readPos;
    const size = intArg(cmd, two ? 1 : 0, 1, 1_000_000);
    if (start === undefined || size === undefined) return this.error(), true;
    const end = Math.min(h.body.length, start + size); // only the buffered data (§4.2)
    const body = h.body;
    this.out('\r\nOK\r\n'); // OK BEFORE the data (§4.2)
    this.later(5, () => {
      for (let off = start; off < end; off += HTTPREAD_BLOCK) {
        const n = Math.min(HTTPREAD_BLOCK, end - off);
        this.out(`\r\n+HTTPREAD: DATA,${n}\r\n`);
        const keep = this.readBlock(n);
        this.out(body.subarray(off, off + keep));
        if (keep < n) return this.done(); // short read: nothing more
      }
      h.readPos = end;
      this.out('\r\n+HTTPREAD: 0\r\n');
      if (h.peerClosedPending && end === body.length) this.#peerClosed();
      this.done();
    });
    return true;
  }

  #newSock(kind: 'cch' | 'cip', id: number, host: string, port: number, onData: (s: Sock, b: Uint8Array) => void, onClose: (s: Sock) => void): Sock {
    const sock: Sock = { socket: undefined as unknown as SimSocket, open: false, rx: new RxBuffer(), host, port };
    sock.socket = new SimSocket(
      this.time,
      () => this.network,
      {
        onData: (b) => {
          const map = kind === 'cch' ? this.#cchS : this.#cip;
          if (!sock.open || map.get(id) !== sock || this.power !== 'on') return;
          const kept = this.netReceive(b.length);
          if (kept > 0) onData(sock, b.subarray(0, kept));
          if (kept < b.length) this.linkLost();
        },
        onClose: () => {
          const map = kind === 'cch' ? this.#cchS : this.#cip;
          if (!sock.open || map.get(id) !== sock) return;
          sock.open = false;
          onClose(sock);
        },
        onMqttSent: (type, at) => void this.counters.mqttSent.push({ type, at }),
      },
      this.options.socketQuietMs ?? 100,
      this.options.cloudWork,
      this.options.tlsTaps,
      this.options.tlsObserve,
    );
    return sock;
  }

  #cchopen(cmd: AtCommand): boolean {
    const sid = intArg(cmd, 0, 0, 1);
    const port = intArg(cmd, 2, 1, 65535);
    const type = cmd.args[3] === undefined ? 2 : intArg(cmd, 3, 1, 2);
    if (cmd.kind !== 'set' || sid === undefined || port === undefined || type === undefined || !cmd.args[1] || !this.#cch.started || this.#cchS.has(sid)) return this.error(), true;
    const m = this.network;
    const tls = type === 2;
    const result = (code: number, ms: number) => this.later(ms, () => this.line(`+CCHOPEN: ${sid},${code}`));
    this.ok();
    // CCH error numbers mirror the HTTP 7xx table: 13 DNS, 14 connect, 19 no certificate (INF).
    if (tls && !this.#sslOk(this.#cch.ctx[sid])) return result(19, m.rttMs), true;
    const target = this.resolve(cmd.args[1], port);
    if (!target) return result(13, m.rttMs * 4), true;
    const params = tls ? this.#tlsParams(this.#cch.ctx[sid], cmd.args[1]) : undefined;
    this.counters.requests++;
    const sock = this.#newSock(
      'cch',
      sid,
      cmd.args[1],
      port,
      (s, b) => {
        if (this.#cch.manual) {
          s.rx.push(b);
          if (!s.rx.indicated) {
            s.rx.indicated = true;
            this.line(`+CCHEVENT: ${sid},RECV EVENT`);
          }
        } else {
          // Default: data pushed as a URC with its length (§5.2).
          // Through the modem's push queue (dropped on link loss or close); the short-read fault:
          // the block announces its length but carries fewer bytes.
          this.pushOut(s, [`\r\n+CCHRECV: DATA,${sid},${b.length}\r\n`, b.slice(0, this.readBlock(b.length))]);
        }
      },
      (s) => {
        // After the data still queued for the host (push mode), as on the wire.
        if (this.#cch.manual) this.line(`+CCH_PEER_CLOSED: ${sid}`);
        else this.pushOut(s, [`\r\n+CCH_PEER_CLOSED: ${sid}\r\n`]);
      },
    );
    const ms = m.rrcSetupMs + m.rttMs * (tls ? 3 : 1) + (tls ? m.tlsCryptoMs : 0);
    if (tls && !params) return result(15, ms), true; // handshake error: the CA file is unusable
    // 14 connect socket error, 15 handshake error (chain, expiry or name refused).
    this.io(sock.socket.connect(target, params), (ok) => {
      if (!ok) return result(sock.socket.failure === 'connect' ? 14 : 15, ms);
      this.later(ms, () => {
        sock.open = true;
        this.#cchS.set(sid, sock);
        this.line(`+CCHOPEN: ${sid},0`);
      });
    });
    return true;
  }

  #send(cmd: AtCommand, map: Map<number, Sock>, _min: number, max: number, after: (id: number, n: number) => void): boolean {
    const id = intArg(cmd, 0, 0, 9);
    const len = intArg(cmd, 1, 1, max);
    const s = id === undefined ? undefined : map.get(id);
    if (cmd.kind !== 'set' || !s || !s.open || len === undefined) return this.error(), true;
    this.out('\r\n>');
    this.expectData(len, (bytes) => {
      this.counters.netTxBytes += bytes.length;
      this.io(s.socket.send(bytes), () => undefined);
      this.later(transferMs(bytes.length, this.network.uplinkBps) + 20, () => {
        this.ok();
        after(id!, len);
      });
    });
    return true;
  }

  #cchrecv(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.line(`+CCHRECV: LEN,${this.#cchS.get(0)?.rx.size ?? 0},${this.#cchS.get(1)?.rx.size ?? 0}`);
      return this.ok(), true;
    }
    const sid = intArg(cmd, 0, 0, 1);
    const max = cmd.args[1] === undefined ? 0 : intArg(cmd, 1, 0, 2048);
    const s = sid === undefined ? undefined : this.#cchS.get(sid);
    if (cmd.kind !== 'set' || !s || max === undefined || s.rx.size === 0) return this.error(), true;
    const data = s.rx.take(max === 0 ? CCHRECV_DEFAULT : max);
    // OK, then "+CCHRECV: DATA,<sid>,<len>" / data / "+CCHRECV: <sid>,<err>" (§5.2).
    this.out('\r\nOK\r\n');
    this.later(5, () => {
      this.out(`\r\n+CCHRECV: DATA,${sid},${data.length}\r\n`);
      const keep = this.readBlock(data.length);
      this.out(data.subarray(0, keep));
      if (keep === data.length) this.out(`\r\n+CCHRECV: ${sid},0\r\n`);
      this.done();
    });
    return true;
  }

  #cipopen(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.lines(Array.from({ length: 10 }, (_, i) => {
        const s = this.#cip.get(i);
        return s?.open ? `+CIPOPEN: ${i},"TCP","${s.host}",${s.port},-1` : `+CIPOPEN: ${i}`;
      }));
      return this.ok(), true;
    }
    const link = intArg(cmd, 0, 0, 9);
    const port = intArg(cmd, 3, 1, 65535);
    if (cmd.kind !== 'set' || link === undefined || port === undefined || cmd.args[1]?.toUpperCase() !== 'TCP' || !cmd.args[2]) return this.error(), true;
    if (this.#cip.has(link)) {
      this.line(`+CIPOPEN: ${link},9`); // sockets opened
      return this.error(), true;
    }
    const m = this.network;
    const result = (code: number, ms: number) => this.later(ms, () => this.line(`+CIPOPEN: ${link},${code}`));
    this.ok();
    if (!this.#netOpen) return result(2, 10), true; // network not opened
    const target = this.resolve(cmd.args[2], port);
    if (!target) return result(11, m.rttMs * 4), true; // DNS parse failed
    this.counters.requests++;
    const sock = this.#newSock(
      'cip',
      link,
      cmd.args[2],
      port,
      (s, b) => {
        if (this.#cipManual) {
          s.rx.push(b);
          if (!s.rx.indicated) {
            // "repeats only after the buffer was emptied" (§5.2).
            s.rx.indicated = true;
            this.line(`+CIPRXGET: 1,${link}`);
          }
        } else {
          this.out(`\r\nRECV FROM:${this.options.publicIp ?? '203.0.113.10'}:${port}\r\n+IPD${b.length}\r\n`);
          this.out(b);
        }
      },
      () => this.line(`+IPCLOSE: ${link},1`),
    );
    const ms = m.rrcSetupMs + m.rttMs;
    this.io(sock.socket.connect(target), (ok) => {
      if (!ok) return result(1, ms);
      this.later(ms, () => {
        sock.open = true;
        this.#cip.set(link, sock);
        this.line(`+CIPOPEN: ${link},0`);
      });
    });
    return true;
  }

  #ciprxget(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.line(`+CIPRXGET: ${this.#cipManual ? 1 : 0}`);
      return this.ok(), true;
    }
    const mode = intArg(cmd, 0, 0, 4);
    if (cmd.kind !== 'set' || mode === undefined) return this.error(), true;
    if (mode === 0 || mode === 1) {
      this.#cipManual = mode === 1;
      return this.ok(), true;
    }
    const link = intArg(cmd, 1, 0, 9);
    const s = link === undefined ? undefined : this.#cip.get(link);
    if (!s) return this.error(), true;
    if (mode === 4) {
      this.line(`+CIPRXGET: 4,${link},${s.rx.size}`);
      return this.ok(), true;
    }
    if (mode === 3) return this.error(), true; // hex mode not simulated
    const len = intArg(cmd, 2, 1, CIP_MAX);
    if (len === undefined) return this.error(), true;
    if (s.rx.size === 0) {
      this.line('+IP ERROR: No data');
      return this.error(), true;
    }
    const data = s.rx.take(len);
    this.out(`\r\n+CIPRXGET: 2,${link},${data.length},${s.rx.size}\r\n`);
    const keep = this.readBlock(data.length);
    this.out(data.subarray(0, keep));
    if (keep < data.length) return this.done(), true;
    this.ok(); // trailer \r\nOK\r\n (INF, §11)
    return true;
  }
}
