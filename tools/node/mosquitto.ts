/**
 * A real MQTT broker for tests: Eclipse Mosquitto from Debian's package
 * (`apt-get install -y mosquitto`), started on free loopback ports with a configuration written at
 * test time. The TLS listener uses a test CA, a server certificate and client certificates made
 * with the `openssl` CLI into a temporary directory, and requires a client certificate
 * (`require_certificate true`, the certificate's CN becomes the MQTT user name), as IoTConnect's
 * X.509 devices do. A plain listener on another port serves loopback-only helpers.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The Debian package line CI runs before the tests. */
export const MOSQUITTO_INSTALL = 'apt-get update && apt-get install -y --no-install-recommends mosquitto openssl';

/** Path of the mosquitto binary, or undefined when it is not installed. `MOSQUITTO` overrides. */
export function findMosquitto(): string | undefined {
  const candidates = [process.env.MOSQUITTO, '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto'];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'mosquitto'));
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not this one: try the next candidate
    }
  }
  return undefined;
}

/** Why broker tests are skipped, or undefined when they can run. */
export function mosquittoMissing(): string | undefined {
  if (findMosquitto()) return undefined;
  // In CI the broker is installed by .ci/run: a missing one is a failure, never a silent skip.
  if (process.env.CI) throw new Error(`mosquitto is not installed but CI must run the broker tests (${MOSQUITTO_INSTALL})`);
  return `mosquitto is not installed (CI: ${MOSQUITTO_INSTALL})`;
}

export interface ClientCredentials {
  name: string;
  certPem: string;
  keyPem: string;
}

export interface TestPki {
  dir: string;
  caPem: string;
  caCertPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clients: Map<string, ClientCredentials>;
  /** Make (or return) a client certificate whose CN is `name`, signed by the test CA. */
  client(name: string): ClientCredentials;
  /** A client certificate signed by another CA: the broker must refuse it. */
  rogueClient(name: string): ClientCredentials;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** ECDSA P-256 keys, as the A5000 holds; certificates valid for two days. */
function newKeyAndCsr(cwd: string, base: string, cn: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${cn}`], cwd);
}

function sign(cwd: string, base: string, ca: string, ext: string): void {
  writeFileSync(path.join(cwd, `${base}.ext`), ext);
  openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${base}.crt`, '-days', '2', '-extfile', `${base}.ext`], cwd);
}

function makeCa(cwd: string, base: string, cn: string): void {
  openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    cwd,
  );
}

/** A CA, a server certificate for localhost/127.0.0.1 and client certificates, made with openssl. */
export function makeTestPki(dir: string = mkdtempSync(path.join(os.tmpdir(), 'xs-ota-pki-'))): TestPki {
  makeCa(dir, 'ca', 'xs-ota test CA');
  newKeyAndCsr(dir, 'server', 'localhost');
  sign(dir, 'server', 'ca', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const clients = new Map<string, ClientCredentials>();
  let rogueCa = false;
  const issue = (name: string, ca: string, prefix: string): ClientCredentials => {
    const base = `${prefix}${name.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
    newKeyAndCsr(dir, base, name);
    sign(dir, base, ca, 'extendedKeyUsage=clientAuth\n');
    return { name, certPem: readFileSync(path.join(dir, `${base}.crt`), 'utf8'), keyPem: readFileSync(path.join(dir, `${base}.key`), 'utf8') };
  };
  const pki: TestPki = {
    dir,
    caPem: readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    caCertPath: path.join(dir, 'ca.crt'),
    serverCertPath: path.join(dir, 'server.crt'),
    serverKeyPath: path.join(dir, 'server.key'),
    clients,
    client(name) {
      let c = clients.get(name);
      if (!c) {
        c = issue(name, 'ca', 'client-');
        clients.set(name, c);
      }
      return c;
    },
    rogueClient(name) {
      if (!rogueCa) {
        makeCa(dir, 'rogue-ca', 'not the test CA');
        rogueCa = true;
      }
      return issue(name, 'rogue-ca', 'rogue-');
    },
  };
  return pki;
}

/** A free TCP port on loopback (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface Broker {
  host: '127.0.0.1';
  /** TLS listener requiring a client certificate from the test CA. */
  tlsPort: number;
  /** Plain listener, anonymous allowed (loopback helpers only). */
  plainPort: number;
  pki: TestPki;
  /** What mosquitto logged so far. */
  log(): string;
  stop(): Promise<void>;
}

export interface BrokerOptions {
  pki?: TestPki;
  /** Extra lines for the TLS listener (e.g. an acl_file). */
  tlsListenerExtra?: string[];
}

/**
 * Start mosquitto on two free loopback ports. Throws when it is not installed (check
 * `mosquittoMissing()` first and skip) or does not come up within 10 s.
 */
export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const binary = findMosquitto();
  if (!binary) throw new Error(mosquittoMissing());
  const pki = options.pki ?? makeTestPki();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xs-ota-mosquitto-'));
  const tlsPort = await freePort();
  let plainPort = await freePort();
  while (plainPort === tlsPort) plainPort = await freePort();
  const config = [
    'per_listener_settings true',
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
    '',
    `listener ${tlsPort} 127.0.0.1`,
    `cafile ${pki.caCertPath}`,
    `certfile ${pki.serverCertPath}`,
    `keyfile ${pki.serverKeyPath}`,
    'tls_version tlsv1.2',
    'require_certificate true',
    'use_identity_as_username true',
    'allow_anonymous false',
    ...(options.tlsListenerExtra ?? []),
    '',
    `listener ${plainPort} 127.0.0.1`,
    'allow_anonymous true',
    '',
  ].join('\n');
  const configPath = path.join(dir, 'mosquitto.conf');
  writeFileSync(configPath, config);
  // Run as root, mosquitto drops to the `mosquitto` user: it must be able to read the test PKI.
  for (const d of [dir, pki.dir]) chmodSync(d, 0o755);
  for (const f of [configPath, pki.caCertPath, pki.serverCertPath, pki.serverKeyPath]) chmodSync(f, 0o644);

  let output = '';
  const child: ChildProcess = spawn(binary, ['-c', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exited) throw new Error(`mosquitto exited at start-up:\n${output}`);
    if ((await canConnect(plainPort)) && (await canConnect(tlsPort))) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not listen within 10 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: '127.0.0.1',
    tlsPort,
    plainPort,
    pki,
    log: () => output,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await exit;
      }
      rmSync(dir, { recursive: true, force: true });
      if (!options.pki) rmSync(pki.dir, { recursive: true, force: true });
    },
  };
}
