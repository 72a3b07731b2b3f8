/**
 * The modelled SIMCom transcripts (test/fixtures/simcom-transcripts, from the shared reference):
 * every modem burst fed to the AT engine's framer must parse exactly: the lines, the payload
 * lengths and the payload bytes, whatever the split of the stream into reads.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import fc from 'fast-check';
import { frame } from './at-parser.spec.js';
import { readTranscript, testImage, transcriptFiles, type TranscriptEvent } from './support.js';

export const IMAGE = testImage(8192, 42);
export const CA_PEM = testImage(1188, 9);

/** The modem side of a transcript as one byte stream. */
function rxStream(events: TranscriptEvent[]): Uint8Array {
  const parts = events.filter((e) => e.dir === 'RX').map((e) => (e as { bytes: Uint8Array }).bytes);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * What the transcript says the stream holds, read from its structure rather than by the framer:
 * quoted text splits into lines at CR/LF; a `+SHREAD: n`-style line or a `+CARECV: n,` prefix
 * makes the next n bytes payload (simcom-at.md §2).
 */
function expectedFrames(events: TranscriptEvent[]): string[] {
  const out: string[] = [];
  let line = '';
  let remaining = 0;
  let payload = '';
  // A header line ends in CRLF: the LF after its CR belongs to the line, not to the payload.
  let skipLf = false;
  for (const e of events) {
    if (e.dir !== 'RX') continue;
    for (const b of e.bytes) {
      if (remaining > 0) {
        if (skipLf) {
          skipLf = false;
          if (b === 10) continue;
        }
        payload += String.fromCharCode(b);
        if (--remaining === 0) {
          out.push(`B:${payload}`);
          payload = '';
        }
        continue;
      }
      if (b === 13 || b === 10) {
        if (line !== '') {
          out.push(`L:${line}`);
          const m = /^\+(?:SHREAD: |HTTPREAD: DATA,)(\d+)$/.exec(line);
          if (m) {
            remaining = Number(m[1]);
            skipLf = b === 13;
          }
        }
        line = '';
        continue;
      }
      line += String.fromCharCode(b);
      const c = /^\+CARECV: (\d+),$/.exec(line);
      if (c) {
        out.push(`I:${c[1]}`);
        remaining = Number(c[1]);
        line = '';
      }
    }
  }
  return out;
}

describe('modem transcripts: modem bursts through the AT framer', () => {
  for (const file of transcriptFiles()) {
    const name = path.basename(file);
    describe(name, () => {
      const events = readTranscript(file, { image: IMAGE, ca_pem: CA_PEM });
      const stream = rxStream(events);
      const expected = expectedFrames(events);

      it('parses into the lines and payloads the transcript holds', () => {
        assert.deepEqual(frame([stream]), expected);
        // Every DATA block of the transcript is inside some payload, whole.
        const payloads = expected.filter((f) => f.startsWith('B:')).join('');
        for (const e of events) {
          if (e.dir === 'RX' && 'data' in e && e.data) assert.ok(payloads.includes(String.fromCharCode(...e.bytes)), `payload ${e.data.src}[${e.data.from}..${e.data.to}]`);
        }
        // No result line came out of a payload: the OK lines are exactly the quoted ones.
        const quoted = events.filter((e) => e.dir === 'RX' && !('data' in e && e.data)).map((e) => String.fromCharCode(...(e as { bytes: Uint8Array }).bytes)).join('');
        assert.equal(expected.filter((f) => f === 'L:OK').length, quoted.split('\r\nOK\r\n').length - 1);
      });

      it('parses the same split into reads of every size 1..64 and at every offset of the first 1500 bytes', () => {
        for (let step = 1; step <= 64; step++) {
          const chunks: Uint8Array[] = [];
          for (let i = 0; i < stream.length; i += step) chunks.push(stream.subarray(i, i + step));
          assert.deepEqual(frame(chunks), expected, `reads of ${step}`);
        }
        for (let i = 0; i < Math.min(1500, stream.length); i++) {
          assert.deepEqual(frame([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
        }
      });

      it('parses the same under seeded random splits', () => {
        fc.assert(
          fc.property(fc.array(fc.integer({ min: 0, max: stream.length }), { maxLength: 40 }), (cuts) => {
            const points = [...new Set(cuts)].sort((a, b) => a - b);
            const chunks: Uint8Array[] = [];
            let last = 0;
            for (const p of points) {
              chunks.push(stream.subarray(last, p));
              last = p;
            }
            chunks.push(stream.subarray(last));
            assert.deepEqual(frame(chunks), expected);
          }),
          { seed: 0x7a5c, numRuns: 100 },
        );
      });
    });
  }
});

