/**
 * CRC-16/X-25 (ISO/IEC 13239 FCS), the T=1-over-I2C frame check (UM11225 §3.1.1.4): polynomial
 * 0x1021 reflected (0x8408), init 0xFFFF, xorout 0xFFFF, over NAD, PCB, LEN and INF. It goes on the
 * wire least significant byte first (nano's phNxpEseProto7816_ComputeCRC; Nitrokey `to_le_bytes`).
 * Check value for "123456789": 0x906E.
 */

/** 256-entry table, built once at load (512 bytes). */
const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x8408 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-16/X-25 of `bytes[start..end)`. */
export function crc16X25(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ bytes[i]) & 0xff];
  return crc ^ 0xffff;
}
