/** ATR parsing: the SE051 ATR of the vectors, Nitrokey's SE050 ATR, and truncations of both. */
import assert from 'node:assert/strict';
import { parseAtr } from '../../../src/se/atr.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { isOtaError } from '../../../src/util/errors.js';
import { loadSeJson } from '../../support/se-vectors.js';

interface Facts {
  t1oi2c: { atr_examples: Record<string, string> };
}

describe('se/atr', () => {
  const examples = loadSeJson<Facts>('protocol_facts.json').t1oi2c.atr_examples;
  const se051 = unhex(Object.entries(examples).find(([k]) => k.startsWith('SE051'))![1].replace(/ /g, ''));
  const se050 = unhex(Object.entries(examples).find(([k]) => k.startsWith('SE050'))![1].replace(/ /g, ''));

  it('reads the SE051 ATR (NXP Plug&Trust log) as the vector annotates it', () => {
    const atr = parseAtr(se051);
    assert.deepEqual(
      { pver: atr.pver, vid: hex(atr.vendorId), bwt: atr.bwtMs, ifsc: atr.ifsc, mcf: atr.mcfKhz, mpot: atr.mpotMs, segt: atr.segtUs, wut: atr.wutUs, hb: hex(atr.historical) },
      { pver: 1, vid: 'a000000396', bwt: 1000, ifsc: 254, mcf: 1000, mpot: 1, segt: 100, wut: 5000, hb: '00655345303531000000' },
    );
  });

  it("reads Nitrokey's SE050 ATR (CONFIG 08, WUT 0)", () => {
    const atr = parseAtr(se050);
    assert.equal(atr.config, 8);
    assert.equal(atr.wutUs, 0);
    assert.equal(atr.ifsc, 254);
  });

  it('rejects every truncation with se-atr-invalid', () => {
    for (let n = 0; n < se051.length; n++) {
      assert.throws(() => parseAtr(se051.subarray(0, n)), (e) => isOtaError(e, 'se-atr-invalid'), `length ${n}`);
    }
  });

  it('rejects an IFSC above 254 or a BWT of 0', () => {
    const bad = se051.slice();
    bad[9] = 0x00;
    bad[10] = 0xff;
    assert.throws(() => parseAtr(bad), (e) => isOtaError(e, 'se-atr-invalid'));
    const zero = se051.slice();
    zero[7] = 0;
    zero[8] = 0;
    assert.throws(() => parseAtr(zero), (e) => isOtaError(e, 'se-atr-invalid'));
  });
});
