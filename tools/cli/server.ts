/**
 * `xs-ota server`: run the reference update server (tools/server/index.ts) for a device or the
 * simulated dev kit. It creates one hawkBit deployment and publishes one static manifest for the
 * image, prints the URLs, and on exit (Ctrl-C) prints every report the device sent.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseMisbehaviour, startReferenceServer, type Misbehaviour } from '../server/index.js';
import { decodeHeader } from '../../src/image/header.js';
import { formatVersion } from '../../src/image/version.js';
import { LABEL_MAX } from '../../src/backend/version-label.js';
import { describeError, EXIT, parseInteger, UsageError, wantsHelp } from './cli-common.js';
import type { Command } from './main.js';

const USAGE = `usage: xs-ota server --port N --image FILE [--version V] [--tenant T] [--controller ID]
                     [--token T] [--sleep HH:MM:SS] [--reports FILE.jsonl] [--misbehave SPEC]...
                     [--update skip|attempt|forced] [--window unavailable [--window-open-after S]]
                     [--cancel-after-bytes N] [--gateway-token T] [--scheme http|https]
                     [--advertise-host NAME] [--redirect-artifact HOST [--location-bytes N]]
  --version: what the deployment announces, a label such as v1.3.0-rc.1 (default: the image
  header's version, so the device sees the version it will get; another one is allowed, to test
  the agent's header check and labels: the header decides, the label is reported back)
  --scheme https: the URLs handed out are https:// (the port speaks TLS with the dev kit's test
  certificate and plain HTTP either way); --advertise-host: the host name in those URLs (e.g.
  localhost, as the dev kit's modem resolves it: xs-ota sim --server URL)
  --redirect-artifact HOST: the image's download link answers 302 to a pre-signed object-store URL
  on HOST (this port; the sim's --resolve HOST=127.0.0.1), --location-bytes long (default 1300,
  200..4096), as a CDN or S3 answers; 403 once it expired (1 h of server clock)
  --update skip: download only; --window unavailable: the maintenance window is closed, and opens
  S seconds after start (default: never); --cancel-after-bytes: the hawkBit action is cancelled
  once N artifact bytes were sent (a cancel mid-download)
  SPEC: status=503[,count=N][,retry-after=S][,path=SUBSTR] | drop=BYTES[,count=N][,path=SUBSTR]
        | truncate=BYTES[,count=N][,path=SUBSTR]`;

export const command: Command = {
  summary: 'run the reference update server (hawkBit DDI + static manifest) on loopback',
  async run(args) {
    if (wantsHelp(args)) {
      console.log(USAGE);
      return EXIT.done;
    }
    // A UsageError (exit 2) or any other error (exit 1) is printed as one line by tools/cli/main.ts.
    const { values } = parseServerArgs(args);
    if (!values.image) throw new UsageError('--image FILE is required');
    const port = parseInteger(values.port, '--port', { max: 65535 });
    // hawkBit's pollingSleep is HH:MM:SS (DDI config.polling.sleep).
    if (!/^\d{2}:[0-5]\d:[0-5]\d$/.test(values.sleep ?? '')) throw new UsageError(`--sleep ${values.sleep}: HH:MM:SS, e.g. 00:05:00`);
    let faults: Misbehaviour[];
    try {
      faults = (values.misbehave ?? []).map(parseMisbehaviour);
    } catch (error) {
      throw new UsageError(describeError(error));
    }
    if (values.scheme !== 'http' && values.scheme !== 'https') throw new UsageError(`--scheme ${values.scheme}: http or https`);
    const update = values.update;
    if (update !== 'skip' && update !== 'attempt' && update !== 'forced') throw new UsageError(`--update ${update}: skip, attempt or forced`);
    if (values.window !== undefined && values.window !== 'unavailable') throw new UsageError(`--window ${values.window}: unavailable (or leave it out)`);
    const openAfterS = values['window-open-after'] === undefined ? undefined : parseInteger(values['window-open-after'], '--window-open-after');
    const redirectHost = values['redirect-artifact'];
    if (redirectHost !== undefined && !/^[A-Za-z0-9.-]+$/.test(redirectHost)) throw new UsageError(`--redirect-artifact ${redirectHost}: a host name`);
    if (values['location-bytes'] !== undefined && redirectHost === undefined) throw new UsageError('--location-bytes goes with --redirect-artifact');
    const locationBytes = values['location-bytes'] === undefined ? undefined : parseInteger(values['location-bytes'], '--location-bytes', { min: 200, max: 4096 });
    const cancelAfter = values['cancel-after-bytes'] === undefined ? undefined : parseInteger(values['cancel-after-bytes'], '--cancel-after-bytes');
    let image: Uint8Array;
    try {
      image = new Uint8Array(readFileSync(values.image));
    } catch (error) {
      throw new Error(describeError(error, `--image ${values.image}`));
    }
    let version: string;
    if (values.version !== undefined) version = checkedVersion(values.version);
    else {
      try {
        version = formatVersion(decodeHeader(image).version);
      } catch (error) {
        throw new Error(`--image ${values.image}: ${describeError(error)}; give --version to serve it anyway`);
      }
    }
    const server = await startReferenceServer({
      port,
      host: values.host,
      tenant: values.tenant,
      controllerId: values.controller,
      token: values.token,
      gatewayToken: values['gateway-token'],
      scheme: values.scheme,
      advertiseHost: values['advertise-host'],
      pollingSleep: values.sleep,
      reportFile: values.reports,
      clockS: Math.floor(Date.now() / 1000),
    });
    const deployment = server.hawkbit.createDeployment({
      version,
      image,
      update,
      maintenanceWindow: values.window === 'unavailable' ? 'unavailable' : undefined,
      cancelAfterBytes: cancelAfter,
      redirectArtifact: redirectHost === undefined ? undefined : { host: redirectHost, status: 302, locationBytes },
    });
    const opener =
      values.window === 'unavailable' && openAfterS !== undefined
        ? setTimeout(() => {
            server.hawkbit.setMaintenanceWindow(deployment.actionId, 'available');
            console.log(`  maintenance window of action ${deployment.actionId} is now available`);
          }, openAfterS * 1000)
        : undefined;
    const manifest = server.manifest.publish({ version, image });
    server.hawkbit.requestConfigData();
    server.misbehave(faults);
    console.log(`xs-ota server listening on ${server.url}`);
    console.log(`  hawkBit root:   ${server.hawkbit.rootUrl}  (action ${deployment.actionId}, version ${version})`);
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
    return EXIT.done;
  },
};

function parseServerArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8080' },
        host: { type: 'string', default: '127.0.0.1' },
        image: { type: 'string' },
        version: { type: 'string' },
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
        'redirect-artifact': { type: 'string' },
        'location-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The version text as given, as the deployment's label: hawkBit and IoTConnect versions are free
 * text (`v1.3.0-rc.1`, `v1.5-release`) and the agent takes them as labels, the image header
 * deciding (issue 13.5, src/backend/version-label.ts). Printable ASCII without quotes or
 * backslashes, at most LABEL_MAX characters (what the agent keeps); a usage error otherwise.
 */
function checkedVersion(text: string): string {
  if (text.length === 0 || text.length > LABEL_MAX || !/^[\x20-\x7e]+$/.test(text) || /["\\]/.test(text)) {
    throw new UsageError(`--version '${text.replace(/[^\x20-\x7e]/g, '?')}': 1..${LABEL_MAX} printable characters without quotes or backslashes`);
  }
  return text;
}

