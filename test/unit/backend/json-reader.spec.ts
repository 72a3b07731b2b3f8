/**
 * The streaming JSON reader (src/backend/json-reader.ts): the same value as JSON.parse on every
 * valid body whatever the chunking, only the fields a pattern names, and on hostile input (random
 * bytes, mutated documents, bodies built to exhaust a parser) only a typed `backend-protocol`,
 * never a crash or a hang. Seeded fast-check runs, as the other fuzz specs.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JSON_DEPTH_MAX, JSON_ITEMS_MAX, JSON_NUMBER_MAX, JsonReader, type JsonKeep, type JsonReaderLimits } from '../../../src/backend/json-reader.js';
import { utf8Decode } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';

const SEED = 0x15ee;
const RUNS = 400;
const encoder = new TextEncoder();

/** Feed `bytes` in pieces cut at `cuts` (sorted offsets), then end. */
function read(bytes: Uint8Array, keep: JsonKeep = true, cuts: number[] = [], limits: Partial<JsonReaderLimits> = {}): unknown {
  const reader = new JsonReader(keep, limits);
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const to = Math.min(cut, bytes.length);
    if (to <= at) continue;
    reader.write(bytes, at, to);
    at = to;
  }
  reader.write(bytes.subarray(at));
  return reader.end();
}

function refused(run: () => unknown, detail?: RegExp): void {
  assert.throws(run, (e: unknown) => e instanceof OtaError && e.reason === 'backend-protocol' && (detail === undefined || detail.test(e.detail ?? '')));
}

/** What the reader must build for `value` under `keep` (the reference, on a parsed value). */
function prune(value: unknown, keep: JsonKeep): unknown {
  if (keep === true) return value;
  if (Array.isArray(keep)) {
    if (!Array.isArray(value)) return value !== null && typeof value === 'object' ? {} : value;
    return value.map((item) => prune(item, keep[0]));
  }
  if (Array.isArray(value)) return [];
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    if (Object.prototype.hasOwnProperty.call(keep, name)) Object.defineProperty(out, name, { value: prune(item, (keep as Record<string, JsonKeep>)[name]), writable: true, enumerable: true, configurable: true });
  }
  return out;
}

/** hawkBit's OpenAPI example deploymentBase (as test/unit/backend/hawkbit-ddi.spec.ts builds it), with pre-signed links. */
function openApiDeployment(): unknown {
  const presigned = (path: string) => `https://objects.example.com${path}?X-Amz-Security-Token=${'T'.repeat(1000)}&X-Amz-Signature=${'f'.repeat(64)}`;
  return {
    id: '8',
    deployment: {
      download: 'forced',
      update: 'forced',
      maintenanceWindow: 'available',
      chunks: ['jvm', 'os', 'bApp'].map((part, m) => ({
        part,
        version: `1.0.${75 + m}`,
        name: 'oneapp runtime',
        artifacts: ['binary.tgz', 'file.signature'].map((filename) => ({
          filename,
          hashes: { sha1: '986a1ade8b8a2f758ce951340cc5e21335cc2a00', md5: 'd04440e6533863247655ac5fd4345bcc', sha256: 'b3a04740a19e36057ccf258701922f3cd2f1a880536be53a3ca8d50f6b615975' },
          size: 13,
          _links: { download: { href: presigned(`/sm/${m}/${filename}`) }, 'download-http': { href: presigned(`/sm/${m}/${filename}`) }, md5sum: { href: presigned(`/sm/${m}/${filename}.MD5SUM`) }, 'md5sum-http': { href: presigned(`/sm/${m}/${filename}.MD5SUM`) } },
        })),
        metadata: [{ key: 'aMetadataKey', value: 'Metadata value as defined in software module' }],
      })),
    },
    actionHistory: { status: 'RUNNING', messages: ['Reboot', 'Write firmware', "Assignment initiated by user 'TestPrincipal'"] },
  };
}

