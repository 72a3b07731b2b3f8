/**
 * The AT framer (src/modem/at-parser.ts): whole lines, counted payloads, the inline `+CARECV`
 * header, prompts and the line limit, each with its input split at every offset (style rule 19).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { binaryHeaderLength } from '../../../src/modem/at-engine.js';
import { AtFramer } from '../../../src/modem/at-parser.js';
import { LIMITS } from '../../../src/modem/limits.js';
import { ascii } from './support.js';

type Ev = string;

/** Frames `chunks` the way the engine does (length headers from binaryHeaderLength). */
export function frame(chunks: Uint8Array[], options: { prompt?: boolean } = {}): Ev[] {
  const out: Ev[] = [];
  let payload: number[] = [];
  const framer: AtFramer = new AtFramer({
    onLine(line, length) {
      const text = String.fromCharCode(...line.subarray(0, length));
      out.push(`L:${text}`);
      const n = binaryHeaderLength(text);
      if (n > 0) framer.beginBinary(n);
    },
    onInlineHeader(n) {
      out.push(`I:${n}`);
      framer.beginBinary(n);
    },
    onBinary(chunk, last) {
      payload.push(...chunk);
      if (last) {
        out.push(`B:${String.fromCharCode(...payload)}`);
        payload = [];
      }
    },
    onPrompt() {
      out.push('P');
    },
    onOverflow() {
      out.push('X');
    },
  });
  if (options.prompt) framer.expectPrompt(true);
  for (const c of chunks) assert.equal(framer.push(c), c.length);
  return out;
}

function everySplit(text: string, expected: Ev[], options: { prompt?: boolean } = {}): void {
  const bytes = ascii(text);
  assert.deepEqual(frame([bytes], options), expected, 'whole');
  for (let i = 0; i <= bytes.length; i++) {
    assert.deepEqual(frame([bytes.subarray(0, i), bytes.subarray(i)], options), expected, `split at ${i}`);
  }
  assert.deepEqual(frame([...bytes].map((b) => new Uint8Array([b])), options), expected, 'byte by byte');
}

