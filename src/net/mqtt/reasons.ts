/** Failures of the MQTT 3.1.1 client (src/net/mqtt). */
export type MqttReason =
  /** The peer sent bytes that break an MQTT 3.1.1 rule; the detail cites the clause. */
  | 'mqtt-malformed'
  /** A packet larger than MQTT_LIMITS.maxPacketSize (the connection is closed, nothing is kept). */
  | 'mqtt-too-large'
  /** A well-formed packet the client did not expect now (a PUBACK for no publish, QoS 2). */
  | 'mqtt-protocol'
  /** CONNACK with a non-zero return code (MQTT 3.1.1 §3.2.2.3); the detail names it. */
  | 'mqtt-refused'
  /** SUBACK returned 0x80 (failure) for a topic filter (§3.9.3). */
  | 'mqtt-subscribe-refused';