const LINK: JsonKeep = { href: true };
const DEPLOYMENT_KEEP: JsonKeep = {
  id: true,
  deployment: { download: true, update: true, maintenanceWindow: true, chunks: [{ part: true, version: true, artifacts: [{ filename: true, size: true, hashes: { sha256: true }, _links: { download: LINK, 'download-http': LINK } }] }] },
};

/** IoTConnect's SDK bodies (discovery and sync answers, an OTA command), as test/unit/backend/iotconnect.spec.ts serves them. */
const IOTC_BODIES = [
  { d: { ec: 0, bu: 'https://discovery.example/api/v2.1/dsdk/cpId/abc/env/avnetpoc', log_mqtt: { hn: 'mqtt.example', un: 'u', pwd: '' }, pf: 'aws' }, status: 200, message: 'Success' },
  { d: { ec: 0, ct: 200, meta: { at: 2, df: 60, cd: 'XG4EOYE', gtw: null, edge: 0, pf: 0, hwv: '', swv: '', v: 2.1 }, has: { d: 0, attr: 1, set: 0, r: 0, ota: 1 }, p: { n: 'mqtt', h: 'poc-iotconnect-iothub-030-eu2.azure-devices.net', p: 8883, id: 'abc-dev42', un: 'poc-iotconnect/abc-dev42/?api-version=2018-06-30', pwd: '', topics: { c2d: 'devices/abc-dev42/messages/devicebound/#', rpt: 'devices/abc-dev42/messages/events/cd=XG4EOYE&v=2.1&mt=0' } } }, status: 200, message: 'Device info loaded successfully.' },
  { v: '2.1', ct: 1, cmd: 'ota', ack: 'f51f2e6d-0000-4000-8000-000000000000', sw: '1.2.0', hw: '1', urls: [{ url: 'https://files.example/fw/app.bin?sv=2020&sig=abc%2Bdef', fileName: 'app.bin', tg: '' }] },
];

