/**
 * The modem rig: the agent's modem driver, HTTP client and resumable download, against the
 * simulated SIMCom modem (tools/devkit/parts/sim-modem) on a simulated UART, whose connections reach a
 * real HTTP server on loopback. Shared by the integration specs and `xs-ota bench`; every figure
 * comes from virtual time and counters, never from the wall clock.
 */
import { randomBytes } from 'node:crypto';
import type { Modem, ModemConfig } from '../../src/modem/modem.js';
import type { LogPort } from '../../src/platform/log.js';
import { Sim7080, sim7080ShHttp } from '../../src/modem/sim7080.js';
import { Sim7600 } from '../../src/modem/sim7600.js';
import { download, type DownloadResult } from '../../src/net/download.js';
import { NativeHttpClient, SocketHttpClient } from '../../src/net/modem-http.js';
import type { SimUart } from '../devkit/parts/sim-uart.js';
import { CAT_1, CAT_M, createSimModem, type ModemCore, type NetworkModel, type SimModemFaults, type SimModemOptions } from '../devkit/parts/sim-modem/index.js';
import { VirtualTime } from '../devkit/parts/virtual-time.js';
import { TEST_CA } from '../node/test-pki.js';
import { startRangeServer, type RangeServer } from './range-server.js';

export type Model = 'sim7080' | 'sim7600';
/** `socket-push`: socket data pushed by the modem (SIM7600 AT+CCHSET=1,0, SIM7080 AT+CAOPEN recv_mode 1) instead of read per block. */
export type Transport = 'native' | 'socket' | 'socket-push';

export interface RigOptions {
  model: Model;
  transport: Transport;
  baud: number;
  /** Image size (default 1 MiB). */
  size?: number;
  /** Faults to set when the download starts (after bring-up); `now` is the virtual instant. */
  faults?: (now: number) => SimModemFaults;
  network?: Partial<NetworkModel>;
  /** Range window of the built-in HTTP transport. */
  window?: number;
  /** A server to use (else one is started and stopped). */
  server?: RangeServer;
  /** Virtual-time budget, ms. */
  untilMs?: number;
  /** Extra simulator options (registration denied, DNS failure, a saved rate, ...). */
  sim?: Partial<SimModemOptions> & { poweredOn?: boolean };
  /** Extra driver settings (baud fallbacks, power tries, ...). */
  modemConfig?: Partial<ModemConfig>;
  /** UART wiring of the board, also told to the driver (default: 'rts-cts' for socket-push, else 'none'). */
  flowControl?: 'rts-cts' | 'none';
  /** A slow consumer: every chunk handed to the download's sink takes this many virtual ms (a
   * flash write), so the driver stops reading the UART meanwhile. */
  sinkDelayMs?: number;
  /** Device UART RX FIFO, bytes (default: the SimUart default). */
  rxFifoBytes?: number;
  /** CA the driver uploads (default RIG_CA, the CA of the server's certificate). */
  caCert?: Uint8Array;
  /** Host name in the image URL (default updates.example.com, a name the certificate carries). */
  host?: string;
  /** Bytes per Range request (default: one request for the whole file). 2048 is the nRF Connect
   * SDK downloader's pattern (a 2 KiB buffer, one Range request per buffer). */
  requestBytes?: number;
  /** Appended to the image URL (the server ignores it): a long pre-signed query string. */
  query?: string;
  /** The driver's log (modem events such as a refused URL). */
  log?: LogPort;
}

/** The board's UART wiring a run uses (see RigOptions.flowControl). */
export function rigFlowControl(options: Pick<RigOptions, 'transport' | 'flowControl'>): 'rts-cts' | 'none' {
  return options.flowControl ?? (options.transport === 'socket-push' ? 'rts-cts' : 'none');
}

export interface RigRun {
  image: Uint8Array;
  received: Uint8Array;
  result: DownloadResult;
  /** Virtual ms of the download itself (bring-up excluded). */
  downloadMs: number;
  /** UART bytes each way during the download. */
  uartToHost: number;
  uartToModem: number;
  /** Requests the server saw during the download. */
  serverRequests: number;
  /** The network model in force. */
  network: NetworkModel;
  modemCounters: Modem['counters'] & { baudSwitches?: number };
  simBoots: number;
  /** The simulated modem's `+IPR` setting at the end (0 = auto-baud) and its end's line rate. */
  simIpr: number;
  modemBaud: number;
  /** UART counters over the whole run (overruns, CTS holds). */
  uartCounters: SimUart['counters'];
  /** The agent's driver and the simulated modem, as the run left them. */
  driver: Modem;
  sim: ModemCore;
  /** Sink writes whose bytes differed from the image at their offset (must stay 0). */
  wrongWrites: number;
  /** The driver's AT statistics (line errors seen). */
  atStats: Modem['at']['stats'];
  /** The HTTP client the download used. */
  client: NativeHttpClient | SocketHttpClient;
}

export const MiB = 1 << 20;

