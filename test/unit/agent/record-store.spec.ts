/**
 * The record store: records larger than one key-value value, split into parts, in two banks, so a
 * power cut at any write of a save leaves the previous record (or the new one), never garbage.
 * Runs on the device's value limit (255, SimKeyValue's default).
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32Ascii } from '../../../src/util/crc32.js';
import { RecordStore, seqNewer, SEQ_MODULUS } from '../../../src/agent/record-store.js';
import type { KeyValuePort } from '../../../src/platform/key-value.js';
import { OtaError } from '../../../src/util/errors.js';
import { SimKeyValue } from '../../../tools/devkit/parts/sim-key-value.js';

const MAX = 8470;
/** Printable ASCII text of `n` characters, different for each `seed`. */
const textOf = (n: number, seed = 0): string => {
  let out = '';
  for (let i = 0; i < n; i++) out += String.fromCharCode(0x21 + ((i * 7 + seed * 13 + (i >> 8)) % 94));
  return out;
};
const fresh = (kv: KeyValuePort) => new RecordStore(kv, 'rs', MAX).load();
const isOta = (reason: string) => (e: unknown) => e instanceof OtaError && e.reason === reason;

/** A store whose Nth write lands and then throws (the write committed, its completion was lost). */
class LateFailure implements KeyValuePort {
  constructor(readonly inner: SimKeyValue, public failAt: number | undefined) {}
  get maxValueLength() { return this.inner.maxValueLength; }
  read(key: string) { return this.inner.read(key); }
  delete(key: string) { this.inner.delete(key); }
  write(key: string, value: string) {
    this.inner.write(key, value);
    if (this.inner.writes === this.failAt) throw new Error('write reported failed after it landed');
  }
}

