/**
 * Options, fault knobs and counters of the simulated SIMCom modem.
 */
import type { CloudWork } from '../../../node/cloud-work.js';
import type { TlsTaps } from '../mqtt-tls-tap.js';
import type { EcdhFor } from '../tls13-observer.js';

export type ModemModel = 'sim7080g' | 'sim7600';

/**
 * Radio link model, per request: a request costs one RTT plus its bytes at the link rate; a TCP
 * connect one RTT; a TLS handshake two more RTTs plus `tlsCryptoMs`. Sources for the defaults in
 * docs/modem-simulator.md.
 */
export interface NetworkModel {
  /** Round trip time, ms. */
  rttMs: number;
  /** Downlink rate the modem sees, bits per second. */
  downlinkBps: number;
  /** Uplink rate, bits per second. */
  uplinkBps: number;
  /** Modem-side TLS handshake crypto time, ms (a slow Cortex-A7/M core doing ECDHE + RSA verify). */
  tlsCryptoMs: number;
  /** Extra first-packet delay when the radio must leave idle (RRC connection setup), ms. */
  rrcSetupMs: number;
}

/**
 * Faults, applied through `SimModem.faults` (or `setFaults`). Byte offsets count from the moment
 * the faults were set; one-shot knobs are deleted from the object when they fire, so a test can
 * see that they did.
 */
export interface SimModemFaults {
  /** Bearer lost after the modem has received this many payload bytes from the network: the
   * connection closes mid-body with the personality's URCs (SIM7080: `+SHSTATE: 0` /
   * `+CASTATE: <cid>,0` and `+APP PDP: 0,DEACTIVE`; SIM7600: `+HTTP_NONET_EVENT`,
   * `+CCH_PEER_CLOSED: <sid>`, `+IPCLOSE: <link>,1`, `+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY`). One-shot. */
  dropLinkAt?: number;
  /** Short read: the read block that crosses this payload offset (counted in payload bytes the
   * modem has sent to the host) announces its full length but sends only the bytes before the
   * offset and no trailer (field reports, simcom-at.md pitfall 4). One-shot. */
  truncateAt?: number;
  /** Insert `garbageBytes` noise bytes into the modem->host stream after this many bytes. One-shot
   * unless `garbageEvery` is set. */
  garbageAt?: number;
  /** Then again every this many bytes. */
  garbageEvery?: number;
  /** Noise bytes per injection (default 8). */
  garbageBytes?: number;
  /** The next `times` (default 1) commands whose name matches (e.g. `+SHREQ`, `+CPIN?`, `+CSQ`)
   * answer `+CME ERROR: <code>` (formatted per `AT+CMEE`). */
  cmeError?: { command: string; code: number; times?: number };
  /** The next HTTP action (`AT+SHREQ` / `AT+HTTPACTION`) reports this modem error code. One-shot. */
  httpActionError?: 602 | 706 | number;
  /** Every this many virtual ms, one harmless URC the driver must skip (SIM7080G: `*PSUTTZ`,
   * `DST: 0`, `+CGEV: ME PDN ACT 0`-style network noise; SIM7600: `+CTZV`, `+CGEV`), landing
   * between any two responses or between an `OK` and its data (simcom-at.md §10, pitfall 2). */
  urcEveryMs?: number;
  /** Spontaneous reboot at this virtual instant (ms): output cut, boot URCs, echo back on,
   * sessions and bearer gone. One-shot. */
  rebootAt?: number;
  /** From this virtual instant (ms) the modem answers nothing (no echo, no URCs) until the power
   * key turns it off and on again (field: "only removing power did", simcom-at.md pitfall 7). */
  stallAt?: number;
}

export interface SimModemCounters {
  /** UART bytes host -> modem. */
  uartToModemBytes: number;
  /** UART bytes modem -> host. */
  uartToHostBytes: number;
  /** Command lines executed. */
  commands: number;
  /** HTTP requests made by the built-in clients, plus socket connections opened. */
  requests: number;
  /** Payload bytes received from the network (bodies, socket data). */
  netRxBytes: number;
  /** Payload bytes sent to the network. */
  netTxBytes: number;
  /** Boots (power-on and resets). */
  boots: number;
  /** Virtual time now, ms (read it at the end of a run). */
  virtualMs: number;
  /**
   * MQTT control packets the device sent in plaintext over the modem's sockets (the modem's TLS,
   * not TLS in the agent), in order: type (§2.2.1: 1 CONNECT, 8 SUBSCRIBE, 12 PINGREQ, 14
   * DISCONNECT…) and virtual ms. The keep-alive as the network sees it.
   */
  mqttSent: { type: number; at: number }[];
}

/** Where the modem's connections go. */
export interface Endpoint {
  host: string;
  port: number;
}

