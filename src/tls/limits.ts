/**
 * TLS buffer limits, each with its reason. Past a limit the connection fails with a typed error;
 * no buffer grows.
 */
export const TLS_LIMITS = {
  /**
   * Plaintext fragment we ask the server for (RFC 6066 max_fragment_length value 3 = 2^11): one
   * record then fits the record buffer below; OpenSSL honours the extension in TLS 1.3.
   */
  maxFragment: 2048,
  /** Largest record accepted: 5-byte header + fragment + content type + 16-byte tag + slack for padding. */
  recordMax: 5 + 2048 + 256,
  /**
   * Largest handshake message (the server's Certificate: leaf + intermediates of 500-1000 bytes
   * each for P-256). A bigger chain is refused (`limit-exceeded`).
   */
  handshakeMessageMax: 6144,
  /**
   * Largest post-handshake message kept (KeyUpdate is 5 bytes; a NewSessionTicket larger than
   * this is skipped, not kept: no resumption). Replaces the handshake buffer once connected.
   */
  postHandshakeMax: 256,
  /**
   * Bytes of records held while the SE computes the ECDH (the server's encrypted flight arrives
   * with its ServerHello): the flight of a P-256 chain of two is 1.2-2.5 KB. More fails with
   * `limit-exceeded`.
   */
  pendingBytesMax: 2 * (5 + 2048 + 256),
  /** Certificates in the server's chain, leaf included. */
  chainMax: 4,
} as const;
