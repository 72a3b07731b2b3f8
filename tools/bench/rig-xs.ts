/**
 * The modem rig with the agent inside the XS engine: the guest bundle `modem`
 * (test/xs/guests/modem.guest.ts) runs the driver, HTTP client and download helper in xsnap; the
 * simulated modem, UART and server stay in Node (tools/xs/serve-platform.ts).
 */
import type { SimModemFaults } from '../devkit/parts/sim-modem/types.js';
import type { SimUart } from '../devkit/parts/sim-uart.js';
import { XsSession, type XsMeterTotals } from '../xs/session.js';
import { servePlatform } from '../xs/serve-platform.js';
import { RIG_CA, buildRig, rigFlowControl, type RigOptions } from './rig.js';

export interface XsFetch {
  received: Uint8Array;
  /** Virtual ms of the download. */
  ms: number;
  requests: number;
  resumes: number;
  restarts: number;
  failures: string;
  powerCycles: number;
  resets: number;
  /** Pushed socket data in use at the end (false: manual reads, e.g. recv_mode refused). */
  push: boolean;
  atStats: { lineErrors: number };
}

export interface XsRun {
  out: XsFetch;
  image: Uint8Array;
  /** XS meter totals over bring-up and download. */
  meter: XsMeterTotals;
  uartToHost: number;
  network: { downlinkBps: number };
  uartCounters: SimUart['counters'];
}

export async function runXs(options: RigOptions & { faults?: (now: number) => SimModemFaults }): Promise<XsRun> {
  const rig = await buildRig(options);
  const session = await XsSession.start({ bundle: 'modem' });
  try {
    servePlatform(session, { modemSerial: rig.uart.device, modemPowerKey: rig.sim.powerKey }, rig.time);
    await rig.time.runFor(session.call('start', { model: options.model, transport: options.transport, caCert: options.caCert ?? RIG_CA, window: options.window, flowControl: rigFlowControl(options) }), {
      untilMs: 300_000,
    });
    if (options.faults) rig.sim.setFaults(options.faults(rig.time.now()));
    const toHost = rig.uart.counters.toHostBytes;
    // The guest hands every chunk to the host, as to flash: XS holds no image (device heap bound).
    const received = new Uint8Array(rig.image.length);
    session.provide('sinkWrite', (a: { offset: number; chunk: Uint8Array }) => received.set(a.chunk, a.offset));
    session.provide('sinkRestart', () => received.fill(0));
    const fetched = await rig.time.runFor(session.call<Omit<XsFetch, 'received'>>('fetch', { url: rig.url, size: rig.image.length, sinkDelayMs: options.sinkDelayMs }), { untilMs: rig.time.now() + 3_600_000 });
    const out: XsFetch = { ...fetched, received };
    return { out, image: rig.image, meter: { ...session.meter }, uartToHost: rig.uart.counters.toHostBytes - toHost, network: rig.network, uartCounters: { ...rig.uart.counters } };
  } finally {
    await session.close();
    await rig.close();
  }
}
