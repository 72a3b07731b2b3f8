/**
 * `xs-ota sim`: one full update on the simulated dev kit, the agent running inside XS.
 *
 *   xs-ota sim [--modem sim7080|sim7600] [--modem-url-max N] [--baud N] [--uart-burst N] [--flow-control rts-cts|none] [--flash-timing typical|worst|none] [--backend hawkbit|manifest|iotconnect]
 *              [--image FILE] [--base-image FILE] [--key PUBKEY.pem] [--flash FILE] [--state DIR] [--se-store FILE]
 *              [--fault SPEC]... [--segment-bytes N] [--update skip|attempt|forced]
 *              [--window unavailable [--window-open-after S]] [--seed N] [--json] [--verbose]
 *              [--server URL [--device-id ID] [--token T] [--resolve HOST=ADDR]...]
 *              [--delta | --delta-file FILE] [--agent-tls] [--history]
 *
 * Without --image it offers the committed imgtool vector medium-v1.3.0+5 to a device running
 * small-v1.2.3+4 (test/fixtures/mcuboot), both signed with the key MCUboot and the A5000 trust.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseFault, runDevkitUpdate, type DevkitSummary } from '../devkit/devkit.js';
import type { VirtualTime } from '../devkit/parts/virtual-time.js';
import type { ReferenceServer } from '../server/index.js';
import { mosquittoMissing } from '../node/mosquitto.js';
import { ImageStream } from '../../src/image/image-stream.js';
import { NodeDigest } from '../node/node-digest.js';
import { NodeSignatureVerifier } from '../node/node-signature-verifier.js';
import { SIM_A5000_DEFAULT_STORE } from '../devkit/parts/sim-a5000.js';
import { describeError, EXIT, InputError, parseInteger, UsageError, wantsHelp } from './cli-common.js';
import { phases } from '../bench/cycle.js';
import { simDelta } from '../delta/sim-delta.js';
import { formatHistory } from './history-print.js';
import type { Command } from './main.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const vectors = path.join(repoRoot, 'test', 'fixtures', 'mcuboot');

const USAGE = `usage: xs-ota sim [options]
  --modem sim7080|sim7600   modem personality (default sim7080)
  --modem-url-max N         the simulated modem's built-in HTTP client answers ERROR to a longer
                            URL (SIM7600 AT+HTTPPARA="URL") or path (SIM7080 AT+SHREQ), 64..4096:
                            a firmware whose limit is below the agent's (1000 / 512), as QA meets
                            one with pre-signed links (xs-ota server --redirect-artifact); the
                            agent falls back to the modem's socket for such URLs
  --baud N                  UART rate (default 115200)
  --uart-burst N            bytes per UART RX event, 16..1024 (default 64, a FIFO-threshold
                            interrupt; 1024: a DMA UART, as the fault campaign runs)
  --flow-control rts-cts|none
                            modem UART wiring (default rts-cts: the dev kit wires RTS/CTS, the
                            agent sends AT+IFC=2,2 and takes socket data pushed by the modem);
                            none: reads per command, as on a board without the lines
  --flash-timing typical|worst|none
                            NOR erase/program times (W25Q64JV datasheet typ/max; default typical)
  --backend hawkbit|manifest|iotconnect
                            update backend (default hawkbit); iotconnect starts mosquitto
                            (must be installed) and the IoTConnect double, and stops them after
  --image FILE              signed image the server offers (default: medium-v1.3.0+5 vector)
  --base-image FILE         image in the primary slot of a new flash (default: small-v1.2.3+4 vector)
  --key PUBKEY.pem          key provisioned in the A5000 and trusted by MCUboot (default: the vectors' signing key)
  --flash FILE              persist the dev kit's flash (documented layout); reused if it exists
  --fault SPEC              repeatable: power-cut@40%, link-drop@70%, modem-reboot@50%, health-fail,
                            server-503, server-429, expired-url, duplicate-command (iotconnect); power-cut@event:NAME[#K][+N] cuts
                            power at the K-th agent log event NAME (verify.start, stage.start,
                            health.start, confirm.start, device.reset-requested, ...), at the N-th
                            flash program/erase after it (without +N: at once); cancel@50% and
                            cancel@event:NAME[#K] (hawkbit): the server cancels the action once half
                            the image is in the slot / at that agent event
  --segment-bytes N         bytes per artifact request (agent downloadSegmentBytes, default 262144):
                            the agent looks for a cancel between segments
  --update skip|attempt|forced
                            hawkbit update handling (default forced; skip: download only)
  --window unavailable      hawkbit maintenance window: closed at first, opened by the server
                            --window-open-after seconds (default 600) after the agent starts waiting
  --delta                   also offer a VCDIFF delta from --base-image to --image, made with xdelta3
                            and checked by the agent's decoder (docs/delta.md); without --image and
                            --base-image: the firmware fixtures v1.0.0+1 -> v1.1.0+2
  --delta-file FILE         offer this delta (made from --base-image) instead of making one
  --seed N                  seed for jitter and torn writes (default 1)
  --server URL              talk to a server the dev kit did not start (xs-ota server, a staging
                            hawkBit): its hawkBit root or manifest URL. Nothing is offered by the
                            dev kit; the modem resolves host names (the URL's, a redirect's) by
                            name from this machine. With it: --device-id ID (default devkit-1),
                            --token T (default devkit-target-token), --resolve HOST=ADDR
                            (repeatable, as curl's --resolve)
  --state DIR               persist the flash AND the key-value store (the agent's journal) in DIR
                            (flash.bin, key-value.json): a run cut short continues where it was
  --se-store FILE           the simulated A5000's key store (default ${SIM_A5000_DEFAULT_STORE} when it
                            exists: what \`xs-ota se provision\` wrote; else the --key is provisioned)
  --json                    print the summary as JSON on stdout
  --verbose                 print every agent log line
  --agent-tls               the control channel (iotconnect MQTT, hawkbit DDI) over TLS terminated in the
                            agent, the device key generated in the simulated A5000 and certified by the
                            server's CA, the certificate written into the A5000 object 0x7B000304 and
                            read from there at boot (docs/tls.md); the download keeps the modem's TLS
  --history                 print the update history the device holds at the end (with --json: in "history")
exit codes: 0 the update ended as asked (running; download-only with --update skip; cancelled
with a cancel fault), 1 it did not (failed, reverted, a --fault that never fired, a bad input
file), 2 usage (docs/cli.md)`;

function bar(done: number, total: number): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((done / total) * 100).toFixed(0).padStart(3)}% ${done}/${total} bytes`;
}

function printSummary(s: DevkitSummary, external?: string): void {
  const lines = [
    `outcome            ${s.outcome}${s.reason ? ` (${s.reason})` : ''}`,
    `version            ${s.versionBefore} -> ${s.versionAfter}`,
    `image              ${s.imageBytes} bytes; the server sent ${s.artifactBytesSent} artifact bytes`,
    `boots              ${s.boots}; MCUboot: ${s.mcuboot.join(', ')}`,
    `time               ${(s.virtualMs / 1000).toFixed(1)} s of device time in ${(s.realMs / 1000).toFixed(1)} s real`,
    `download goodput   ${(s.downloadGoodputBps / 1024).toFixed(2)} KiB/s (device time)`,
    `UART               ${s.uart.bytesToModem} bytes to the modem, ${s.uart.bytesFromModem} from it`,
    `TLS                ${s.tlsHandshakes} verified handshake(s) by the modem (test CA, tools/node/test-pki)`,
    `flash              ${s.flash.erases - s.flash.blockErases} sector and ${s.flash.blockErases} 64 KiB block erases, ${s.flash.writes} writes; ${s.flash.timing} timing, ${(s.flash.busyMs / 1000).toFixed(1)} s busy, bootloader ${s.flash.bootloaderMs.map((ms) => (ms / 1000).toFixed(1)).join(' / ')} s`,
    // perf (issue 15): where the device time went, power-on to the report.
    `phases             ${phases(s.logs).map((p) => `${p.phase} ${p.seconds.toFixed(1)} s`).join('; ')}`,
    `A5000              ${s.a5000.verifications} signature verification(s)`,
    `XS                 ${s.xs.compute} computation units; peak heap ${s.xs.peakHeapCount} slots`,
    ...(s.acks
      ? [`IoTConnect acks (st 1 rejected, 2 in progress, 3 new firmware running, 4 failed):`, ...s.acks.map((a) => `  st ${a.st} ack ${a.ack}: ${a.msg ?? ''}`)]
      : external
        ? [`server recorded:   see the server at ${external} (the dev kit did not start it)`]
        : [`server recorded:`, ...s.reports.map((r) => `  ${r.kind} ${describeReport(r.body)}`)]),
  ];
  console.log(lines.join('\n'));
}

function describeReport(body: unknown): string {
  const b = body as { status?: { execution?: string; result?: { finished?: string }; details?: string[] }; phase?: string };
  if (b?.status) return `${b.status.execution}/${b.status.result?.finished}: ${(b.status.details ?? []).join('; ')}`;
  return JSON.stringify(body);
}

export const command: Command = {
  summary: 'run a full update on the simulated dev kit (agent in XS)',
  async run(args) {
    if (wantsHelp(args)) {
      console.log(USAGE);
      return EXIT.done;
    }
    // UsageError (exit 2) and InputError (exit 1) are printed as one line by tools/cli/main.ts.
    const { values } = parseSimArgs(args);
    if (values.modem !== 'sim7080' && values.modem !== 'sim7600') throw new UsageError(`--modem ${values.modem}: sim7080 or sim7600`);
    const flowControl = values['flow-control'];
    if (flowControl !== 'rts-cts' && flowControl !== 'none') throw new UsageError(`--flow-control ${flowControl}: rts-cts or none`);
    const flashTiming = values['flash-timing'];
    if (flashTiming !== 'typical' && flashTiming !== 'worst' && flashTiming !== 'none') throw new UsageError(`--flash-timing ${flashTiming}: typical, worst or none`);
    if (values.backend !== 'hawkbit' && values.backend !== 'manifest' && values.backend !== 'iotconnect') {
      throw new UsageError(`--backend ${values.backend}: hawkbit, manifest or iotconnect`);
    }
    if (values.backend === 'iotconnect') {
      // The broker is a real mosquitto process: say how to get it rather than fail half-way.
      const missing = mosquittoMissing();
      if (missing) throw new InputError(`--backend iotconnect needs the mosquitto broker: ${missing}`);
    }
    const baud = Number(values.baud);
    if (![9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600].includes(baud)) throw new UsageError(`--baud ${values.baud}: a standard rate up to 921600`);
    const modemUrlMax = values['modem-url-max'] === undefined ? undefined : parseInteger(values['modem-url-max'], '--modem-url-max', { min: 64, max: 4096 });
    const uartBurstBytes = values['uart-burst'] === undefined ? undefined : parseInteger(values['uart-burst'], '--uart-burst', { min: 16, max: 1024 });
    const faultSpecs = values.fault ?? [];
    const faults = faultSpecs.map((spec) => {
      try {
        return parseFault(spec);
      } catch (error) {
        throw new UsageError(error instanceof Error ? error.message : String(error));
      }
    });
    // The agent's own range (src/agent/config.ts downloadSegmentBytes): 4096..16 MiB, whole sectors.
    const segment = values['segment-bytes'] === undefined ? undefined : parseInteger(values['segment-bytes'], '--segment-bytes', { min: 4096, max: 16 * 1024 * 1024 });
    if (segment !== undefined && segment % 4096 !== 0) throw new UsageError(`--segment-bytes ${segment}: a multiple of 4096 (the flash sector)`);
    const seed = parseInteger(values.seed, '--seed', { max: 0xffffffff });
    const update = values.update;
    if (update !== undefined && update !== 'skip' && update !== 'attempt' && update !== 'forced') throw new UsageError(`--update ${update}: skip, attempt or forced`);
    if (values.window !== undefined && values.window !== 'unavailable') throw new UsageError(`--window ${values.window}: unavailable (or leave it out)`);
    const openAfterS = parseInteger(values['window-open-after'], '--window-open-after');
    if ((update !== undefined || values.window !== undefined) && values.backend !== 'hawkbit') throw new UsageError('--update and --window are hawkBit deployment settings');
    if (values['agent-tls'] && values.backend !== 'iotconnect' && values.backend !== 'hawkbit') throw new UsageError('--agent-tls is for --backend iotconnect or hawkbit (the control channel)');
    if (values['agent-tls'] && values.server !== undefined) throw new UsageError("--agent-tls runs against the dev kit's own servers (their test CA issues the device certificate), not --server");
    if (values.server !== undefined && !/^https?:\/\/[^\s/]+/.test(values.server)) throw new UsageError(`--server ${values.server}: an http(s) URL`);
    if (values.server === undefined && (values['device-id'] !== undefined || values.token !== undefined || (values.resolve ?? []).length > 0)) {
      throw new UsageError('--device-id, --token and --resolve go with --server');
    }
    const hosts: Record<string, string> = {};
    for (const pair of values.resolve ?? []) {
      const m = /^([A-Za-z0-9.-]+)=([0-9A-Fa-f:.]+|[A-Za-z0-9.-]+)$/.exec(pair);
      if (!m) throw new UsageError(`--resolve ${pair}: HOST=ADDR`);
      hosts[m[1]] = m[2];
    }
    if (values.state !== undefined && values.flash !== undefined) throw new UsageError('--state DIR already holds the flash (DIR/flash.bin): leave out --flash');
    // The operator opens the maintenance window a while after the device started waiting.
    let kit: { time: VirtualTime; server: ReferenceServer } | undefined;
    let actionId: string | undefined;
    let windowArmed = false;
    const openWindowLater = (event: string): void => {
      if (values.window === undefined || windowArmed || event !== 'window.wait' || !kit || !actionId) return;
      windowArmed = true;
      const { time, server } = kit;
      time.after(openAfterS * 1000, () => server.hawkbit.setMaintenanceWindow(actionId!, 'available'));
    };
    // Delta updates (tools/delta): the firmware fixtures are the default pair for --delta.
    const wantsDelta = values.delta || values['delta-file'] !== undefined;
    const firmware = wantsDelta && values.image === undefined && values['base-image'] === undefined ? path.join(repoRoot, 'test', 'fixtures', 'firmware') : undefined;
    const image = readImage(values.image ?? (firmware ? path.join(firmware, 'fw-v1.1.0+2.signed.bin') : path.join(vectors, 'images', 'medium-v1.3.0+5.signed.bin')), '--image');
    const baseImage = readImage(values['base-image'] ?? (firmware ? path.join(firmware, 'fw-v1.0.0+1.signed.bin') : path.join(vectors, 'images', 'small-v1.2.3+4.signed.bin')), '--base-image');
    const delta = wantsDelta ? await simDelta(baseImage, image, values['delta-file']) : undefined;
    const keyFile = values.key ?? path.join(vectors, 'keys', 'signing-key-p256.pub.pem');
    let trustedKeyPem: string;
    try {
      trustedKeyPem = readFileSync(keyFile, 'utf8');
      void new NodeSignatureVerifier(trustedKeyPem);
    } catch (error) {
      throw new InputError(describeError(error, `--key ${keyFile}`));
    }
    let flashFile = values.flash;
    let keyValueFile: string | undefined;
    if (values.state !== undefined) {
      mkdirSync(values.state, { recursive: true });
      flashFile = path.join(values.state, 'flash.bin');
      keyValueFile = path.join(values.state, 'key-value.json');
    }
    const seStore = values['se-store'] ?? (existsSync(SIM_A5000_DEFAULT_STORE) ? SIM_A5000_DEFAULT_STORE : undefined);
    if (values['se-store'] !== undefined && !existsSync(values['se-store'])) throw new InputError(`--se-store ${values['se-store']}: no such file (xs-ota se provision writes it)`);
    const tty = !values.json && process.stderr.isTTY;
    let lastBar = -1;
    // The progress bar is redrawn in place (\r) on a terminal: a log line then needs its own line
    // first, once (not before every line: that double-spaced the output).
    let barOnLine = false;
    const line = (text: string): void => {
      process.stderr.write(`${barOnLine ? '\n' : ''}${text}\n`);
      barOnLine = false;
    };
    const summary = await runDevkitUpdate({
      modem: values.modem,
      baud,
      uartBurstBytes,
      modemUrlMax,
      flowControl,
      flashTiming,
      backend: values.backend,
      image,
      baseImage,
      trustedKeyPem,
      flashFile,
      keyValueFile,
      a5000StoreFile: seStore,
      delta,
      agentTls: values['agent-tls'],
      faults,
      seed,
      server: values.server,
      hosts: values.server === undefined ? undefined : hosts,
      deviceId: values['device-id'],
      authToken: values.token,
      policy: segment === undefined ? undefined : { downloadSegmentBytes: segment },
      deployment: update !== undefined || values.window !== undefined ? { update: update ?? 'forced', maintenanceWindow: values.window as 'unavailable' | undefined } : undefined,
      onReady: (k) => (kit = k),
      onBackend: (prepared) => (actionId = prepared.actionId),
      onProgress: values.json
        ? undefined
        : (done, total) => {
            const step = Math.floor((done / total) * 20);
            if (step === lastBar) return;
            lastBar = step;
            if (tty) {
              process.stderr.write(`\r${bar(done, total)}`);
              barOnLine = true;
            } else process.stderr.write(`${bar(done, total)}\n`);
          },
      onLog: values.verbose
        ? (e) => {
            openWindowLater(e.event);
            line(`[${(e.at / 1000).toFixed(3)} s, boot ${e.boot}] ${e.level} ${e.event}${e.fields ? ` ${JSON.stringify(e.fields)}` : ''}`);
          }
        : (e) => {
            openWindowLater(e.event);
            if (e.level === 'warn' || e.level === 'error' || e.event.startsWith('deployment.') || e.event.startsWith('reboot') || e.event === 'image.confirmed') {
              line(`[${(e.at / 1000).toFixed(1)} s] ${e.event}${e.fields ? ` ${JSON.stringify(e.fields)}` : ''}`);
            }
          },
      onBoot: values.json ? undefined : (boot, r) => line(`MCUboot (boot ${boot}): ${r.outcome}, running ${r.version ?? '?'}`),
    });
    if (barOnLine) process.stderr.write('\n');
    if (values.json) {
      const { logs, ...rest } = summary;
      console.log(JSON.stringify({ ...rest, logCount: logs.length }, null, 2));
    } else printSummary(summary, values.server);
    if (values.history && !values.json) console.log(formatHistory(summary.history));
    // A fault that never took effect: the run did not test what was asked (a typo in an event
    // name, a cut N flash operations on that never came).
    const unfired = summary.faultsNotFired.map((i) => faultSpecs[i]);
    if (unfired.length > 0) {
      console.error(`xs-ota sim: fault(s) never fired: ${unfired.join(', ')} (check the event name: xs-ota sim --verbose lists the events)`);
      return EXIT.failed;
    }
    return outcomeAsAsked(summary.outcome, { downloadOnly: update === 'skip', cancel: faults.some((f) => f.kind === 'cancel') }) ? EXIT.done : EXIT.failed;
  },
};


/** Reads and checks an image file before anything starts: a bad one must not leave a server running. */
function readImage(file: string, what: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (error) {
    throw new InputError(describeError(error, `${what} ${file}`));
  }
  try {
    const stream = new ImageStream({ digest: new NodeDigest(), allowLastSector: true });
    stream.push(bytes);
    stream.finish();
  } catch (error) {
    throw new InputError(`${what} ${file}: not a usable MCUboot image (${describeError(error)})`);
  }
  return bytes;
}

