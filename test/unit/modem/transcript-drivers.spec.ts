/**
 * Drivers run against the modem side of each transcript: a responder answers every command the
 * driver sends with the modem bursts that followed the same command in the transcript, at the
 * transcript's relative times, and the run must reach the transcript's outcome (the image bytes).
 *
 * The transcripts are modelled from the manuals, not captured, and the drivers do not send exactly
 * the same commands. Every difference is a row of DIFFERENCES below: the command the driver sends,
 * the reply it gets, and the manual section (or driver practice) that makes the driver's choice
 * valid. A command that is neither in the transcript nor in the table fails the test.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import type { SimcomModem } from '../../../src/modem/modem.js';
import { Sim7080, sim7080ShHttp } from '../../../src/modem/sim7080.js';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import { download } from '../../../src/net/download.js';
import type { HttpClient } from '../../../src/net/http.js';
import { NativeHttpClient, SocketHttpClient } from '../../../src/net/modem-http.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { FakeSerial, ascii, readTranscript, transcriptDir, type TranscriptEvent } from './support.js';
import { CA_PEM, IMAGE } from './transcripts.spec.js';

interface Exchange {
  command: string;
  t: number;
  /** Modem bursts after the command, ms after it; `afterPayload` ones follow the payload. */
  replies: { dt: number; bytes: Uint8Array; afterPayload: boolean }[];
  used: boolean;
}

interface Difference {
  match: RegExp;
  /** Only while this holds (state of the replayed modem). */
  when?: (r: Responder) => boolean;
  /** Reply bursts, or `alias`: answer as the transcript answered a command matching it. */
  reply?: string[];
  alias?: RegExp;
  why: string;
}

/** Replies for the bring-up a transcript omits ("same as in sim7080g-https-range-get.txt"). */
const SIM7080_BOOT: Difference[] = [
  { match: /^AT$/, reply: ['\r\nOK\r\n'], why: 'bring-up omitted by the transcript; answers as in sim7080g-https-range-get.txt' },
  { match: /^ATE0$/, reply: ['\r\nOK\r\n'], why: 'bring-up omitted by the transcript' },
  { match: /^AT\+CMEE=1$/, reply: ['\r\nOK\r\n'], why: 'bring-up omitted by the transcript' },
  { match: /^AT\+CPIN\?$/, reply: ['\r\n+CPIN: READY\r\n\r\nOK\r\n'], why: 'bring-up omitted by the transcript' },
  { match: /^AT\+CEREG\?$/, reply: ['\r\n+CEREG: 0,1\r\n\r\nOK\r\n'], why: 'bring-up omitted; the driver re-checks registration after a bearer loss before AT+CNACT (simcom-at.md §3.2, stacx)' },
  { match: /^AT\+CSQ$/, reply: ['\r\n+CSQ: 17,99\r\n\r\nOK\r\n'], why: 'bring-up omitted by the transcript' },
];

const SIM7080_CA_UPLOAD: Difference[] = [
  { match: /^AT\+CGMR$/, reply: ['\r\nRevision:1951B16SIM7080\r\n\r\nOK\r\n'], why: 'the driver logs the firmware revision (simcom-at.md pitfall 8: firmware variance)' },
  { match: /^AT\+CFSINIT$/, reply: ['\r\nOK\r\n'], why: 'the transcript assumes ca.pem uploaded already (its header); the driver uploads it every boot: H7080 §5.2, F7080 AT+CFSINIT' },
  { match: /^AT\+CFSWFILE=3,"ca\.pem",0,1188,10000$/, reply: ['\r\nDOWNLOAD\r\n', '+PAYLOAD', '\r\nOK\r\n'], why: 'CA upload, H7080 §5.2: AT+CFSWFILE=3,<name>,0,<size ≤ 10240>,<ms> -> DOWNLOAD' },
  { match: /^AT\+CFSTERM$/, reply: ['\r\nOK\r\n'], why: 'CA upload, H7080 §5.2' },
  { match: /^AT\+CSSLCFG="convert",2,"ca\.pem"$/, reply: ['\r\nOK\r\n'], why: 'CA conversion, H7080 §5.2: AT+CSSLCFG="convert",2,<file>' },
];

/** `AT+HTTPHEAD`'s answer for a header block (simcom-at.md §4.2). */
function httpHead(block: string): string {
  return `\r\n+HTTPHEAD: DATA,${block.length}\r\n${block}\r\nOK\r\n`;
}