describe('record store', () => {
  /** Writes a valid bank by hand with sequence `seq` (a header from another firmware, or a corrupted one). */
  function plant(kv: SimKeyValue, bank: 'a' | 'b', seq: number | string, text: string): void {
    kv.write(`rs.${bank}.0`, text);
    kv.write(`rs.${bank}`, `R1 ${seq} 1 ${text.length} ${crc32Ascii(text).toString(16).padStart(8, '0')}`);
  }

  it('a header with sequence 9007199254740991 (the largest safe integer) does not make later saves unloadable', () => {
    const kv = new SimKeyValue();
    plant(kv, 'a', 9007199254740991, 'planted');
    const store = new RecordStore(kv, 'rs', MAX);
    assert.equal(store.load().text, 'planted');
    for (let i = 0; i < 4; i++) {
      store.save(`save ${i}`);
      const loaded = fresh(kv);
      assert.equal(loaded.text, `save ${i}`, `save ${i} loads`);
      assert.deepEqual(loaded.discarded, []);
    }
  });

  it('sequence numbers wrap modulo 2^32 in serial order, whichever bank holds the larger one', () => {
    assert.ok(seqNewer(0, SEQ_MODULUS - 1));
    assert.ok(seqNewer(5, 3) && !seqNewer(3, 5) && !seqNewer(4, 4));
    for (const start of [SEQ_MODULUS - 2, 2 ** 40, 0x7fff_ffff]) {
      const kv = new SimKeyValue();
      plant(kv, 'b', start, 'old');
      const store = new RecordStore(kv, 'rs', MAX);
      store.load();
      for (let i = 0; i < 5; i++) {
        store.save(`n${i}`);
        assert.equal(fresh(kv).text, `n${i}`, `start ${start}, save ${i}`);
      }
    }
  });

  it('runs on the device limit: 255-byte values', () => {
    const kv = new SimKeyValue();
    assert.equal(kv.maxValueLength, 255);
    assert.throws(() => kv.write('k', 'x'.repeat(256)), RangeError);
  });

  it('round-trips records of every part count, 0 bytes to the maximum, alternating banks', () => {
    const kv = new SimKeyValue();
    const store = new RecordStore(kv, 'rs', MAX);
    assert.equal(store.maxParts, Math.ceil(MAX / 255));
    const sizes = [0, 1, 254, 255, 256, 509, 510, 511, 1000, 2048 + 400, 4096, MAX - 1, MAX];
    let bank: string | undefined;
    sizes.forEach((size, i) => {
      const text = textOf(size, i);
      const before = kv.writes;
      const writes = store.save(text);
      assert.equal(writes, Math.ceil(size / 255) + 1, `writes of a ${size}-byte save`);
      assert.equal(kv.writes - before, writes);
      const loaded = fresh(kv);
      assert.equal(loaded.text, text, `${size} bytes`);
      assert.deepEqual(loaded.discarded, []);
      assert.notEqual(loaded.bank, bank, 'each save goes to the other bank');
      assert.equal(loaded.seq, i + 1);
      bank = loaded.bank;
    });
  });

  it('writes only the parts that differ from what the bank holds, and always the header', () => {
    const kv = new SimKeyValue();
    const store = new RecordStore(kv, 'rs', MAX);
    const base = textOf(2000, 1);
    assert.equal(store.save(base), 9);
    assert.equal(store.save(textOf(2000, 2)), 9);
    // Into bank a again, which holds `base`: only the last part changed.
    const edited = `${base.slice(0, 1999)}#`;
    assert.equal(store.save(edited), 2);
    assert.equal(store.totalWrites, 20);
    assert.equal(fresh(kv).text, edited);
  });

  it('loads nothing from an empty store, and saves first into bank a', () => {
    const kv = new SimKeyValue();
    assert.deepEqual(fresh(kv), { text: undefined, discarded: [] });
    new RecordStore(kv, 'rs', MAX).save('hello');
    assert.equal(kv.read('rs.a'), `R1 1 1 5 ${(0x3610a686).toString(16)}`);
    assert.equal(kv.read('rs.a.0'), 'hello');
  });

  it('refuses a record over the maximum, or not ASCII, with a typed error before any write', () => {
    const kv = new SimKeyValue();
    const store = new RecordStore(kv, 'rs', MAX);
    assert.throws(() => store.save('x'.repeat(MAX + 1)), isOta('limit-exceeded'));
    assert.throws(() => store.save('caf\u00e9'), isOta('invalid-argument'));
    assert.equal(kv.writes, 0);
    assert.throws(() => new RecordStore(new SimKeyValue({ maxValueLength: 20 }), 'rs', MAX), isOta('invalid-argument'));
  });

  describe('power cut at every write of a save', () => {
    const cases: [string, number, number][] = [
      ['first save ever (nothing before)', -1, 700],
      ['3 parts over 3 parts', 600, 700],
      ['1 part over 6 parts', 1400, 10],
      ['6 parts over 1 part', 10, 1400],
      ['max over max', MAX, MAX],
    ];
    for (const [name, oldSize, newSize] of cases) {
      it(`${name}: the old record, or the new one once its header landed`, () => {
        const newText = textOf(newSize, 2);
        const writesOfSave = Math.ceil(newSize / 255) + 1;
        for (let k = 1; k <= writesOfSave; k++) {
          for (const late of [false, true]) {
            const kv = new SimKeyValue();
            const port = new LateFailure(kv, undefined);
            const store = new RecordStore(port, 'rs', MAX);
            let oldText: string | undefined;
            if (oldSize >= 0) {
              // Two saves, so both banks hold something and the save under test overwrites a bank.
              store.save(textOf(Math.max(0, oldSize - 3), 9));
              oldText = textOf(oldSize, 1);
              store.save(oldText);
            }
            if (late) port.failAt = kv.writes + k;
            else kv.cutAtWrite = kv.writes + k;
            assert.throws(() => store.save(newText));
            const loaded = fresh(kv);
            // A cut before the header committed: the old record. The header write landed (late
            // failure at the last write): the new one. Never anything else, never nothing.
            const expected = late && k === writesOfSave ? newText : oldText;
            assert.equal(loaded.text, expected, `cut at write ${k} of ${writesOfSave} (${late ? 'landed' : 'lost'})`);
            // The same instance (no reload) keeps working: the next save is the newest record.
            store.save('after');
            assert.equal(fresh(kv).text, 'after');
          }
        }
      });
    }
  });

  describe('corrupt banks are ignored and say why', () => {
    /** Bank a holds the older record (seq 1), bank b the newer (seq 2). */
    const twoBanks = () => {
      const kv = new SimKeyValue();
      const store = new RecordStore(kv, 'rs', MAX);
      store.save(textOf(600, 1));
      store.save(textOf(700, 2));
      return kv;
    };
    const older = textOf(600, 1);
    const check = (damage: (kv: SimKeyValue) => void, why: RegExp) => {
      const kv = twoBanks();
      damage(kv);
      const loaded = fresh(kv);
      assert.equal(loaded.text, older, 'the other bank is used');
      assert.equal(loaded.bank, 'a');
      assert.equal(loaded.discarded.length, 1);
      assert.match(loaded.discarded[0], why);
    };
    const flip = (value: string, at: number) => value.slice(0, at) + String.fromCharCode(value.charCodeAt(at) ^ 1) + value.slice(at + 1);

    it('a flipped bit in a part: crc mismatch', () => check((kv) => kv.write('rs.b.1', flip(kv.read('rs.b.1')!, 100)), /^b: crc mismatch/));
    it('a truncated part', () => check((kv) => kv.write('rs.b.0', kv.read('rs.b.0')!.slice(0, 200)), /^b: part 0 is 200 bytes, expected 255/));
    it('an over-long last part', () => check((kv) => kv.write('rs.b.2', `${kv.read('rs.b.2')!}x`), /^b: part 2 is 191 bytes, expected 190/));
    it('a missing part', () => check((kv) => kv.delete('rs.b.2'), /^b: part 2 of 3 missing/));
    it('a wrong part count', () => check((kv) => kv.write('rs.b', kv.read('rs.b')!.replace(/^R1 2 3 /, 'R1 2 4 ')), /^b: part count 4 does not fit length 700/));
    it('a huge declared length', () => check((kv) => kv.write('rs.b', kv.read('rs.b')!.replace(/ 700 /, ' 99999999 ')), /^b: length 99999999 > 8470/));
    it('a malformed header', () => check((kv) => kv.write('rs.b', 'R1 2 3 700'), /^b: header malformed/));
    it('a header of another format', () => check((kv) => kv.write('rs.b', 'R2 2 3 700 00000000'), /^b: header malformed/));
    it('leading zeros or a sign in a number', () => check((kv) => kv.write('rs.b', kv.read('rs.b')!.replace(/^R1 2 /, 'R1 02 ')), /^b: header malformed/));
    it('a flipped bit in the CRC', () => check((kv) => kv.write('rs.b', flip(kv.read('rs.b')!, kv.read('rs.b')!.length - 1)), /^b: crc mismatch/));
    it('a header that cannot be read', () => {
      const kv = twoBanks();
      const port: KeyValuePort = { maxValueLength: 255, read: (k) => { if (k === 'rs.b') throw new Error('setting error'); return kv.read(k); }, write: () => undefined, delete: () => undefined };
      const loaded = new RecordStore(port, 'rs', MAX).load();
      assert.equal(loaded.text, older);
      assert.match(loaded.discarded[0], /^b: header unreadable: setting error/);
    });
    it('both banks corrupt: nothing, with both reasons', () => {
      const kv = twoBanks();
      kv.delete('rs.a.0');
      kv.write('rs.b', 'garbage');
      const loaded = fresh(kv);
      assert.equal(loaded.text, undefined);
      assert.equal(loaded.discarded.length, 2);
    });
    it('stale parts beyond the count are harmless', () => {
      const kv = twoBanks();
      const store = new RecordStore(kv, 'rs', MAX);
      store.load();
      store.save('short'); // into bank a, over 3 parts of the older record
      assert.ok(kv.read('rs.a.2') !== undefined, 'the stale part is still there');
      assert.deepEqual(fresh(kv), { text: 'short', bank: 'a', seq: 3, discarded: [] });
    });
  });

  it('property: interleaved saves and power cuts always load the last saved record, or an attempt after it', () => {
    const op = fc.record({ size: fc.integer({ min: 0, max: 3000 }), cut: fc.option(fc.nat(14), { nil: undefined }), landed: fc.boolean(), reboot: fc.boolean() });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 12 }), (ops) => {
        const kv = new SimKeyValue();
        const port = new LateFailure(kv, undefined);
        let store = new RecordStore(port, 'rs', MAX);
        let committed: string | undefined;
        let attempts: string[] = [];
        ops.forEach((o, i) => {
          if (o.reboot) {
            store = new RecordStore(port, 'rs', MAX);
            store.load();
          }
          const text = textOf(o.size, i);
          const writesOfSave = Math.ceil(o.size / 255) + 1;
          if (o.cut !== undefined && o.cut < writesOfSave) {
            if (o.landed) port.failAt = kv.writes + o.cut + 1;
            else kv.cutAtWrite = kv.writes + o.cut + 1;
            assert.throws(() => store.save(text));
            port.failAt = undefined;
            kv.cutAtWrite = undefined;
            attempts.push(text);
          } else {
            store.save(text);
            committed = text;
            attempts = [];
          }
          const loaded = fresh(kv).text;
          if (committed === undefined && attempts.length === 0) assert.equal(loaded, undefined);
          else assert.ok(loaded === committed || attempts.includes(loaded!), `op ${i}: loaded a record never saved`);
          if (committed !== undefined) assert.notEqual(loaded, undefined, 'never nothing once a record was saved');
        });
      }),
      { numRuns: 300 },
    );
  });
});
