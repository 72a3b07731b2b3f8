/** Failures talking to the A5000 secure element. */
export type SeReason =
  /** The SE kept NACKing its I2C address past the bounded retries (bus dead, SE hung). */
  | 'se-nack'
  /** A T=1 frame kept failing its CRC past the bounded retransmissions. */
  | 't1-crc'
  /** The SE broke T=1 rules (unexpected block, wrong sequence, bad length) past recovery. */
  | 't1-protocol'
  /** The SE asked for more waiting-time extensions than the bound allows. */
  | 't1-wtx-limit'
  /** RESYNCH and interface soft reset both failed: the link cannot be recovered. */
  | 't1-resync-failed'
  /** No answer within the block waiting time (BWT from the ATR, times the WTX multiplier). */
  | 't1-timeout'
  | 'se-atr-invalid'
  /** A status word with no more specific reason (the SW is in the detail and on SeStatusError). */
  | 'se-status'
  /** SW 6985 (conditions of use not satisfied): the object is absent or not usable this way. */
  | 'se-no-object'
  /** SW 6982 / 6986: security status or the object's policy forbids the command. */
  | 'se-denied'
  /** SW 6700 / 6A80 / 6984: the SE rejected the command's data. */
  | 'se-wrong-data'
  /** SW 6E00 / 6D00: class or instruction not supported (no applet selected). */
  | 'se-not-selected'
  /** An R-APDU that does not hold what the command must return (missing or odd TAG_1). */
  | 'se-response-malformed'
  /** The key object holds something other than a P-256 public key. */
  | 'se-key-mismatch';