describe('modem/at-parser AtFramer', () => {
  it('frames echo, information lines and the final result, skipping empty lines', () => {
    everySplit('AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n', ['L:AT+CPIN?', 'L:+CPIN: READY', 'L:OK']);
  });

  it('reads a +SHREAD payload by count even when it holds OK, ERROR and headers (H7080 layout)', () => {
    const body = '\r\nOK\r\n+SHREAD: 3\r\nERROR';
    everySplit(`\r\nOK\r\n\r\n+SHREAD: ${body.length}\r\n${body}\r\n\r\n+APP PDP: 0,ACTIVE\r\n`, ['L:OK', `L:+SHREAD: ${body.length}`, `B:${body}`, 'L:+APP PDP: 0,ACTIVE']);
  });

  it('reads +HTTPREAD: DATA blocks and the closing +HTTPREAD: 0 (H7600 layout)', () => {
    everySplit('\r\nOK\r\n\r\n+HTTPREAD: DATA,4\r\nOK\r\n\r\n+HTTPREAD: 0\r\n', ['L:OK', 'L:+HTTPREAD: DATA,4', 'B:OK\r\n', 'L:+HTTPREAD: 0']);
  });

  it('reads the payload that follows +CARECV: <n>, on the same line (T7080 example)', () => {
    everySplit('\r\n+CARECV: 10,GET / HTTP\r\nOK\r\n', ['I:10', 'B:GET / HTTP', 'L:OK']);
  });

  it('reads +CIPRXGET: 2 and +CCHRECV: DATA payloads by count', () => {
    everySplit('\r\n+CIPRXGET: 2,0,3,0\r\nOK\r\nOK\r\n', ['L:+CIPRXGET: 2,0,3,0', 'B:OK\r', 'L:OK']);
    everySplit('\r\nOK\r\n\r\n+CCHRECV: DATA,0,2\r\n\r\n\r\n+CCHRECV: 0,0\r\n', ['L:OK', 'L:+CCHRECV: DATA,0,2', 'B:\r\n', 'L:+CCHRECV: 0,0']);
  });

  it('recognises the > prompt only when asked, and eats the space after it (Zephyr: "> ")', () => {
    everySplit('\r\n> ', ['P'], { prompt: true });
    everySplit('\r\n>\r\nOK\r\n', ['P', 'L:OK'], { prompt: true });
    everySplit('\r\n> x\r\n', ['L:> x']);
  });

  it('drops a line longer than LIMITS.atLineMax whole and frames the next one', () => {
    const long = 'A'.repeat(LIMITS.atLineMax + 5);
    assert.deepEqual(frame([ascii(`${long}\r\nOK\r\n`)]), ['X', 'L:OK']);
    const exact = 'B'.repeat(LIMITS.atLineMax);
    assert.deepEqual(frame([ascii(`${exact}\r\nOK\r\n`)]), [`L:${exact}`, 'L:OK']);
  });

  it('pauses on a consumer promise and resumes where it stopped', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const framer: AtFramer = new AtFramer({
      onLine: (l, n) => {
        const t = String.fromCharCode(...l.subarray(0, n));
        seen.push(t);
        const k = binaryHeaderLength(t);
        if (k > 0) framer.beginBinary(k);
      },
      onInlineHeader: () => undefined,
      onBinary: (c) => {
        seen.push(`B${c.length}`);
        return new Promise<void>((r) => (release = r));
      },
      onPrompt: () => undefined,
      onOverflow: () => undefined,
    });
    const bytes = ascii('+SHREAD: 2\r\nxy\r\nOK\r\n');
    const used = framer.push(bytes);
    assert.equal(used, 14);
    const wait = framer.takeWait();
    assert.ok(wait);
    release();
    await wait;
    assert.equal(framer.push(bytes.subarray(used)), bytes.length - used);
    assert.deepEqual(seen, ['+SHREAD: 2', 'B2', 'OK']);
  });

  it('binaryHeaderLength knows every SIMCom length header and nothing else', () => {
    assert.equal(binaryHeaderLength('+SHREAD: 2048'), 2048);
    assert.equal(binaryHeaderLength('+HTTPREAD: DATA,1024'), 1024);
    assert.equal(binaryHeaderLength('+HTTPREAD: 512'), 512); // A76xx form (MA76 16)
    assert.equal(binaryHeaderLength('+HTTPREAD: 0'), -1); // end of a read
    assert.equal(binaryHeaderLength('+HTTPREAD: LEN,100'), -1);
    assert.equal(binaryHeaderLength('+HTTPHEAD: DATA,438'), 438); // SIM7600G-H log (I-T7600-135)
    assert.equal(binaryHeaderLength('+HTTPHEAD: 438'), 438); // A76xx form (MA76 16)
    assert.equal(binaryHeaderLength('+CIPRXGET: 2,0,100,20'), 100);
    assert.equal(binaryHeaderLength('+CIPRXGET: 1,0'), -1);
    assert.equal(binaryHeaderLength('+CCHRECV: DATA,0,77'), 77);
    assert.equal(binaryHeaderLength('+CCHRECV: 0,0'), -1);
    assert.equal(binaryHeaderLength('+SHREAD: 99999999'), -1);
    assert.equal(binaryHeaderLength('+SHREAD: 1x'), -1);
    assert.equal(binaryHeaderLength('OK'), -1);
  });

  it('never throws and never loses sync on random bytes (seeded)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.integer({ min: 1, max: 64 }), (bytes, step) => {
        const chunks: Uint8Array[] = [];
        for (let i = 0; i < bytes.length; i += step) chunks.push(bytes.subarray(i, i + step));
        frame(chunks);
        // After any garbage, a CRLF then a response frames as such.
        const tail = frame([...chunks, ascii('\r\n'.repeat(1)), ascii('\r\nOK\r\n')]);
        return tail.length > 0;
      }),
      { seed: 0x5eed, numRuns: 500 },
    );
  });
});