const DIFFERENCES: Record<string, Difference[]> = {
  'sim7080g-https-range-get.txt': [
    ...SIM7080_CA_UPLOAD,
    {
      match: /^AT\+CNACT\?$/,
      when: (r) => !r.said('+APP PDP: 0,ACTIVE'),
      reply: ['\r\n+CNACT: 0,0,"0.0.0.0"\r\n+CNACT: 1,0,"0.0.0.0"\r\n+CNACT: 2,0,"0.0.0.0"\r\n+CNACT: 3,0,"0.0.0.0"\r\n\r\nOK\r\n'],
      why: 'the driver reads the bearer state before activating it (M7080 AT+CNACT? read command; TinyGSM does the same)',
    },
  ],
  'sim7600-https-range-get.txt': [
    { match: /^AT\+CGMR$/, reply: ['\r\n+CGMR: LE20B04SIM7600G22\r\n\r\nOK\r\n'], why: 'the driver logs the firmware revision (simcom-at.md pitfall 8)' },
    {
      match: /^AT\+HTTPHEAD$/,
      reply: [httpHead('HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-2047/3000\r\nContent-Length: 2048\r\nETag: "a1"\r\n\r\n')],
      why: "the driver reads the first window's header block (Location, ETag, Retry-After, size: H7600 sequence, `+HTTPHEAD: DATA,<n>` as in the SIM7600G-H log); the transcript skips it",
    },
  ],
  'sim7080g-tls-socket-resume.txt': [
    ...SIM7080_BOOT,
    ...SIM7080_CA_UPLOAD,
    { match: /^AT\+CSSLCFG="sslversion",1,3$/, reply: ['\r\nOK\r\n'], why: 'set once per boot by the driver (M7080 CSSLCFG); the transcript repeats it per connection' },
    {
      match: /^AT\+CNACT\?$/,
      when: (r) => r.said('+APP PDP: 0,DEACTIVE'),
      reply: ['\r\n+CNACT: 0,0,"0.0.0.0"\r\n\r\nOK\r\n'],
      why: 'after +APP PDP: 0,DEACTIVE the driver reads the bearer state before re-activating (M7080 AT+CNACT?)',
    },
    { match: /^AT\+CNCFG=0,1,"iot\.example"$/, reply: ['\r\nOK\r\n'], why: 'the driver configures the APN before AT+CNACT=0,1 (M7080 AT+CNCFG; T7080 §5)' },
    { match: /^AT\+CASEND=0,\d+$/, alias: /^AT\+CASEND=0,/, why: 'the request head differs (Connection: close, no User-Agent): its length differs; fixed-length CASEND is binary-safe (M7080 12.2)' },
    { match: /^AT\+CARECV=0,1460$/, alias: /^AT\+CARECV=0,/, why: 'the driver asks for the maximum read length, 1460 (M7080 12.2 AT+CARECV readlen 1-1460); the modem answers with what it has' },
  ],
};

class Responder {
  readonly time: VirtualTime;
  readonly serial = new FakeSerial();
  readonly exchanges: Exchange[] = [];
  readonly unexpected: string[] = [];
  readonly differencesUsed = new Set<string>();
  readonly hostLines: string[] = [];
  readonly payloads: Uint8Array[] = [];
  #said = '';
  #pending = '';
  #payloadLeft = 0;
  #payload: number[] = [];
  #afterPayload: { dt: number; bytes: Uint8Array }[] = [];
  readyAt: number;

