/**
 * The modem simulator against the reference transcripts (test/fixtures/simcom-transcripts, copied
 * from ../shared/reference): the host side (TX, HW) is replayed at the transcript's instants (or
 * later, once the previous answer is complete), and what the simulator sends back must equal the
 * transcript's modem side (RX) byte for byte, segment by segment. Timings are modeled in both, so
 * only the order and the bytes are compared; the differences that remain are listed by name in
 * DIFFERENCES below.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startHttpLoopback } from '../../../tools/node/http-loopback.js';
import { createSimModem, type ModemModel, type SimModemKit } from '../../../tools/devkit/parts/sim-modem/index.js';
import { paddedCa } from '../../../tools/node/test-pki.js';
import { VirtualTime } from '../../../tools/devkit/parts/virtual-time.js';
import { vectorDir } from '../../support/paths.js';
import { makeImage, ScriptHost } from './sim-modem-host.js';

type Event =
  | { t: number; kind: 'TX' | 'RX'; bytes: Uint8Array }
  | { t: number; kind: 'HW'; press: boolean }
  | { t: number; kind: 'ACT'; name: string; run: (kit: SimModemKit) => void };

/** C escapes as the transcript format defines them: \r \n \" \\ \xNN. */
function unescapeC(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out.push(c.charCodeAt(0));
      continue;
    }
    const e = s[++i];
    if (e === 'r') out.push(13);
    else if (e === 'n') out.push(10);
    else if (e === 'x') {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(e.charCodeAt(0));
  }
  return Uint8Array.from(out);
}

function parseTranscript(text: string, sources: Record<string, Uint8Array>): Event[] {
  const events: Event[] = [];
  for (const raw of text.split('\n')) {
    const m = /^\s*(\d+\.\d+) (TX|RX|HW) (.*)$/.exec(raw);
    if (!m) continue;
    const t = Math.round(Number(m[1]) * 1000);
    const rest = m[3];
    if (m[2] === 'HW') {
      if (/PWRKEY driven low/.test(rest)) events.push({ t, kind: 'HW', press: true });
      else if (/PWRKEY released/.test(rest)) events.push({ t, kind: 'HW', press: false });
      continue;
    }
    const kind = m[2] as 'TX' | 'RX';
    const data = /^\{DATA (\d+) (\w+)\[(\d+)\.\.(\d+)\]\}/.exec(rest);
    if (data) {
      const src = sources[data[2]];
      const bytes = src.subarray(Number(data[3]), Number(data[4]) + 1);
      assert.equal(bytes.length, Number(data[1]));
      events.push({ t, kind, bytes });
      continue;
    }
    const q = /^"((?:[^"\\]|\\.)*)"/.exec(rest);
    assert.ok(q, `unparsed transcript line: ${raw}`);
    events.push({ t, kind, bytes: unescapeC(q[1]) });
  }
  // A held PWRKEY with "held X s" and no explicit release line would need one; all files have it.
  return events;
}

interface TranscriptSetup {
  model: ModemModel;
  imageSize: number;
  closeAtEof: boolean;
  /** Bring the modem to the transcript's starting state (the part it says it omits). */
  prepare?: (host: ScriptHost) => Promise<void>;
  /** Things the network does on its own at a transcript instant. */
  actions?: { t: number; name: string; run: (kit: SimModemKit) => void }[];
}

const SETUPS: Record<string, TranscriptSetup> = {
  'sim7080g-https-range-get.txt': { model: 'sim7080g', imageSize: 5000, closeAtEof: false },
  'sim7080g-tls-socket-resume.txt': {
    model: 'sim7080g',
    imageSize: 3000,
    closeAtEof: false,
    // "PDP bring-up is the same as in sim7080g-https-range-get.txt and is omitted".
    prepare: async (host) => {
      await host.cmd('ATE0');
      await host.cmd('AT+CNACT=0,1');
      await host.until(/\+APP PDP: 0,ACTIVE\r\n/);
      host.take();
    },
    // The bearer loss at 6.834 s is the network's doing: the test pulls the link there.
    actions: [{ t: 6834, name: 'network drops the bearer', run: (kit) => kit.modem.dropLink() }],
  },
  'sim7600-https-range-get.txt': { model: 'sim7600', imageSize: 3000, closeAtEof: true },
};

/**
 * Named differences between the simulator and the transcripts: none remain. (Timing is not
 * compared: the transcripts' timings are modeled estimates, the simulator's come from its own
 * latency and radio model, docs/modem-simulator.md.)
 */
