/**
 * What the MQTT and IoTConnect specs share: a real mosquitto (TLS, test PKI), the IoTConnect
 * double on it, and a wait on a condition in real time (the broker runs in real time).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTestPki, mosquittoMissing, startBroker, type Broker, type TestPki } from '../../tools/node/mosquitto.js';
import { IotConnectDouble } from '../../tools/server/iotconnect.js';

/** Resolves once `check()` holds; rejects after `ms` of real time. */
export function waitFor(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (check()) resolve();
      else if (Date.now() > deadline) reject(new Error('condition not met in time'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

/** In a mocha `before`: skip the suite where mosquitto is not installed (`mosquittoMissing` throws in CI instead). */
export function requireMosquitto(context: Mocha.Context): void {
  const missing = mosquittoMissing();
  if (missing) {
    console.log(`      skipped: ${missing}`);
    context.skip();
  }
}

export interface IotConnectCloud {
  broker: Broker;
  pki: TestPki;
  double: IotConnectDouble;
  /** Stop the double and the broker, remove the PKI and ACL folders. */
  close(): Promise<void>;
}

/** mosquitto with the IoTConnect ACLs and the double (company XSOTA, environment qa) on it. */
export async function startIotConnectCloud(): Promise<IotConnectCloud> {
  const pki = makeTestPki();
  const aclDir = mkdtempSync(path.join(os.tmpdir(), 'xs-ota-acl-'));
  const broker = await startBroker({ pki, tlsListenerExtra: IotConnectDouble.aclLines(aclDir) });
  const double = await IotConnectDouble.start({ broker, cpid: 'XSOTA', env: 'qa' });
  return {
    broker,
    pki,
    double,
    async close() {
      await double.close();
      await broker.stop();
      for (const dir of [pki.dir, aclDir]) rmSync(dir, { recursive: true, force: true });
    },
  };
}