  constructor(time: VirtualTime, events: TranscriptEvent[], readonly differences: Difference[]) {
    this.time = time;
    let current: Exchange | undefined;
    let payloadSeen = false;
    for (const e of events) {
      if (e.dir === 'HW') continue;
      if (e.dir === 'TX') {
        const text = String.fromCharCode(...e.bytes);
        if (/^AT[^\r]*\r$/.test(text)) {
          current = { command: text.slice(0, -1), t: e.t, replies: [], used: false };
          this.exchanges.push(current);
          payloadSeen = false;
        } else {
          payloadSeen = true; // the payload sent at a prompt
          if (current) current.t = e.t;
        }
        continue;
      }
      if (!current) {
        // Modem output before any command (boot URCs): played at its own time.
        const bytes = e.bytes;
        time.at(e.t, () => this.#emit(bytes));
        continue;
      }
      current.replies.push({ dt: e.t - current.t, bytes: e.bytes, afterPayload: payloadSeen });
    }
    const answered = this.exchanges.find((x) => x.replies.length > 0);
    this.readyAt = answered ? answered.t - 100 : 0;
    this.serial.onWrite = (bytes) => this.#onHostBytes(bytes);
  }

  said(text: string): boolean {
    const last = Math.max(this.#said.lastIndexOf('+APP PDP: 0,ACTIVE'), this.#said.lastIndexOf('+APP PDP: 0,DEACTIVE'));
    return last >= 0 && this.#said.startsWith(text, last);
  }

  #emit(bytes: Uint8Array): void {
    this.#said += String.fromCharCode(...bytes.subarray(0, Math.min(bytes.length, 200)));
    if (this.#said.length > 4000) this.#said = this.#said.slice(-2000);
    this.serial.feed(bytes);
  }

  #onHostBytes(bytes: Uint8Array): void {
    for (const b of bytes) {
      if (this.#payloadLeft > 0) {
        this.#payload.push(b);
        if (--this.#payloadLeft === 0) {
          this.payloads.push(new Uint8Array(this.#payload));
          this.#payload = [];
          for (const r of this.#afterPayload) this.time.after(r.dt, () => this.#emit(r.bytes));
          this.#afterPayload = [];
        }
        continue;
      }
      if (b === 10) continue;
      if (b !== 13) {
        this.#pending += String.fromCharCode(b);
        continue;
      }
      const line = this.#pending;
      this.#pending = '';
      this.hostLines.push(line);
      this.#answer(line);
    }
  }

  #answer(command: string): void {
    if (this.time.now() < this.readyAt) return; // still booting: no answer at all
    // The transcripts run at 115200; a host probing at another rate (looking for the modem's rate
    // while it boots) sends what the modem sees as garbage.
    if (this.serial.baud !== 115_200) return;
    const diff = this.differences.find((d) => d.match.test(command) && (d.when?.(this) ?? true));
    let exchange: Exchange | undefined;
    const usable = (x: Exchange) => x.replies.length > 0;
    if (diff?.alias) {
      exchange = this.exchanges.find((x) => !x.used && diff.alias!.test(x.command) && usable(x)) ?? this.exchanges.filter((x) => diff.alias!.test(x.command) && usable(x)).pop();
    } else if (!diff) {
      exchange = this.exchanges.find((x) => !x.used && x.command === command && usable(x)) ?? this.exchanges.filter((x) => x.command === command && usable(x)).pop();
    }
    if (diff) this.differencesUsed.add(diff.why);
    const payloadLength = promptPayloadLength(command);
    if (exchange) {
      exchange.used = true;
      const before = exchange.replies.filter((r) => !r.afterPayload);
      const after = exchange.replies.filter((r) => r.afterPayload);
      for (const r of before) this.time.after(r.dt, () => this.#emit(r.bytes));
      if (payloadLength > 0) {
        this.#payloadLeft = payloadLength;
        const base = after.length > 0 ? after[0].dt - 1 : 0;
        this.#afterPayload = after.map((r) => ({ dt: Math.max(1, r.dt - base), bytes: r.bytes }));
      }
      return;
    }
    if (diff?.reply) {
      let dt = 10;
      const split = diff.reply.indexOf('+PAYLOAD');
      const before = split < 0 ? diff.reply : diff.reply.slice(0, split);
      for (const r of before) this.time.after((dt += 5), () => this.#emit(ascii(r)));
      if (split >= 0) {
        this.#payloadLeft = payloadLength;
        this.#afterPayload = diff.reply.slice(split + 1).map((r, i) => ({ dt: 10 + 5 * i, bytes: ascii(r) }));
      }
      return;
    }
    this.unexpected.push(command);
    this.time.after(10, () => this.#emit(ascii('\r\nERROR\r\n')));
  }
}

/** Bytes the modem takes after the prompt of `command` (per the manuals' syntax). */
function promptPayloadLength(command: string): number {
  let m = /^AT\+(?:CASEND|CCHSEND|CIPSEND)=\d+,(\d+)/.exec(command);
  if (m) return Number(m[1]);
  m = /^AT\+CCERTDOWN="[^"]*",(\d+)$/.exec(command);
  if (m) return Number(m[1]);
  m = /^AT\+CFSWFILE=\d+,"[^"]*",\d+,(\d+),\d+$/.exec(command);
  if (m) return Number(m[1]);
  m = /^AT\+(?:SHBOD|HTTPDATA)=(\d+),\d+$/.exec(command);
  if (m) return Number(m[1]);
  return 0;
}

async function run(file: string, make: (r: Responder, time: VirtualTime) => { modem: SimcomModem; client: HttpClient }, size: number) {
  const time = new VirtualTime();
  const events = readTranscript(path.join(transcriptDir(), file), { image: IMAGE, ca_pem: CA_PEM });
  const responder = new Responder(time, events, DIFFERENCES[file] ?? []);
  const { modem, client } = make(responder, time);
  const got = new Uint8Array(size);
  const result = await time.runFor(
    download({
      client,
      clock: time.clockPort(),
      identity: { url: 'https://updates.example.com/fw/app-1.2.3.bin', size },
      sink: {
        write: (offset, chunk) => {
          got.set(chunk, offset);
        },
        restart: () => {
          got.fill(0);
        },
      },
      backoffBaseMs: 500,
    }),
    { untilMs: 600_000 },
  );
  return { responder, modem, got, result };
}

const ports = (r: Responder, time: VirtualTime) => ({ serial: r.serial, clock: time.clockPort(), powerKey: { write: () => undefined } });

describe('modem transcripts: drivers against the modem side', () => {
  it('SIM7080G SH* Range windows (sim7080g-https-range-get.txt) download image[0..4999]', async () => {
    const { responder, got, result } = await run(
      'sim7080g-https-range-get.txt',
      (r, time) => {
        const modem = new Sim7080(ports(r, time), { caCert: CA_PEM, registrationPollMs: 4000 }, { shHttp: sim7080ShHttp({ window: 2048, readMax: 2048 }) });
        return { modem, client: new NativeHttpClient({ modem, clock: time.clockPort() }) };
      },
      5000,
    );
    assert.deepEqual(responder.unexpected, []);
    assert.deepEqual(got, IMAGE.subarray(0, 5000));
    assert.equal(result.restarts, 0);
    assert.deepEqual(responder.hostLines.filter((l) => l.startsWith('AT+SHAHEAD="Range"')), ['AT+SHAHEAD="Range","bytes=0-2047"', 'AT+SHAHEAD="Range","bytes=2048-4095"', 'AT+SHAHEAD="Range","bytes=4096-4999"']);
    assert.ok(responder.hostLines.includes('AT+SHSSL=1,"ca.pem"'), 'TLS verifies against the CA');
    assert.deepEqual([...responder.differencesUsed].length, DIFFERENCES['sim7080g-https-range-get.txt'].length);
  });

  it('SIM7600 HTTP* Range windows (sim7600-https-range-get.txt) download image[0..2999], retrying SIM busy', async () => {
    const { responder, got } = await run(
      'sim7600-https-range-get.txt',
      (r, time) => {
        const modem = new Sim7600(ports(r, time), { caCert: CA_PEM, apn: 'internet.example' }, { httpWindow: 2048, httpReadMax: 1024 });
        return { modem, client: new NativeHttpClient({ modem, clock: time.clockPort() }) };
      },
      3000,
    );
    assert.deepEqual(responder.unexpected, []);
    assert.deepEqual(got, IMAGE.subarray(0, 3000));
    assert.equal(responder.hostLines.filter((l) => l === 'AT+CPIN?').length, 2, 'SIM busy was retried');
    assert.ok(responder.hostLines.includes('AT+CSSLCFG="authmode",0,1'), 'server authentication on');
    assert.deepEqual(responder.payloads[0], CA_PEM, 'the CA went up at the > prompt');
  });

  it('SIM7080G CA* TLS socket (sim7080g-tls-socket-resume.txt) resumes at 2048 after the bearer drops', async () => {
    const { responder, got, result, modem } = await run(
      'sim7080g-tls-socket-resume.txt',
      (r, time) => {
        const modem = new Sim7080(ports(r, time), { caCert: CA_PEM, apn: 'iot.example' });
        // The transcript's host opens a connection per request and the link drops between them;
        // a kept connection would finish before the drop the transcript plays (its timeline).
        return { modem, client: new SocketHttpClient({ modem, clock: time.clockPort(), keepAlive: false }) };
      },
      3000,
    );
    assert.deepEqual(responder.unexpected, []);
    assert.deepEqual(got, IMAGE.subarray(0, 3000));
    assert.equal(result.restarts, 0, 'never from zero');
    const ranges = responder.payloads.map((p) => /Range: (bytes=\d+-\d+)/.exec(String.fromCharCode(...p))?.[1]).filter(Boolean);
    assert.equal(ranges[0], 'bytes=0-2999');
    assert.equal(ranges[ranges.length - 1], 'bytes=2048-2999');
    assert.ok(modem.counters.bearerLosses >= 1);
    assert.ok(responder.hostLines.includes('AT+CASSLCFG=0,"CACERT","ca.pem"'), 'TLS verifies against the CA');
  });
});