describe('JsonReader', () => {
  it('gives JSON.parse\'s value for any JSON value, whatever the chunking and spacing (fuzz)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.boolean(), fc.array(fc.nat(4096), { maxLength: 12 }), (value, spaced, cuts) => {
        const text = spaced ? JSON.stringify(value, null, '\t ') : JSON.stringify(value);
        const bytes = encoder.encode(text);
        assert.deepStrictEqual(read(bytes, true, cuts), JSON.parse(text));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('gives JSON.parse\'s value for every 1-byte chunking of text with escapes, surrogates and multibyte UTF-8', () => {
    const text = JSON.stringify({ a: 'ünïcødé ✓ 𝄞 \u0000\u001f "\\/ \ud800 lone', 'b\n': [-0.5e-3, 1e21, 0, -0, 123456789012], c: { d: [true, false, null, {}, []] } });
    const bytes = encoder.encode(text);
    const every = Array.from({ length: bytes.length }, (_, i) => i);
    assert.deepStrictEqual(read(bytes, true, every), JSON.parse(text));
    assert.deepStrictEqual(read(encoder.encode('"\\ud83d\\ude00\\u00e9\\/"'), true, every), '\ud83d\ude00\u00e9/');
  });

  it('hawkBit\'s OpenAPI example and the IoTConnect SDK bodies: JSON.parse\'s fields, whole and by pattern', () => {
    const deployment = encoder.encode(JSON.stringify(openApiDeployment()));
    const parsed = JSON.parse(new TextDecoder().decode(deployment));
    assert.deepStrictEqual(read(deployment, true, [1000, 5000, 9000]), parsed);
    const kept = read(deployment, DEPLOYMENT_KEEP, [17, 4000]) as { deployment: { chunks: { artifacts: { _links: Record<string, { href: string }> }[] }[] }; actionHistory?: unknown };
    assert.deepStrictEqual(kept, prune(parsed, DEPLOYMENT_KEEP));
    assert.equal(kept.deployment.chunks[2].artifacts[1]._links['download-http'].href, parsed.deployment.chunks[2].artifacts[1]._links['download-http'].href);
    assert.equal(kept.actionHistory, undefined);
    assert.equal(kept.deployment.chunks[0].artifacts[0]._links.md5sum, undefined);
    const keptBytes = JSON.stringify(kept).length;
    // Two of the four links per artifact, and none of the rest: about half the body.
    assert.ok(keptBytes * 1.8 < deployment.length, `kept ${keptBytes} of ${deployment.length} bytes`);
    for (const body of IOTC_BODIES) {
      const bytes = encoder.encode(JSON.stringify(body));
      assert.deepStrictEqual(read(bytes, true, [3, 50]), JSON.parse(JSON.stringify(body)));
    }
  });

  it('keeps what a pattern names, for any value and pattern (fuzz against a pruned JSON.parse)', () => {
    const keepArb: fc.Arbitrary<JsonKeep> = fc.letrec<{ keep: JsonKeep }>((tie) => ({
      keep: fc.oneof(
        { depthSize: 'small' },
        fc.constant(true as const),
        fc.dictionary(fc.oneof(fc.constantFrom('a', 'b', 'id', '__proto__', 'toString'), fc.string({ maxLength: 3 })), tie('keep'), { maxKeys: 4 }),
        tie('keep').map((k) => [k] as const),
      ),
    })).keep;
    const valueArb = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.jsonValue({ maxDepth: 1 }),
        fc.dictionary(fc.constantFrom('a', 'b', 'id', '__proto__', 'toString', 'c'), tie('v'), { maxKeys: 5 }),
        fc.array(tie('v'), { maxLength: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(valueArb, keepArb, fc.array(fc.nat(512), { maxLength: 6 }), (value, keep, cuts) => {
        const text = JSON.stringify(value);
        if (text === undefined) return;
        assert.deepStrictEqual(read(encoder.encode(text), keep, cuts), prune(JSON.parse(text), keep));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('members named like inherited properties stay own members (frozen built-ins on the device)', () => {
    const value = read(encoder.encode('{"toString": 1, "__proto__": {"x": 2}, "constructor": [], "a": 1, "a": 2}')) as Record<string, unknown>;
    assert.deepStrictEqual(Object.keys(value), ['toString', '__proto__', 'constructor', 'a']);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(value.a, 2, 'a repeated name replaces, as in JSON.parse');
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, { x: 2 });
  });

  it('refuses what JSON.parse refuses, naming where (malformed bodies)', () => {
    const cases: [string, RegExp][] = [
      ['', /ends inside a value/],
      ['{"a": 1', /ends inside a value/],
      ['{"a" 1}', /byte 5 \(\$\.a\): expected :/],
      ['[1, 2,]', /expected a value/],
      ['{"a": 1,}', /expected a member name/],
      ['[01]', /bad number '01'/],
      ['[1.]', /bad number/],
      ['-', /bad number/],
      ['[tru]', /expected true/],
      ['nul', /ends inside a value/],
      ['"a\\x"', /bad escape/],
      ['"\\u12g4"', /bad \\u escape/],
      ['"a\nb"', /control character/],
      ['{} {}', /data after the value/],
      ["{'a': 1}", /expected a member name/],
      ['[1 2]', /expected , or \]/],
      ['NaN', /expected a value/],
    ];
    for (const [text, detail] of cases) {
      assert.throws(() => JSON.parse(text), SyntaxError, text);
      refused(() => read(encoder.encode(text)), detail);
    }
  });

  it('bounds what it builds: depth, kept strings, kept items, numbers; skipped parts cost nothing', () => {
    const deep = '['.repeat(JSON_DEPTH_MAX + 1) + ']'.repeat(JSON_DEPTH_MAX + 1);
    refused(() => read(encoder.encode(deep)), new RegExp(`nested deeper than ${JSON_DEPTH_MAX}`));
    refused(() => read(encoder.encode(deep), {}), /nested deeper/); // skipped or not
    assert.deepStrictEqual(read(encoder.encode('['.repeat(JSON_DEPTH_MAX) + ']'.repeat(JSON_DEPTH_MAX))), JSON.parse('['.repeat(JSON_DEPTH_MAX) + ']'.repeat(JSON_DEPTH_MAX)));

    refused(() => read(encoder.encode(JSON.stringify({ url: 'u'.repeat(101) })), true, [], { stringMax: 100 }), /\(\$\.url\): string over 100 characters/);
    assert.equal(read(encoder.encode(JSON.stringify('é'.repeat(100))), true, [], { stringMax: 100 }), 'é'.repeat(100));
    assert.deepStrictEqual(read(encoder.encode(JSON.stringify({ id: 'a', skip: 'x'.repeat(100_000), ['k'.repeat(5000)]: 1 })), { id: true }, [], { stringMax: 100 }), { id: 'a' });

    const many = JSON.stringify(Array.from({ length: JSON_ITEMS_MAX + 1 }, () => 0));
    refused(() => read(encoder.encode(many)), new RegExp(`\\(\\$\\[${JSON_ITEMS_MAX}\\]\\): more than ${JSON_ITEMS_MAX} items`));
    assert.deepStrictEqual(read(encoder.encode(JSON.stringify({ list: JSON.parse(many), id: 1 })), { id: true }), { id: 1 }, 'a skipped array is not counted');
    const members = JSON.stringify(Object.fromEntries(Array.from({ length: JSON_ITEMS_MAX + 1 }, (_, i) => [`m${i}`, i])));
    refused(() => read(encoder.encode(members)), /more than 64 members/);

    refused(() => read(encoder.encode(`[${'1'.repeat(JSON_NUMBER_MAX + 1)}]`)), /number over/);
    assert.equal(read(encoder.encode('1'.repeat(JSON_NUMBER_MAX))), Number('1'.repeat(JSON_NUMBER_MAX)));
  });

  it('on random bytes and mutated documents: a value only where JSON.parse gives one, else only backend-protocol (fuzz)', () => {
    const good = encoder.encode(JSON.stringify({ id: '8', deployment: { chunks: [{ version: '1.0', artifacts: [{ filename: 'a.bin', size: 10, _links: { download: { href: 'https://c.example/a' } } }] }] } }));
    const mutated = fc.tuple(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(good.length)).map(([edits, cut]) => {
      const bytes = good.slice(0, Math.max(1, cut));
      for (const [at, b] of edits) if (at < bytes.length) bytes[at] = b;
      return bytes;
    });
    const bytesArb = fc.oneof(fc.uint8Array({ maxLength: 256 }), mutated, fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', ':', ',', '1', '-', 'e', '.', 't', '\\', 'u', ' ') }).map((s) => encoder.encode(s)));
    fc.assert(
      fc.property(bytesArb, fc.array(fc.nat(256), { maxLength: 4 }), fc.boolean(), (bytes, cuts, filtered) => {
        let expected: unknown;
        let valid = true;
        try {
          expected = JSON.parse(utf8Decode(bytes));
        } catch {
          valid = false;
        }
        let got: unknown;
        try {
          got = read(bytes, filtered ? DEPLOYMENT_KEEP : true, cuts);
        } catch (error) {
          assert.ok(error instanceof OtaError, `untyped failure: ${String(error)}`);
          assert.equal(error.reason, 'backend-protocol');
          assert.ok(!valid || /nested deeper|string over|more than|number over/.test(error.detail ?? ''), `refused valid JSON: ${error.detail}`);
          return;
        }
        assert.ok(valid, `accepted what JSON.parse refuses: ${utf8Decode(bytes).slice(0, 80)}`);
        let utf8 = true;
        try {
          new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        } catch {
          utf8 = false;
        }
        if (utf8) assert.deepStrictEqual(got, filtered ? prune(expected, DEPLOYMENT_KEEP) : expected);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
