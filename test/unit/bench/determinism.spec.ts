/**
 * The bench cannot drift with the host: one small bench case run twice, once on a quiet host and
 * once with a CPU-burning child process alongside and the server sitting 1.5 s (real) on every
 * request, prints the same JSON. Before the simulated modem's sockets counted the answers owed
 * (tools/devkit/parts/sim-modem/exchange.ts) they waited for 1 s of real silence before the first byte,
 * so the second run moved its figures.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { runNode, type RigOptions } from '../../../tools/bench/rig.js';
import { startRangeServer } from '../../../tools/bench/range-server.js';
import { SimSocket } from '../../../tools/devkit/parts/sim-modem/net.js';

async function figures(options: RigOptions): Promise<string> {
  const run = await runNode(options);
  assert.ok(Buffer.from(run.received).equals(Buffer.from(run.image)), 'bytes differ');
  return JSON.stringify({
    downloadMs: run.downloadMs,
    uartToHost: run.uartToHost,
    uartToModem: run.uartToModem,
    serverRequests: run.serverRequests,
    uart: run.uartCounters,
    modem: run.modemCounters,
  });
}

function burnCpu(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

describe('bench: the same figures on a quiet and a loaded host', function () {
  this.timeout(120_000);
  for (const transport of ['socket-push', 'socket'] as const) {
    it(`sim7080 ${transport} 921600, 96 KiB: identical JSON with a CPU burner and a slow server`, async () => {
      const server = await startRangeServer();
      try {
        const base: RigOptions = { model: 'sim7080', transport, baud: 921_600, size: 96 * 1024, server };
        const guardsBefore = SimSocket.guardExpiries;
        const quiet = await figures(base);
        const burner = burnCpu();
        server.answerDelayRealMs = 1_500;
        let loaded: string;
        try {
          loaded = await figures(base);
        } finally {
          burner.kill();
        }
        assert.equal(loaded, quiet);
        assert.equal(SimSocket.guardExpiries, guardsBefore, 'no wait ended by the real-time hang guard');
      } finally {
        await server.close();
      }
    });
  }
});