function parseSimArgs(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        modem: { type: 'string', default: 'sim7080' },
        baud: { type: 'string', default: '115200' },
        'uart-burst': { type: 'string' },
        'modem-url-max': { type: 'string' },
        'flow-control': { type: 'string', default: 'rts-cts' },
        'flash-timing': { type: 'string', default: 'typical' },
        backend: { type: 'string', default: 'hawkbit' },
        image: { type: 'string' },
        'base-image': { type: 'string' },
        key: { type: 'string' },
        flash: { type: 'string' },
        fault: { type: 'string', multiple: true, default: [] },
        'segment-bytes': { type: 'string' },
        update: { type: 'string' },
        window: { type: 'string' },
        'window-open-after': { type: 'string', default: '600' },
        seed: { type: 'string', default: '1' },
        server: { type: 'string' },
        'device-id': { type: 'string' },
        token: { type: 'string' },
        resolve: { type: 'string', multiple: true, default: [] },
        delta: { type: 'boolean', default: false },
        'delta-file': { type: 'string' },
        history: { type: 'boolean', default: false },
        'agent-tls': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        state: { type: 'string' },
        'se-store': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (error) {
    // node:util parseArgs: unknown option, missing value: a usage error, one line.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}


/** Exit 0 only when the update ended as the run asked: installed, or kept (download only), or cancelled on request. */
export function outcomeAsAsked(outcome: string, asked: { downloadOnly: boolean; cancel: boolean }): boolean {
  if (asked.cancel) return outcome === 'cancelled';
  if (asked.downloadOnly) return outcome === 'download-only';
  return outcome === 'running';
}