/** Which connections a socket observes, and the device's ECDH for its key shares. */
export interface TlsObserve {
  ports: readonly number[];
  ecdhFor: EcdhFor;
  /** NewSessionTickets the listener sends after the client's Finished (OpenSSL's default: 2). */
  ticketsAfterFinished: number;
}

export interface SimModemOptions {
  model: ModemModel;
  /** Loopback server for every host name the modem resolves (unless `resolve` says otherwise). */
  server?: Endpoint;
  /** Name resolution: host name and port the device asked for -> loopback endpoint, or undefined
   * for a DNS failure. Default: everything goes to `server`. */
  resolve?: (host: string, port: number) => Endpoint | undefined;
  /** Radio model (defaults per model: Cat-M for SIM7080G, Cat-1 for SIM7600). */
  network?: Partial<NetworkModel>;
  /** Milliseconds from power-on to network registration (default 10 s SIM7080G, 15.5 s SIM7600). */
  registrationMs?: number;
  /** Registration result: 1 home, 5 roaming, 3 denied (never registers for data). */
  registrationStat?: 1 | 3 | 5;
  /** Signal as `+CSQ: <rssi>` once registered (default 17 / 22, as in the transcripts). */
  rssi?: number;
  /** APN the network hands out (`AT+CGNAPN`). */
  networkApn?: string;
  /** Files already in the modem's file system / certificate store (name -> bytes; on the
   * SIM7080G already converted). Default: SIM7080G `ca.pem` = the dev kit's test CA
   * (tools/node/test-pki), as the transcripts assume it was uploaded earlier; SIM7600 none. */
  files?: Record<string, Uint8Array>;
  /** Largest body `AT+SHREQ` buffers; above it `+SHREQ: "GET",602,0` (stacx: ~40 kB). */
  shBodyMax?: number;
  /**
   * The built-in HTTP client's URL limit of this firmware, characters: a longer SIM7600
   * `AT+HTTPPARA="URL"` value, or SIM7080G `AT+SHREQ` path, answers `ERROR` (the manuals state no
   * limit for the SIM7600 URL and 512 for the SHREQ path; a real firmware may take fewer).
   * Default: none (SIM7600) / 512 (SIM7080G).
   */
  urlMax?: number;
  /** Largest body the SIM7600 HTTP client buffers; above it `+HTTPACTION: 0,706,0`. */
  httpBodyMax?: number;
  /** Auto-baud on the SIM7080G (factory `+IPR: 0`): true unless a fixed rate is saved. */
  ipr?: number;
  /** Real milliseconds the socket stack waits for more data from the loopback server after the
   * last byte, when it cannot tell that a response is complete (see docs). */
  socketQuietMs?: number;
  /**
   * What the cloud double behind the broker still owes the device (tools/node/cloud-work.ts):
   * MQTT waits then end on counts, never on real silence. Absent: the quiet window.
   */
  cloudWork?: CloudWork;
  /**
   * The dev kit's MQTT TLS taps (tools/devkit/parts/mqtt-tls-tap.ts): a socket to one of them (TLS in
   * the agent) waits on the tap's counts instead of real silence.
   */
  tlsTaps?: TlsTaps;
  /**
   * TLS in the agent to a listener nothing in the dev kit terminates (mosquitto's own): a socket
   * to one of `ports` reads its records with the device's key (tools/devkit/parts/tls13-observer.ts)
   * and waits on the MQTT inside.
   */
  tlsObserve?: TlsObserve;
  /** The server address the modem reports (`+CDNSGIP`, `RECV FROM:`); loopback is hidden
   * behind it (default 203.0.113.10, TEST-NET-3, as in the transcript). */
  publicIp?: string;
  /**
   * SIM7080G `AT+CAOPEN=...,<recv_mode>` (simcom-at.md §5.1): by default recv_mode 1 is accepted
   * and received data is pushed as `+CAURC: "recv",<cid>,<n>` + n bytes. TinyGSM found "including
   * the <recv_mode> fails" on some firmware: 'error' answers `ERROR`, 'result' answers
   * `+CAOPEN: <cid>,4` (parameter invalid) and `OK`.
   */
  caRecvMode?: 'accept' | 'error' | 'result';
  /** SIM7080G push mode: append `,<ip>,<port>` to `+CAURC: "recv"` headers (the manual's optional fields). */
  caurcAddress?: boolean;
  /** Seed for garbage bytes. */
  seed?: number;
  /** Called with every line the modem receives and sends (debugging). */
  trace?: (direction: 'rx' | 'tx', text: string) => void;
}

export const CAT_M: NetworkModel = {
  rttMs: 150,
  downlinkBps: 300_000,
  uplinkBps: 375_000,
  tlsCryptoMs: 1500,
  rrcSetupMs: 100,
};

export const CAT_1: NetworkModel = {
  rttMs: 70,
  downlinkBps: 5_000_000,
  uplinkBps: 2_500_000,
  tlsCryptoMs: 400,
  rrcSetupMs: 50,
};