const DIFFERENCES: Record<string, { name: string; expected: string; actual: string }[]> = {};

const show = (b: Uint8Array) => JSON.stringify(Buffer.from(b).toString('latin1'));

describe('sim-modem: reference transcripts', function () {
  this.timeout(60_000);
  const dir = vectorDir('XS_OTA_SIMCOM_TRANSCRIPTS', 'simcom-transcripts');
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt') && SETUPS[f]);

  it('covers the three reference transcripts', () => {
    assert.ok(files.length >= 3 || process.env.XS_OTA_SIMCOM_TRANSCRIPTS, `found ${files.join(', ')}`);
  });

  for (const file of files) {
    it(`answers ${file} as the transcript's modem does`, async () => {
      const setup = SETUPS[file];
      const image = makeImage(setup.imageSize, 7);
      // The transcript uploads a 1188-byte CA: the test CA, padded, so that TLS verifies.
      const events: Event[] = parseTranscript(readFileSync(path.join(dir, file), 'latin1'), { image, ca_pem: paddedCa(1188) });
      for (const a of setup.actions ?? []) events.push({ t: a.t, kind: 'ACT', name: a.name, run: a.run });
      events.sort((a, b) => a.t - b.t || (a.kind === 'ACT' ? -1 : 0) - (b.kind === 'ACT' ? -1 : 0));
      const server = await startHttpLoopback({ body: image, path: '/fw/app-1.2.3.bin', etag: false, closeAtEof: setup.closeAtEof });
      try {
        const time = new VirtualTime();
        const startsOff = events.some((e) => e.kind === 'HW');
        const kit = createSimModem(time, { model: setup.model, server: server.endpoint, poweredOn: !startsOff });
        const host = new ScriptHost(time, kit.serial);
        if (setup.prepare) await setup.prepare(host);
        const t0 = time.now();
        let compared = 0;
        // Segments: one host action (TX, HW, ACT) and the modem bytes that follow it.
        let i = 0;
        let expectedBefore: Uint8Array[] = [];
        while (i < events.length && events[i].kind === 'RX') expectedBefore.push((events[i++] as { bytes: Uint8Array }).bytes);
        assert.equal(expectedBefore.length, 0, 'transcript starts with modem output');
        expectedBefore = [];
        while (i < events.length) {
          const action = events[i++];
          const expected: Uint8Array[] = [];
          while (i < events.length && events[i].kind === 'RX') expected.push((events[i++] as { bytes: Uint8Array }).bytes);
          const at = t0 + action.t;
          if (time.now() < at) {
            time.at(at, () => undefined);
            await time.runUntil(() => time.now() >= at);
          }
          if (action.kind === 'TX') host.write(action.bytes);
          else if (action.kind === 'HW') kit.powerKey.write(action.press ? 1 : 0);
          else if (action.kind === 'ACT') action.run(kit);
          const want = Buffer.concat(expected);
          compared += want.length;
          await time.runUntil(() => host.received >= want.length, { untilMs: time.now() + 60_000 });
          let got = host.take();
          let wantText = want.toString('latin1');
          let gotText = Buffer.from(got).toString('latin1');
          for (const d of DIFFERENCES[file] ?? []) {
            wantText = wantText.replace(d.expected, d.actual);
          }
          const label = action.kind === 'TX' ? show(action.bytes).slice(0, 60) : action.kind === 'ACT' ? action.name : `PWRKEY ${(action as { press: boolean }).press ? 'pressed' : 'released'}`;
          if (gotText !== wantText) {
            let d = 0;
            while (d < gotText.length && gotText[d] === wantText[d]) d++;
            assert.fail(`${file} @${action.t / 1000}s after ${label}: differs at byte ${d}\n  want ${JSON.stringify(wantText.slice(Math.max(0, d - 40), d + 60))}\n  got  ${JSON.stringify(gotText.slice(Math.max(0, d - 40), d + 60))}`);
          }
          got = new Uint8Array(0);
          gotText = '';
        }
        const total = events.reduce((n, e) => n + (e.kind === 'RX' ? e.bytes.length : 0), 0);
        assert.equal(compared, total);
        assert.ok(total > 3000, `compared ${total} bytes`);
        // Nothing more comes afterwards.
        await time.advance(5000);
        assert.equal(host.received, 0, `trailing output: ${show(host.take())}`);
      } finally {
        await server.close();
      }
    });
  }
});
