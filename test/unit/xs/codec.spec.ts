/**
 * The XS bridge's message codec (tools/xs/codec.ts), as Node runs it: JSON with byte blobs, the
 * same bytes whichever UTF-8 codec encoded them.
 */
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage } from '../../../tools/xs/codec.js';
import { utf8Encode } from '../../../src/util/bytes.js';

describe('XS bridge codec', () => {
  it('round-trips JSON values with Uint8Array blobs anywhere in them, and text beyond ASCII', () => {
    const value = { op: 'flash.write', args: { offset: 4096, bytes: new Uint8Array([1, 2, 3]), list: [new Uint8Array(0), 'é ✓ 𝄞', null, 7] } };
    assert.deepEqual(decodeMessage(encodeMessage(value)), value);
    assert.equal(decodeMessage(encodeMessage(undefined)), null);
  });

  it('writes the JSON as src/util/bytes utf8Encode does (the format both sides read)', () => {
    const message = encodeMessage({ text: 'naïve 𝄞 \ud800' });
    const json = JSON.stringify({ text: 'naïve 𝄞 \ud800' });
    const length = new DataView(message.buffer).getUint32(0, true);
    assert.deepEqual(message.subarray(4, 4 + length), utf8Encode(json));
  });

  it('a blob reference without its blob is an error, with or without other blobs', () => {
    const forged = (json: string): Uint8Array => {
      const text = utf8Encode(json);
      const out = new Uint8Array(4 + text.length);
      new DataView(out.buffer).setUint32(0, text.length, true);
      out.set(text, 4);
      return out;
    };
    assert.throws(() => decodeMessage(forged('{"value":{"$b":0}}')), /no blob 0/);
    assert.deepEqual(decodeMessage(forged('{"value":{"$b":0,"x":1}}')), { value: { $b: 0, x: 1 } });
    assert.throws(() => decodeMessage(new Uint8Array([9, 0, 0, 0])), /JSON runs past the end/);
  });
});
