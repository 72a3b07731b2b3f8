/**
 * `xs-ota server`: run the reference update server (tools/server/index.ts) for a device or the
 * simulated dev kit. It creates one hawkBit deployment and publishes one static manifest for the
 * image, prints the URLs, and on exit (Ctrl-C) prints every report the device sent.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseMisbehaviour, startReferenceServer, type Misbehaviour } from '../server/index.js';
import type { Command } from './main.js';

const USAGE = `usage: xs-ota server --port N --image FILE [--version V] [--tenant T] [--controller ID]
                     [--token T] [--sleep HH:MM:SS] [--reports FILE.jsonl] [--misbehave SPEC]...
                     [--update skip|attempt|forced] [--window unavailable [--window-open-after S]]
                     [--cancel-after-bytes N] [--gateway-token T] [--scheme http|https]
                     [--advertise-host NAME]
  --scheme https: the URLs handed out are https:// (the port speaks TLS with the dev kit's test
  certificate and plain HTTP either way); --advertise-host: the host name in those URLs (e.g.
  localhost, as the dev kit's modem resolves it: xs-ota sim --server URL)
  --update skip: download only; --window unavailable: the maintenance window is closed, and opens
  S seconds after start (default: never); --cancel-after-bytes: the hawkBit action is cancelled
  once N artifact bytes were sent (a cancel mid-download)
  SPEC: status=503[,count=N][,retry-after=S][,path=SUBSTR] | drop=BYTES[,count=N][,path=SUBSTR]
        | truncate=BYTES[,count=N][,path=SUBSTR] | ignore-range=1[,count=N][,path=SUBSTR]`;

export const command: Command = {
  summary: 'run the reference update server (hawkBit DDI + static manifest) on loopback',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        image: { type: 'string' },
        version: { type: 'string', default: '1.0.0' },
        tenant: { type: 'string', default: 'DEFAULT' },
        controller: { type: 'string', default: 'dev42' },
        token: { type: 'string' },
        'gateway-token': { type: 'string' },
        scheme: { type: 'string', default: 'http' },
        'advertise-host': { type: 'string' },
        sleep: { type: 'string', default: '00:05:00' },
        reports: { type: 'string' },
        misbehave: { type: 'string', multiple: true },
        update: { type: 'string', default: 'forced' },
        window: { type: 'string' },
        'window-open-after': { type: 'string' },
        'cancel-after-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help || !values.image) {
      console.log(USAGE);
      return values.help ? 0 : 2;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${values.port}: 0..65535`);
    const faults: Misbehaviour[] = (values.misbehave ?? []).map(parseMisbehaviour);
    const update = values.update;
    if (update !== 'skip' && update !== 'attempt' && update !== 'forced') throw new Error(`--update ${update}: skip, attempt or forced`);
    if (values.window !== undefined && values.window !== 'unavailable') throw new Error(`--window ${values.window}: unavailable (or leave it out)`);
    const openAfterS = values['window-open-after'] === undefined ? undefined : Number(values['window-open-after']);
    if (openAfterS !== undefined && (!Number.isFinite(openAfterS) || openAfterS < 0)) throw new Error(`--window-open-after ${values['window-open-after']}: seconds`);
    const cancelAfter = values['cancel-after-bytes'] === undefined ? undefined : Number(values['cancel-after-bytes']);
    if (cancelAfter !== undefined && (!Number.isInteger(cancelAfter) || cancelAfter < 0)) throw new Error(`--cancel-after-bytes ${values['cancel-after-bytes']}: a byte count`);
    const image = new Uint8Array(readFileSync(values.image));
    if (values.scheme !== 'http' && values.scheme !== 'https') throw new Error(`--scheme ${values.scheme}: http or https`);
    const server = await startReferenceServer({
      port,
      host: values.host,
      tenant: values.tenant,
      controllerId: values.controller,
      token: values.token,
      gatewayToken: values['gateway-token'],
      scheme: values.scheme as 'http' | 'https',
      advertiseHost: values['advertise-host'],
      pollingSleep: values.sleep,
      reportFile: values.reports,
      clockS: Math.floor(Date.now() / 1000),
    });
    const deployment = server.hawkbit.createDeployment({
      version: values.version!,
      image,
      update,
      maintenanceWindow: values.window === 'unavailable' ? 'unavailable' : undefined,
      cancelAfterBytes: cancelAfter,
    });
    const opener =
      values.window === 'unavailable' && openAfterS !== undefined
        ? setTimeout(() => {
            server.hawkbit.setMaintenanceWindow(deployment.actionId, 'available');
            console.log(`  maintenance window of action ${deployment.actionId} is now available`);
          }, openAfterS * 1000)
        : undefined;
    const manifest = server.manifest.publish({ version: values.version!, image });
    server.hawkbit.requestConfigData();
    server.misbehave(faults);
    console.log(`xs-ota server listening on ${server.url}`);
    console.log(`  hawkBit root:   ${server.hawkbit.rootUrl}  (action ${deployment.actionId}, version ${values.version})`);
    console.log(`  manifest:       ${manifest.url}`);
    console.log(`  artifact:       ${deployment.artifactUrl}`);
    if (faults.length) console.log(`  misbehaviours:  ${faults.length} armed`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    if (opener) clearTimeout(opener);
    await server.close();
    const reports = server.reports();
    console.log(`\n${reports.length} report(s) received:`);
    for (const r of reports) console.log(JSON.stringify(r));
    return 0;
  },
};
