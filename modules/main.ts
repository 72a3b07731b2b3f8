/**
 * Device entry of xs-ota on Moddable's Zephyr port: reads the configuration (`mc/config`) and the
 * secrets (key-value store), builds the Platform from the ECMA-419 bindings, and calls the
 * agent's startAgent (the bundle dist/xs-ota.mjs, module "xs-ota" in manifest.json).
 *
 * A bad configuration value stops here, before any hardware is touched, with one log line naming
 * the key (`ota error config.invalid key=otaUrl ...`) and OtaError('config-invalid'); it is a
 * build mistake, so the device does not retry.
 */
import config from 'mc/config';
import Serial from 'embedded:io/serial';
import I2C from 'embedded:io/i2c';
import Digital from 'embedded:io/digital';
import FlashStorage from 'embedded:storage/flash';
import KeyValueStorage from 'embedded:storage/key-value';
import { Digest } from 'crypt';
import Time from 'time';
import Timer from 'timer';
import sysReboot from 'ota-sys-reboot';
import Resource from 'Resource';
import { OtaError, startAgent, type Platform, type StartConfig } from 'xs-ota';

import { ModdableClock } from 'ota-clock';
import { ConfigError, JOURNAL_DOMAIN, SECRETS_DOMAIN, readDeviceConfig, type DeviceConfig } from 'ota-config';
import { ModdableDigest, type CryptDigestConstructor } from 'ota-digest';
import { ModdableDigitalIn, ModdableDigitalOut, NoPowerKey } from 'ota-digital';
import { ModdableFlash, type ZephyrFlashStorage } from 'ota-flash';
import { ModdableI2c } from 'ota-i2c';
import { ModdableKeyValue, type ZephyrKeyValueStorage } from 'ota-key-value';
import { TraceLog } from 'ota-log';
import { ZephyrReboot } from 'ota-reboot';
import { ModdableSerial } from 'ota-serial';
import { tlsCryptoPort } from 'ota-tls-port';
import type { ZephyrDigitalConstructor, ZephyrI2cConstructor, ZephyrSerialConstructor } from 'ota-zephyr-io';

/** The A5000's 7-bit I2C address (NXP nano package sm_i2c.c SE05X_I2C_DEV_ADDR; vectors/se05x README). */
const SE_I2C_ADDRESS = 0x48;

// The published typings describe numeric pins and ports; the Zephyr bindings take devicetree
// labels (modules/ota-zephyr-io.ts cites the C sources). One cast each, here at the boundary.
const ZephyrSerialIo = Serial as unknown as ZephyrSerialConstructor;
const ZephyrI2cIo = I2C as unknown as ZephyrI2cConstructor;
const ZephyrDigitalIo = Digital as unknown as ZephyrDigitalConstructor;
const flashStorage = FlashStorage as unknown as ZephyrFlashStorage;
const keyValueStorage = KeyValueStorage as unknown as ZephyrKeyValueStorage;

function readConfiguration(log: TraceLog): DeviceConfig {
  const secrets = new ModdableKeyValue(keyValueStorage, SECRETS_DOMAIN, 'r');
  try {
    return readDeviceConfig(config as Readonly<Record<string, unknown>>, (key) => secrets.read(key));
  } catch (error) {
    if (error instanceof ConfigError) {
      log.log('error', 'config.invalid', { key: error.key, detail: error.detail });
      throw new OtaError('config-invalid', error.message, error);
    }
    throw error;
  } finally {
    secrets.close();
  }
}

/**
 * The CA certificate (PEM) the modem verifies every TLS server against, shipped as a resource of
 * the build (manifest.json "resources"); the driver loads it into the modem at bring-up.
 */
function readCaCertificate(name: string): Uint8Array {
  return readResource('otaCaCert', name);
}

/**
 * otaControlTls agent with otaDeviceCert naming a resource (a lab build for one board; docs/tls.md,
 * "The device certificate"): the device certificate chain (PEM, leaf first) for the key the A5000
 * holds at otaDeviceKeyId. With the default `se:0x7B000304` startAgent reads the chain from the
 * A5000 object instead and never calls this.
 */
function readDeviceCertificate(name: string): Uint8Array {
  return readResource('otaDeviceCert', name);
}

function readResource(key: string, name: string): Uint8Array {
  try {
    return new Uint8Array(new Resource(name));
  } catch (error) {
    throw new OtaError('config-invalid', `${key}: no resource '${name}' in this build`, error);
  }
}

function buildPlatform(device: DeviceConfig, log: TraceLog): Platform {
  const hw = device.hardware;
  const powerKey = hw.pwrkeyPort === '' ? undefined : { port: hw.pwrkeyPort, pin: hw.pwrkeyPin };
  return {
    modemSerial: new ModdableSerial(ZephyrSerialIo, { port: hw.modemUart, baud: hw.modemBaud, log }),
    // PWRKEY idles released (0); the modem driver presses it.
    modemPowerKey: powerKey === undefined ? new NoPowerKey(log) : new ModdableDigitalOut(ZephyrDigitalIo, powerKey, 0),
    // STATUS, where wired: an off modem gets the power key without seconds of AT probes first.
    ...(hw.modemStatusPort === '' ? {} : { modemStatus: new ModdableDigitalIn(ZephyrDigitalIo, { port: hw.modemStatusPort, pin: hw.modemStatusPin }) }),
    seI2c: new ModdableI2c(ZephyrI2cIo, { port: hw.seI2c, address: SE_I2C_ADDRESS, hz: hw.seI2cHz }),
    primarySlot: new ModdableFlash(flashStorage, hw.primaryLabel, { largeBlockLength: hw.flashBlockErase }),
    secondarySlot: new ModdableFlash(flashStorage, hw.secondaryLabel, { largeBlockLength: hw.flashBlockErase }),
    keyValue: new ModdableKeyValue(keyValueStorage, JOURNAL_DOMAIN),
    digest: new ModdableDigest(Digest as unknown as CryptDigestConstructor),
    // AES-GCM and HMAC on crypt's native parts, for the agent's TLS (otaControlTls agent), in a
    // build whose bundle carries it (modules/ota-tls-port.ts); none in another.
    tlsCrypto: tlsCryptoPort(),
    clock: new ModdableClock(Time, { set: (callback, ms) => Timer.set(callback, ms), clear: (timer) => Timer.clear(timer as ReturnType<typeof Timer.set>) }),
    reboot: new ZephyrReboot(sysReboot, log),
    log,
  };
}

function main(): void {
  const log = new TraceLog((text) => trace(text));
  try {
    const device = readConfiguration(log);
    // The CA and a device certificate resource are loaded by the names the agent resolved
    // (otaCaCert, otaDeviceCert), so each name is checked once; the certificate only with
    // otaControlTls agent and a resource name (an `se:` object is read from the A5000 at boot).
    const settings: StartConfig = { ...device.agent, caPem: readCaCertificate, deviceCertPem: readDeviceCertificate };
    startAgent(buildPlatform(device, log), settings).catch((error: unknown) => {
      const reason = (error as { reason?: string }).reason ?? 'platform-error';
      log.log('error', 'agent.stopped', { reason, detail: error instanceof Error ? error.message : String(error) });
    });
  } catch (error) {
    // One line a field engineer can read on the console (a partition label that does not exist,
    // an unformatted settings partition), then the exception itself for xsbug.
    const reason = (error as { reason?: string }).reason ?? 'platform-error';
    log.log('error', 'startup.failed', { reason, detail: error instanceof Error ? error.message : String(error) });
    throw error;
  }
}

main();
