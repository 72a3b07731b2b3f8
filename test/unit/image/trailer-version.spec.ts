/** Trailer codec (against the vector set's padded images) and the version policy. */
import assert from 'node:assert/strict';
import { decodeSwapState, SWAP_TYPE, swapTypeFor, trailerSize, type SwapState } from '../../../src/image/trailer.js';
import { checkVersionPolicy, compareVersions, formatVersion, parseVersion } from '../../../src/image/version.js';
import { OtaError } from '../../../src/util/errors.js';
import { unhex } from '../../../src/util/bytes.js';
import { loadMcubootVectors, vectorBytes } from '../../support/mcuboot-vectors.js';

const set = loadMcubootVectors();
const erased: SwapState = { magic: 'unset', swapType: SWAP_TYPE.NONE, imageNum: 0, copyDone: 'unset', imageOk: 'unset' };

describe('image/trailer', () => {
  it('trailer size is 3120 for 128 sectors, align 8 (README)', () => {
    assert.equal(trailerSize(), 3120);
    assert.equal(trailerSize(128, 8), set.vectors.length ? 3120 : 0);
  });

  for (const v of set.vectors.filter((x) => x.trailer)) {
    it(`${v.file}: decodes as vectors.json records and gives the harness's swap type`, () => {
      const bytes = vectorBytes(set, v.file);
      const s = decodeSwapState(bytes.subarray(bytes.length - 48));
      assert.equal(s.magic, v.trailer!.magic_present ? 'good' : 'unset');
      assert.equal(s.imageOk, v.trailer!.image_ok === '0x01' ? 'set' : 'unset');
      assert.equal(s.copyDone, 'unset');
      assert.equal(swapTypeFor(erased, s), v.trailer!.image_ok === '0x01' ? SWAP_TYPE.PERM : SWAP_TYPE.TEST);
    });
  }

  it('swap table: revert for a swapped-in, unconfirmed primary, whatever the secondary magic (boot_swap_tables BOOT_MAGIC_ANY)', () => {
    const swapped: SwapState = { magic: 'good', swapType: SWAP_TYPE.TEST, imageNum: 0, copyDone: 'set', imageOk: 'unset' };
    assert.equal(swapTypeFor(swapped, erased), SWAP_TYPE.REVERT);
    assert.equal(swapTypeFor({ ...swapped, imageOk: 'set' }, erased), SWAP_TYPE.NONE);
    assert.equal(swapTypeFor({ ...swapped, copyDone: 'unset' }, erased), SWAP_TYPE.NONE);
    assert.equal(swapTypeFor(swapped, { ...erased, magic: 'bad' }), SWAP_TYPE.REVERT);
    // A good secondary matches the TEST/PERM rows first.
    assert.equal(swapTypeFor(swapped, { ...erased, magic: 'good' }), SWAP_TYPE.TEST);
    assert.equal(swapTypeFor(erased, erased), SWAP_TYPE.NONE);
  });

  it('bad magic and non-0x01 flags decode as bad; out-of-range swap_info as NONE', () => {
    const t = unhex('ffffffffffffffff07ffffffffffffff02ffffffffffffff00ffffffffffffff77c295f360d2ef7f3552500f2cb67981');
    const s = decodeSwapState(t);
    assert.deepEqual(s, { magic: 'bad', swapType: SWAP_TYPE.NONE, imageNum: 0, copyDone: 'bad', imageOk: 'bad' });
  });
});

describe('image/version', () => {
  it('orders by major, minor, revision, then build', () => {
    const v = parseVersion;
    assert.equal(compareVersions(v('1.2.3+4'), v('1.2.3+5')), -1);
    assert.equal(compareVersions(v('1.2.3+4'), v('1.2.3+5'), false), 0);
    assert.equal(compareVersions(v('1.10.0'), v('1.9.9+99')), 1);
    assert.equal(compareVersions(v('2'), v('1.255.65535+4294967295')), 1);
    assert.equal(formatVersion(v('1.2.4')), '1.2.4+0');
    assert.throws(() => v('1.256.0'), OtaError);
    assert.throws(() => v('1.2.3-rc1'), OtaError);
  });

  it('policy: downgrade and same version refused unless allowed; SEC_CNT floor always', () => {
    const run = parseVersion('1.2.3+4');
    const reason = (fn: () => void) => {
      try {
        fn();
        return 'ok';
      } catch (e) {
        return (e as OtaError).reason;
      }
    };
    assert.equal(reason(() => checkVersionPolicy({ version: parseVersion('1.2.4') }, run)), 'ok');
    assert.equal(reason(() => checkVersionPolicy({ version: parseVersion('1.2.3+3') }, run)), 'downgrade');
    assert.equal(reason(() => checkVersionPolicy({ version: parseVersion('1.2.3+3') }, run, { allowDowngrade: true })), 'ok');
    assert.equal(reason(() => checkVersionPolicy({ version: run }, run)), 'same-version');
    assert.equal(reason(() => checkVersionPolicy({ version: run }, run, { allowSameVersion: true })), 'ok');
    assert.equal(reason(() => checkVersionPolicy({ version: parseVersion('2.0.0'), securityCounter: 6 }, run, { minSecurityCounter: 7 })), 'security-counter-rollback');
    assert.equal(reason(() => checkVersionPolicy({ version: parseVersion('1.0.0'), securityCounter: 7 }, run, { minSecurityCounter: 7, allowDowngrade: true })), 'ok');
    assert.equal(reason(() => checkVersionPolicy({ version: parseVersion('2.0.0') }, run, { minSecurityCounter: 1 })), 'security-counter-rollback');
  });
});
