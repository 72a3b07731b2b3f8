/**
 * SIM7080G personality (also stands for SIM7070/SIM7090): `AT+CNACT` bearer, `AT+SH*` HTTP(S)
 * client, `AT+CA*` TCP/TLS sockets, `AT+CSSLCFG` QAPI-style SSL contexts, `AT+CFS*` file upload.
 * Every behaviour cites simcom-at.md (§ numbers) or is marked INF there.
 */
import type { UartModemEnd } from '../sim-uart.js';
import type { VirtualTime } from '../virtual-time.js';
import { type AtCommand, intArg } from './at-command.js';
import { type BootPlan, ModemCore } from './core.js';
import { type FetchRequest, type FetchResult, fetchOnce, SimSocket, transferMs } from './net.js';
import { type ConnectFailure, openConnection, parseCaFile, type TlsParams } from './tls.js';
import { CAT_M, type SimModemOptions } from './types.js';
import { TEST_CA } from '../../../node/test-pki.js';

/** SHREAD returns at most this many bytes per `+SHREAD:` block (§4.1). */
const SHREAD_BLOCK = 2048;
/** CASEND/CARECV length limit (§5.1: 1-1460). */
const CA_MAX = 1460;
/** Default whole-body limit of SHREQ: stacx saw 602 above ~40 kB (§4.1). */
export const SH_BODY_MAX_DEFAULT = 40_960;
const SHREQ_METHODS = ['', 'GET', 'PUT', 'POST', 'PATCH', 'HEAD'] as const;
const IPR_RATES = [0, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 921600, 2000000, 2900000, 3000000, 3200000, 3686400, 4000000];

interface CaSocket {
  socket: SimSocket;
  ssl: boolean;
  open: boolean;
  buffer: Uint8Array[];
  buffered: number;
  indicated: boolean;
  /** recv_mode 1: received data is pushed as `+CAURC: "recv"` URCs instead of buffered (§5.1). */
  push: boolean;
  /** Remote port (for the optional address fields of `+CAURC: "recv"`). */
  port: number;
}

interface CaConfig {
  ssl: boolean;
  crindex: number;
  cacert: string | undefined;
}

