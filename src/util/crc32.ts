/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, init and final XOR 0xFFFFFFFF): the zlib /
 * PNG / Ethernet CRC, so a host tool can check the value with any zlib. Nibble table (16 words):
 * four times faster than bit by bit, 1/16 of the byte table's RAM on the device.
 */

const NIBBLE_TABLE = /* @__PURE__ */ (() => {
  const table = new Uint32Array(16);
  for (let n = 0; n < 16; n++) {
    let c = n;
    for (let k = 0; k < 4; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function step(crc: number, byte: number): number {
  crc ^= byte;
  crc = (crc >>> 4) ^ NIBBLE_TABLE[crc & 15];
  return (crc >>> 4) ^ NIBBLE_TABLE[crc & 15];
}

/** CRC-32 of `bytes`; pass a previous result as `crc` to continue over more bytes. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = step(c, bytes[i]);
  return ~c >>> 0;
}

/**
 * CRC-32 of an ASCII string's bytes (each char code is its byte). Throws RangeError on a
 * character above 0x7f: its UTF-8 bytes would differ from its code, and the CRC would lie.
 */
export function crc32Ascii(text: string, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) throw new RangeError(`crc32Ascii: non-ASCII character at ${i}`);
    c = step(c, code);
  }
  return ~c >>> 0;
}
