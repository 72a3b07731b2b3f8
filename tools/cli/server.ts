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
  SPEC: status=503[,count=N][,retry-after=S][,path=SUBSTR] | drop=BYTES[,count=N][,path=SUBSTR]
        | truncate=BYTES[,count=N][,path=SUBSTR]`;

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
        sleep: { type: 'string', default: '00:05:00' },
        reports: { type: 'string' },
        misbehave: { type: 'string', multiple: true },
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
    const image = new Uint8Array(readFileSync(values.image));
    const server = await startReferenceServer({
      port,
      host: values.host,
      tenant: values.tenant,
      controllerId: values.controller,
      token: values.token,
      pollingSleep: values.sleep,
      reportFile: values.reports,
      clockS: Math.floor(Date.now() / 1000),
    });
    const deployment = server.hawkbit.createDeployment({ version: values.version!, image });
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
    await server.close();
    const reports = server.reports();
    console.log(`\n${reports.length} report(s) received:`);
    for (const r of reports) console.log(JSON.stringify(r));
    return 0;
  },
};