export class SimulatedSim7080 extends ModemCore {
  #pdp = [false, false, false, false];
  #apn = '';
  #files = new Map<string, Uint8Array>();
  /** Files `AT+CSSLCFG="convert"` accepted as CA lists (a rewrite needs converting again). */
  #converted = new Set<string>();
  #sslCtx = new Map<number, { version: number; sni?: string }>();
  #sh = {
    url: undefined as URL | undefined,
    urlText: '',
    bodyLen: undefined as number | undefined,
    headerLen: undefined as number | undefined,
    sslCtx: undefined as number | undefined,
    caFile: undefined as string | undefined,
    connected: false,
    headers: [] as [string, string][],
    body: undefined as Uint8Array | undefined,
    response: undefined as Uint8Array | undefined,
    busy: false,
    /** TLS of the connected session (SHCONN verified it; every SHREQ runs it again). */
    tls: undefined as TlsParams | undefined,
  };
  #caCid = 0;
  #caCfg = new Map<number, CaConfig>();
  #ca = new Map<number, CaSocket>();

  constructor(time: VirtualTime, uart: UartModemEnd, options: SimModemOptions) {
    super(time, uart, options, CAT_M);
    // Preloaded files count as converted: the transcripts assume ca.pem was set up long ago.
    for (const [k, v] of Object.entries(options.files ?? { 'ca.pem': TEST_CA })) {
      this.#files.set(k, v);
      this.#converted.add(k);
    }
  }

  protected defaultIpr(): number {
    return 0; // factory +IPR: 0 = auto-baud (§3.5)
  }
  protected ifcSaved(): boolean {
    return false; // AT+IFC is NO_SAVE on SIM7080 (§3.6)
  }
  protected defaultCmee(): number {
    return 0; // §2: SIM7080 default 0
  }
  protected defaultRssi(): number {
    return 17;
  }
  protected registrationDelayMs(): number {
    return this.options.registrationMs ?? 10_000;
  }
  protected noiseUrcs(): string[] {
    // TinyGSM's SIM7080 handleURCs strips *PSUTTZ, DST:, *PSNWID, +CTZV (pitfall 2).
    return ['*PSUTTZ: 26/11/24,17:00:00","+00",0', 'DST: 0', '*PSNWID: "001","01","Test","Test","",""', '+CTZV: +00,0'];
  }
  protected iprRates(): number[] {
    return IPR_RATES;
  }
  protected identity(name: string): string {
    switch (name) {
      case 'I':
        return 'SIM7080 R1951.05';
      case '+CGMR':
        return 'Revision:1951B05SIM7080';
      case '+CGMM':
        return 'SIMCOM_SIM7080G';
      case '+CGSN':
        return '869951030000001';
      case '+CIMI':
        return '001010000000001';
      default:
        return '89860000000000000001';
    }
  }

  /**
   * PWRKEY >= 1 s on (LilyGO 1000 ms), 1.3 s off (§3.1). UART ready 3.3 s after power-on (the
   * transcript's AT at +3.0 s goes unanswered, +3.5 s is answered). Boot URCs only with a fixed
   * rate (§3.1 [M7080 3.2.19]).
   */
  protected bootPlan(): BootPlan {
    return {
      powerOnHoldMs: 1000,
      powerOffHoldMs: 1300,
      uartReadyMs: 3300,
      simReadyMs: 3450,
      urcs: [
        [3300, 'RDY'],
        [3350, '+CFUN: 1'],
        [3450, '+CPIN: READY'],
        [5000, 'SMS Ready'],
      ],
    };
  }

  protected printBootUrcs(): boolean {
    return this.ipr !== 0;
  }

  protected override latencyMs(cmd: AtCommand): number {
    switch (cmd.name) {
      case '+CNACT':
        return cmd.kind === 'set' ? 30 : 20;
      case '+SHREQ':
        return 20;
      case '+SHDISC':
        return 200;
      case '+CACLOSE':
        return 200;
      default:
        return super.latencyMs(cmd);
    }
  }

  protected resetSessions(): void {
    this.dropPushed();
    this.#pdp = [false, false, false, false];
    for (const s of this.#ca.values()) s.socket.close();
    this.#ca.clear();
    this.#caCfg.clear();
    this.#sslCtx.clear(); // CSSLCFG is not saved
    this.#sh.connected = false;
    this.#sh.url = undefined;
    this.#sh.bodyLen = this.#sh.headerLen = undefined;
    this.#sh.headers = [];
    this.#sh.response = undefined;
    this.#sh.sslCtx = this.#sh.caFile = undefined;
  }

  protected linkLost(): void {
    if (this.#sh.connected) {
      this.#sh.connected = false;
      this.line('+SHSTATE: 0');
    }
    for (const [cid, s] of this.#ca) {
      // Received data not yet pushed is gone with the link (manual mode loses its buffer too).
      this.dropPushed(s);
      if (s.open) {
        s.open = false;
        s.socket.close();
        this.line(`+CASTATE: ${cid},0`);
      }
    }
    this.#ca.clear();
    this.#pdp.forEach((active, i) => {
      if (active) {
        this.#pdp[i] = false;
        this.later(50, () => this.line(`+APP PDP: ${i},DEACTIVE`));
      }
    });
  }

  protected execute(cmd: AtCommand): boolean {
    switch (cmd.name) {
      case '+CFUN':
        return this.#cfun(cmd);
      case '+CPOWD':
        if (cmd.args[0] === '1') this.powerOff(true);
        else if (cmd.args[0] === '0') this.powerOff(false);
        else this.error();
        return true;
      case '+CREBOOT':
        this.ok();
        this.reboot(100);
        return true;
      case '+CGDCONT':
        if (cmd.kind === 'set') {
          if (cmd.args[2] !== undefined) this.#apn = cmd.args[2];
          this.ok();
        } else if (cmd.kind === 'read') {
          this.line(`+CGDCONT: 1,"IP","${this.#apn}","0.0.0.0",0,0,0,0`);
          this.ok();
        } else this.ok();
        return true;
      case '+CGNAPN':
        if (!this.registered) this.line('+CGNAPN: 0,""');
        else this.line(`+CGNAPN: 1,"${this.options.networkApn ?? 'iot.example'}"`);
        this.ok();
        return true;
      case '+CNCFG':
        this.ok();
        return true;
      case '+CNACT':
        return this.#cnact(cmd);
      case '+CDNSGIP':
        return this.#dns(cmd);
      case '+CFSINIT':
      case '+CFSTERM':
        this.ok();
        return true;
      case '+CFSWFILE':
        return this.#cfswfile(cmd);
      case '+CSSLCFG':
        return this.#csslcfg(cmd);
      case '+SHSSL':
        if (cmd.kind !== 'set') return false;
        this.#sh.sslCtx = intArg(cmd, 0, 0, 5);
        this.#sh.caFile = cmd.args[1];
        if (this.#sh.sslCtx === undefined) this.error();
        else this.ok();
        return true;
      case '+SHCONF':
        return this.#shconf(cmd);
      case '+SHCONN':
        return this.#shconn();
      case '+SHSTATE':
        if (cmd.kind !== 'read') return false;
        this.line(`+SHSTATE: ${this.#sh.connected ? 1 : 0}`);
        this.ok();
        return true;
      case '+SHCHEAD':
        this.#sh.headers = [];
        this.ok();
        return true;
      case '+SHAHEAD':
        if (cmd.kind !== 'set' || cmd.args.length !== 2 || cmd.args[0].length + cmd.args[1].length > 350) return this.error(), true;
        this.#sh.headers.push([cmd.args[0], cmd.args[1]]);
        this.ok();
        return true;
      case '+SHBOD': {
        const len = intArg(cmd, 0, 0, this.#sh.bodyLen ?? 4096);
        if (len === undefined) return this.error(), true;
        this.out('\r\n> ');
        this.expectData(len, (bytes) => {
          this.#sh.body = bytes;
          this.ok();
        });
        return true;
      }
      case '+SHREQ':
        return this.#shreq(cmd);
      case '+SHREAD':
        return this.#shread(cmd);
      case '+SHDISC':
        if (!this.#sh.connected) return this.error(), true;
        this.#sh.connected = false;
        this.ok();
        return true;
      case '+CACID':
        if (intArg(cmd, 0, 0, 12) === undefined) return this.error(), true;
        this.#caCid = Number(cmd.args[0]);
        this.ok();
        return true;
      case '+CASSLCFG':
        return this.#casslcfg(cmd);
      case '+CAOPEN':
        return this.#caopen(cmd);
      case '+CASEND':
        return this.#casend(cmd);
      case '+CARECV':
        return this.#carecv(cmd);
      case '+CASTATE':
        if (cmd.kind !== 'read') return false;
        this.out('\r\n' + [...this.#ca].map(([cid, s]) => `+CASTATE: ${cid},${s.open ? 1 : 0}`).join('\r\n') + (this.#ca.size ? '\r\n' : ''));
        this.ok();
        return true;
      case '+CACLOSE': {
        const cid = intArg(cmd, 0, 0, 12);
        const s = cid === undefined ? undefined : this.#ca.get(cid);
        if (!s || !s.open) return this.error(), true;
        s.socket.close();
        this.dropPushed(s);
        this.#ca.delete(cid!);
        this.ok();
        return true;
      }
      default:
        return false;
    }
  }

  #cfun(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.line(`+CFUN: ${this.cfun}`);
      this.ok();
      return true;
    }
    if (cmd.kind !== 'set') return false;
    const fun = intArg(cmd, 0, 0, 4);
    const rst = cmd.args[1] === undefined ? 0 : intArg(cmd, 1, 0, 1);
    if (fun === undefined || ![0, 1, 4].includes(fun) || rst === undefined) return this.error(), true;
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

  #cnact(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.lines(this.#pdp.map((a, i) => `+CNACT: ${i},${a ? 1 : 0},"${a ? '10.94.36.44' : '0.0.0.0'}"`));
      this.ok();
      return true;
    }
    if (cmd.kind !== 'set') return false;
    const pdp = intArg(cmd, 0, 0, 3);
    const action = intArg(cmd, 1, 0, 2);
    if (pdp === undefined || action === undefined) return this.error(), true;
    if (action === 0) {
      const was = this.#pdp[pdp];
      if (was) {
        for (const s of this.#ca.values()) s.socket.close();
        this.#ca.clear();
        this.#sh.connected = false;
      }
      this.#pdp[pdp] = false;
      this.ok();
      if (was) this.later(300, () => this.line(`+APP PDP: ${pdp},DEACTIVE`));
      return true;
    }
    if (!this.registered || this.#pdp[pdp]) return this.error(), true;
    this.ok();
    // Bearer activation: ~1.2 s in the transcript (one radio procedure; TinyGSM allows 60 s).
    this.later(1200, () => {
      if (!this.registered) return;
      this.#pdp[pdp] = true;
      this.line(`+APP PDP: ${pdp},ACTIVE`);
    });
    return true;
  }

  #dns(cmd: AtCommand): boolean {
    if (cmd.kind !== 'set' || !cmd.args[0]) return this.error(), true;
    const host = cmd.args[0];
    this.ok();
    const target = this.resolve(host, 0);
    this.later(this.network.rttMs * 4, () => {
      if (!this.#pdp[0]) this.line('+CDNSGIP: 0,3');
      else if (!target) this.line('+CDNSGIP: 0,8');
      else this.line(`+CDNSGIP: 1,"${host}","${this.options.publicIp ?? '203.0.113.10'}"`);
    });
    return true;
  }

  #cfswfile(cmd: AtCommand): boolean {
    const size = intArg(cmd, 3, 1, 10240);
    if (cmd.kind !== 'set' || size === undefined || !cmd.args[1]) return this.error(), true;
    this.out('\r\nDOWNLOAD\r\n');
    this.expectData(size, (bytes) => {
      this.#files.set(cmd.args[1], bytes);
      this.#converted.delete(cmd.args[1]);
      this.ok();
    });
    return true;
  }

  #csslcfg(cmd: AtCommand): boolean {
    if (cmd.kind !== 'set') return cmd.kind === 'test' ? (this.ok(), true) : false;
    // TinyGSM: "despite docs using caps, sslversion/ctxindex/sni must be lower case" (§4.1).
    const key = cmd.args[0];
    if (key === 'convert') {
      // The module parses the file into its CA store: a missing file or one that holds no valid
      // certificate fails here (INF: the manual gives only OK/ERROR).
      const name = cmd.args[2] ?? '';
      if (!parseCaFile(this.#files.get(name))) return this.error(), true;
      this.#converted.add(name);
      return this.ok(), true;
    }
    const ctx = intArg(cmd, 1, 0, 5);
    if (ctx === undefined) return this.error(), true;
    const c = this.#sslCtx.get(ctx) ?? { version: 3 };
    switch (key) {
      case 'sslversion': {
        const v = intArg(cmd, 2, 0, 5);
        if (v === undefined) return this.error(), true;
        c.version = v;
        break;
      }
      case 'sni':
        c.sni = cmd.args[2];
        break;
      case 'ignorertctime':
      case 'ctxindex':
      case 'protocol':
      case 'ciphersuite':
      case 'cacert':
        break;
      default:
        return this.error(), true;
    }
    this.#sslCtx.set(ctx, c);
    this.ok();
    return true;
  }

  #shconf(cmd: AtCommand): boolean {
    if (cmd.kind === 'read') {
      this.lines([
        `+SHCONF: "URL","${this.#sh.urlText}"`,
        `+SHCONF: "BODYLEN",${this.#sh.bodyLen ?? 0}`,
        `+SHCONF: "HEADERLEN",${this.#sh.headerLen ?? 0}`,
      ]);
      this.ok();
      return true;
    }
    if (cmd.kind !== 'set') return false;
    const key = cmd.args[0]?.toUpperCase();
    const value = cmd.args[1] ?? '';
    switch (key) {
      case 'URL': {
        // "max is 64 bytes"; scheme and host[:port] only, the path goes in SHREQ (§4.1).
        let url: URL | undefined;
        try {
          url = new URL(value);
        } catch {
          url = undefined;
        }
        if (!url || value.length > 64 || !/^https?:$/.test(url.protocol) || (url.pathname !== '/' && url.pathname !== '')) return this.error(), true;
        this.#sh.url = url;
        this.#sh.urlText = value;
        break;
      }
      case 'BODYLEN': {
        const n = intArg(cmd, 1, 0, 4096);
        if (n === undefined) return this.error(), true;
        this.#sh.bodyLen = n;
        break;
      }
      case 'HEADERLEN': {
        const n = intArg(cmd, 1, 0, 350);
        if (n === undefined) return this.error(), true;
        this.#sh.headerLen = n;
        break;
      }
      case 'TIMEOUT':
      case 'POLLCNT':
      case 'POLLINTMS':
      case 'IPVER':
        break;
      default:
        return this.error(), true;
    }
    this.ok();
    return true;
  }

  /**
   * TLS for a connection to `host` verified against the converted CA file `name`; undefined when
   * there is none (strict: an empty name, "no verification", is refused).
   */
  #tlsParams(name: string | undefined, host: string): TlsParams | undefined {
    if (name === undefined || name === '' || !this.#converted.has(name)) return undefined;
    const ca = parseCaFile(this.#files.get(name));
    return ca && { ca, host };
  }

  #shconn(): boolean {
    const sh = this.#sh;
    // "Must set URL, BODYLEN, HEADERLEN" (§4.1).
    if (!sh.url || sh.bodyLen === undefined || sh.headerLen === undefined || sh.connected || !this.#pdp[0]) return this.error(), true;
    const tls = sh.url.protocol === 'https:';
    const port = Number(sh.url.port || (tls ? 443 : 80));
    const target = this.resolve(sh.url.hostname, port);
    const params = tls ? this.#tlsParams(sh.caFile, sh.url.hostname) : undefined;
    // SHCONN -> ERROR is the only failure signal for TLS problems (§4.1 [I-BOT200]).
    if (!target || (tls && (!params || sh.sslCtx === undefined))) {
      this.later(this.network.rttMs * 2, () => this.error());
      return true;
    }
    sh.tls = params;
    const m = this.network;
    const ms = m.rrcSetupMs + m.rttMs * (tls ? 3 : 1) + (tls ? m.tlsCryptoMs : 0);
    this.io(probe(target, params), (ok) => {
      this.later(ms, () => {
        if (!this.#pdp[0]) return this.error();
        if (!ok) return this.error();
        sh.connected = true;
        this.ok();
      });
    });
    return true;
  }

  #shreq(cmd: AtCommand): boolean {
    const sh = this.#sh;
    const type = intArg(cmd, 1, 1, 5);
    const path = cmd.args[0];
    // The manual's 512, or a lower firmware limit (`urlMax`), answered as a refused argument is: ERROR.
    if (cmd.kind !== 'set' || type === undefined || !path || path.length > Math.min(512, this.options.urlMax ?? 512) || !sh.connected || !sh.url) return this.error(), true;
    const method = SHREQ_METHODS[type] as FetchRequest['method'];
    this.ok();
    sh.response = undefined;
    this.counters.requests++;
    const injected = this.takeHttpActionError();
    if (injected !== undefined) {
      this.later(this.network.rttMs, () => this.line(`+SHREQ: "${method}",${injected},0`));
      return true;
    }
    const tls = sh.url.protocol === 'https:';
    const port = Number(sh.url.port || (tls ? 443 : 80));
    const target = this.resolve(sh.url.hostname, port);
    if (!target) {
      this.later(this.network.rttMs, () => this.line(`+SHREQ: "${method}",603,0`));
      return true;
    }
    const body = type === 2 || type === 3 || type === 4 ? sh.body : undefined;
    const req: FetchRequest = {
      method,
      host: sh.url.host,
      port,
      path,
      headers: sh.headers.slice(),
      body,
      bodyMax: this.options.shBodyMax ?? SH_BODY_MAX_DEFAULT,
    };
    this.io(fetchOnce(target, req, tls ? sh.tls : undefined), (r) => this.#shDone(method, r));
    return true;
  }

  #shDone(method: string, r: FetchResult): void {
    const m = this.network;
    const base = m.rttMs + m.rrcSetupMs;
    if (r.kind === 'dns') return this.later(base, () => this.line(`+SHREQ: "${method}",603,0`));
    if (r.kind === 'connect' || r.kind === 'reset' || r.kind === 'tls') return this.later(base, () => this.line(`+SHREQ: "${method}",601,0`));
    if (r.kind === 'too-large') {
      // The modem buffers the whole body; past its RAM: 602 No memory (stacx, §4.1).
      return this.later(base, () => this.line(`+SHREQ: "${method}",602,0`));
    }
    this.counters.netTxBytes += r.sentBytes;
    const payload = method === 'HEAD' ? r.head : r.body;
    const wire = r.head.length + r.body.length;
    const kept = this.netReceive(wire);
    const up = transferMs(r.sentBytes, m.uplinkBps);
    if (kept < wire) {
      // Link lost mid-body: the URC never comes; +SHSTATE: 0 and +APP PDP: 0,DEACTIVE do (INF).
      return this.later(base + up + transferMs(kept, m.downlinkBps), () => this.linkLost());
    }
    this.later(base + up + transferMs(wire, m.downlinkBps), () => {
      if (!this.#sh.connected) return;
      this.#sh.response = payload;
      this.line(`+SHREQ: "${method}",${r.status},${payload.length}`);
    });
  }

  #shread(cmd: AtCommand): boolean {
    const start = intArg(cmd, 0, 0, 307200);
    const len = intArg(cmd, 1, 1, 307200);
    const body = this.#sh.response;
    // "If <datalen> is bigger than the data size received, it's error" (§4.1).
    if (cmd.kind !== 'set' || start === undefined || len === undefined || !body || start + len > body.length) return this.error(), true;
    // OK comes BEFORE the data (§4.1 app note line order; transcript: ~5 ms gap).
    this.out('\r\nOK\r\n');
    this.later(5, () => {
      for (let off = start; off < start + len; off += SHREAD_BLOCK) {
        const n = Math.min(SHREAD_BLOCK, start + len - off);
        this.out(`\r\n+SHREAD: ${n}\r\n`);
        const keep = this.readBlock(n);
        this.out(body.subarray(off, off + keep));
        if (keep < n) break; // short read: no trailer, nothing more
        this.out('\r\n');
      }
      this.done();
    });
    return true;
  }

  #casslcfg(cmd: AtCommand): boolean {
    const cid = intArg(cmd, 0, 0, 12);
    if (cmd.kind !== 'set' || cid === undefined) return this.error(), true;
    const c = this.#caCfg.get(cid) ?? { ssl: false, crindex: 0, cacert: undefined };
    switch ((cmd.args[1] ?? '').toUpperCase()) {
      case 'SSL':
        c.ssl = cmd.args[2] === '1';
        break;
      case 'CRINDEX':
        c.crindex = Number(cmd.args[2]);
        break;
      case 'CACERT':
        c.cacert = cmd.args[2];
        break;
      case 'CLIENTCERT':
      case 'PROTOCOL':
        break;
      default:
        return this.error(), true;
    }
    this.#caCfg.set(cid, c);
    this.ok();
    return true;
  }

  #caopen(cmd: AtCommand): boolean {
    const cid = intArg(cmd, 0, 0, 12);
    const port = intArg(cmd, 4, 1, 65535);
    const recvMode = cmd.args[5] === undefined ? 0 : intArg(cmd, 5, 0, 1);
    if (cmd.kind !== 'set' || cid === undefined || port === undefined || recvMode === undefined || cmd.args[2]?.toUpperCase() !== 'TCP' || !cmd.args[3]) return this.error(), true;
    if (this.#ca.get(cid)?.open) return this.error(), true;
    if (recvMode === 1 && this.options.caRecvMode === 'error') return this.error(), true;
    const cfg = this.#caCfg.get(cid) ?? { ssl: false, crindex: 0, cacert: undefined };
    const result = (code: number, ms: number) =>
      this.later(ms, () => {
        // Transcript/TinyGSM order: +CAOPEN: <cid>,<result> then OK (§5.1: accept both).
        this.line(`+CAOPEN: ${cid},${code}`);
        this.ok();
      });
    const m = this.network;
    if (recvMode === 1 && this.options.caRecvMode === 'result') return result(4, 20), true; // parameter invalid
    if (!this.#pdp[Number(cmd.args[1]) || 0]) return result(21, 20), true; // network not active
    const target = this.resolve(cmd.args[3], port);
    if (!target) return result(20, m.rttMs * 4), true; // can't resolve host
    const params = cfg.ssl ? this.#tlsParams(cfg.cacert, cmd.args[3]) : undefined;
    // Strict TLS: without a CA the real module trusts everyone (§5.1); the simulator refuses.
    if (cfg.ssl && !params) return result(27, m.rttMs * 3), true;
    this.counters.requests++;
    const entry: CaSocket = { socket: undefined as unknown as SimSocket, ssl: cfg.ssl, open: false, buffer: [], buffered: 0, indicated: false, push: recvMode === 1, port };
    entry.socket = new SimSocket(
      this.time,
      () => this.network,
      {
        onData: (bytes) => this.#caData(cid, entry, bytes),
        onClose: () => {
          if (!entry.open || this.#ca.get(cid) !== entry) return;
          entry.open = false;
          // After the data still queued for the host (push mode), as on the wire.
          if (entry.push) this.pushOut(entry, [`\r\n+CASTATE: ${cid},0\r\n`]);
          else this.line(`+CASTATE: ${cid},0`);
        },
        onMqttSent: (type, at) => void this.counters.mqttSent.push({ type, at }),
      },
      this.options.socketQuietMs ?? 100,
      this.options.cloudWork,
      this.options.tlsTaps,
      this.options.tlsObserve,
    );
    const ms = m.rrcSetupMs + m.rttMs * (cfg.ssl ? 3 : 1) + (cfg.ssl ? m.tlsCryptoMs : 0);
    this.io(entry.socket.connect(target, params), (ok) => {
      this.later(ms, () => {
        if (!ok) return result(caopenResult(entry.socket.failure), 0);
        entry.open = true;
        this.#ca.set(cid, entry);
        this.line(`+CAOPEN: ${cid},0`);
        this.ok();
      });
    });
    return true;
  }

  #caData(cid: number, s: CaSocket, bytes: Uint8Array): void {
    if (!s.open || this.#ca.get(cid) !== s || this.power !== 'on') return;
    const kept = this.netReceive(bytes.length);
    if (kept > 0 && s.push) {
      // recv_mode 1: `+CAURC: "recv",<id>,<length>[,<ip>,<port>]\r\n<data>` (§5.1), in blocks of
      // at most the CARECV limit (block size INF: the manual does not state one).
      const address = this.options.caurcAddress ? `,"${this.options.publicIp ?? '203.0.113.10'}",${s.port}` : '';
      for (let off = 0; off < kept; off += CA_MAX) {
        const block = bytes.slice(off, Math.min(kept, off + CA_MAX));
        // The short-read fault: the block announces its length but carries fewer bytes.
        this.pushOut(s, [`\r\n+CAURC: "recv",${cid},${block.length}${address}\r\n`, block.subarray(0, this.readBlock(block.length))]);
      }
    } else if (kept > 0) {
      s.buffer.push(bytes.subarray(0, kept));
      s.buffered += kept;
      if (!s.indicated) {
        // recv_mode 0: "data waiting", no length; again only after the buffer was emptied (§5.1).
        s.indicated = true;
        this.line(`+CADATAIND: ${cid}`);
      }
    }
    if (kept < bytes.length) this.linkLost();
  }

  #casend(cmd: AtCommand): boolean {
    const cid = intArg(cmd, 0, 0, 12);
    const s = cid === undefined ? undefined : this.#ca.get(cid);
    if (cmd.kind === 'set' && cmd.args.length === 1 && s?.open) {
      this.line('+CASEND: 2048');
      this.ok();
      return true;
    }
    const len = intArg(cmd, 1, 1, CA_MAX);
    if (cmd.kind !== 'set' || !s || !s.open || len === undefined) return this.error(), true;
    // Zephyr: "an UNTERMINATED prompt '> '" (§2); then exactly len bytes, no Ctrl-Z.
    this.out('\r\n> ');
    this.expectData(len, (bytes) => {
      this.counters.netTxBytes += bytes.length;
      this.io(s.socket.send(bytes), () => undefined);
      this.later(transferMs(bytes.length, this.network.uplinkBps) + 20, () => this.ok());
    });
    return true;
  }

  #carecv(cmd: AtCommand): boolean {
    const cid = intArg(cmd, 0, 0, 12);
    const len = intArg(cmd, 1, 1, CA_MAX);
    const s = cid === undefined ? undefined : this.#ca.get(cid);
    if (cmd.kind !== 'set' || !s || len === undefined) return this.error(), true;
    const n = Math.min(len, s.buffered);
    const data = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = s.buffer[0];
      const take = Math.min(n - filled, head.length);
      data.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) s.buffer.shift();
      else s.buffer[0] = head.subarray(take);
    }
    s.buffered -= n;
    if (s.buffered === 0) s.indicated = false;
    // "+CARECV: <recvlen>,<data>" on one line (§5.1); trailer \r\nOK\r\n (INF, §11).
    this.out(`\r\n+CARECV: ${n},`);
    const keep = this.readBlock(n);
    this.out(data.subarray(0, keep));
    if (keep < n) return this.done(), true;
    this.ok();
    return true;
  }
}

/**
 * A connect (with the TLS handshake and checks when `tls`) to see whether the server is there and
 * acceptable: SHCONN connects before any request.
 */
async function probe(target: { host: string; port: number }, tls: TlsParams | undefined): Promise<boolean> {
  const opened = await openConnection(target, tls);
  if ('failure' in opened) return false;
  opened.socket.destroy();
  return true;
}

/** CAOPEN result for a failed open (§5.1): 23 remote refuse, 24 cert expired, 25 CN mismatch,
 * 26 both, 27 connect failed (an untrusted chain: INF, the manual has no code of its own for it). */
function caopenResult(failure: ConnectFailure | undefined): number {
  switch (failure) {
    case 'cert-expired':
      return 24;
    case 'cn-mismatch':
      return 25;
    case 'expired-and-mismatch':
      return 26;
    case 'untrusted':
      return 27;
    default:
      return 23;
  }
}
