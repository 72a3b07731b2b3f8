/**
 * XS guest: the agent's SIMCom driver, modem HTTP clients and resumable download, running inside
 * the XS engine against the simulated modem served by the host (remote UART, power key, clock).
 * test/xs/modem.spec.ts drives it; the bench's XS section uses it too.
 */
import type { Modem } from '../../../src/modem/modem.js';
import { Sim7080, sim7080ShHttp } from '../../../src/modem/sim7080.js';
import { Sim7600 } from '../../../src/modem/sim7600.js';
import { download } from '../../../src/net/download.js';
import { NativeHttpClient, SocketHttpClient } from '../../../src/net/modem-http.js';
import { expose, hostCall } from '../../../tools/xs/guest/bridge.js';
import { remoteClock, remoteDigitalOut, remoteSerial } from '../../../tools/xs/guest/ports.js';

const clock = remoteClock();
const serial = remoteSerial();
const powerKey = remoteDigitalOut('modemPowerKey');

let modem: Modem | undefined;
let client: NativeHttpClient | SocketHttpClient | undefined;

interface StartArgs {
  model: 'sim7080' | 'sim7600';
  transport: 'native' | 'socket' | 'socket-push';
  caCert: Uint8Array;
  window?: number;
  flowControl?: 'rts-cts' | 'none';
}

expose({
  /** Power the modem up and bring the bearer up; resolves once ready. */
  start: async (args: StartArgs) => {
    const ports = { serial, clock, powerKey };
    const config = { caCert: args.caCert, registrationPollMs: 1_000 };
    const push = args.transport === 'socket-push';
    const flowControl = args.flowControl ?? 'none';
    modem = args.model === 'sim7080' ? new Sim7080(ports, config, { shHttp: sim7080ShHttp({ window: args.window }), push, flowControl }) : new Sim7600(ports, config, { httpWindow: args.window, push, flowControl });
    client = args.transport === 'native' ? new NativeHttpClient({ modem, clock }) : new SocketHttpClient({ modem, clock });
    await modem.ready();
    return clock.now();
  },
  /** Download `size` bytes of `url` into the host's `sinkWrite`; returns what it took. */
  fetch: async (args: { url: string; size: number; sinkDelayMs?: number }) => {
    if (!modem || !client) throw new Error('start first');
    const started = clock.now();
    const result = await download({
      client,
      clock,
      identity: { url: args.url, size: args.size },
      sink: {
        write: (offset, chunk) => {
          // The host keeps the bytes (as the device's flash would): XS never holds the image.
          hostCall('sinkWrite', { offset, chunk });
          // A slow consumer (a flash write): the driver stops reading the UART meanwhile.
          return args.sinkDelayMs ? new Promise<void>((resolve) => clock.setTimeout(resolve, args.sinkDelayMs!)) : undefined;
        },
        restart: () => {
          hostCall('sinkRestart');
        },
      },
      backoffBaseMs: 1_000,
    });
    return {
      ms: clock.now() - started,
      requests: result.requests,
      resumes: result.resumes,
      restarts: result.restarts,
      failures: result.failures.join(','),
      powerCycles: modem.counters.powerCycles,
      resets: modem.counters.resets,
      push: (modem as Modem & { push?: boolean }).push === true,
      atStats: { ...modem.at.stats },
    };
  },
});