/** A deterministic test image with AT look-alikes inside, so no layer can get away with scanning. */
export function rigImage(size: number, seed = 7): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    out[i] = x >>> 24;
  }
  const trap = new TextEncoder().encode('\r\nOK\r\n+SHREAD: 9\r\n+HTTPREAD: 0\r\nERROR\r\n');
  for (let at = 1000; at + trap.length < size; at += 4099) out.set(trap, at);
  return out;
}

/** The CA the driver uploads: the dev kit's test CA, which signed the range server's certificate
 * (the simulated modem runs TLS against it, tools/node/test-pki.ts). */
export const RIG_CA = TEST_CA;

export interface Rig {
  time: VirtualTime;
  uart: SimUart;
  sim: ModemCore;
  server: RangeServer;
  url: string;
  image: Uint8Array;
  network: NetworkModel;
  close(): Promise<void>;
}

/** The simulated hardware and server, without the agent (for the XS variant, which brings its own). */
export async function buildRig(options: RigOptions): Promise<Rig> {
  const size = options.size ?? MiB;
  const time = new VirtualTime();
  const own = options.server === undefined;
  const server = options.server ?? (await startRangeServer());
  const image = rigImage(size);
  const path = `/fw/${options.model}-${size}-${randomBytes(4).toString('hex')}.bin`;
  server.setFile(path, image);
  const network = { ...(options.model === 'sim7080' ? CAT_M : CAT_1), ...options.network };
  const simOptions = {
    model: options.model === 'sim7080' ? ('sim7080g' as const) : ('sim7600' as const),
    server: { host: '127.0.0.1', port: server.port },
    network,
    // SIM7600 has a fixed rate (saved with AT+IPREX); SIM7080 auto-bauds onto the host's rate.
    ipr: options.model === 'sim7600' ? options.baud : 0,
    ...options.sim,
  };
  // The modem starts powered off: the driver's power-key sequence is part of every run.
  const kit = createSimModem(time, { ...simOptions, uart: { baud: options.baud, flowControl: rigFlowControl(options), rxFifoBytes: options.rxFifoBytes } });
  const uart = kit.uart;
  const sim = kit.modem;
  return {
    time,
    uart,
    sim,
    server,
    url: `https://${options.host ?? 'updates.example.com'}${path}${options.query ?? ''}`,
    image,
    network,
    close: async () => {
      if (own) await server.close();
    },
  };
}

/** One download in Node through the agent's driver, client and download helper. */
export async function runNode(options: RigOptions): Promise<RigRun> {
  const rig = await buildRig(options);
  const { time, uart, sim } = rig;
  try {
    const ports = { serial: uart.device, clock: time.clockPort(), powerKey: sim.powerKey, log: options.log };
    const config = { caCert: options.caCert ?? RIG_CA, registrationPollMs: 1_000, ...options.modemConfig };
    const push = options.transport === 'socket-push';
    const flowControl = rigFlowControl(options);
    const modem: Modem =
      options.model === 'sim7080'
        ? new Sim7080(ports, config, { shHttp: sim7080ShHttp({ window: options.window }), push, flowControl })
        : new Sim7600(ports, config, { httpWindow: options.window, push, flowControl });
    const clock = time.clockPort();
    const client = options.transport === 'native' ? new NativeHttpClient({ modem, clock }) : new SocketHttpClient({ modem, clock });
    await time.runFor(modem.ready(), { untilMs: 300_000 });
    const start = time.now();
    const toHost = uart.counters.toHostBytes;
    const toModem = uart.counters.toModemBytes;
    const served = rig.server.log.length;
    if (options.faults) sim.setFaults(options.faults(start));
    const received = new Uint8Array(rig.image.length);
    let wrongWrites = 0;
    const result = await time.runFor(
      download({
        client,
        clock,
        identity: { url: rig.url, size: rig.image.length },
        sink: {
          write: (offset, chunk) => {
            // "No wrong byte is ever accepted": every write is checked against the image as it lands.
            if (offset + chunk.length > rig.image.length || !Buffer.from(chunk).equals(Buffer.from(rig.image.subarray(offset, offset + chunk.length)))) wrongWrites++;
            received.set(chunk, offset);
            return options.sinkDelayMs ? new Promise<void>((resolve) => time.clockPort().setTimeout(resolve, options.sinkDelayMs!)) : undefined;
          },
          restart: () => {
            received.fill(0);
          },
        },
        backoffBaseMs: 1_000,
        requestBytes: options.requestBytes,
      }),
      { untilMs: start + (options.untilMs ?? 3_600_000) },
    );
    return {
      image: rig.image,
      received,
      result,
      downloadMs: time.now() - start,
      uartToHost: uart.counters.toHostBytes - toHost,
      uartToModem: uart.counters.toModemBytes - toModem,
      serverRequests: rig.server.log.length - served,
      network: rig.network,
      modemCounters: modem.counters,
      simBoots: sim.counters.boots,
      simIpr: sim.ipr,
      modemBaud: uart.modem.baud,
      uartCounters: { ...uart.counters },
      wrongWrites,
      driver: modem,
      sim,
      atStats: { ...modem.at.stats },
      client,
    };
  } finally {
    await rig.close();
  }
}
