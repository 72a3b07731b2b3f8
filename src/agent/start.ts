/**
 * PLACEHOLDER, to be replaced by the lead: the agent's entry point as the device (modules/main.ts)
 * and the simulated dev kit call it. It only logs `agent.started` through the log port and
 * returns. Its signature is the contract modules/main.ts is type-checked against
 * (`npm run typecheck:modules`); keep it or change both sides together.
 */
import type { Platform } from '../platform/index.js';

/** Which update backend the agent talks to (docs/device-build.md, configuration keys). */
export type BackendKind = 'hawkbit' | 'iotconnect' | 'static';

/**
 * Everything the agent needs to know that is not hardware. On the device it comes from the
 * manifest's `config` (read with `mc/config`) and, for secrets, from the key-value store; the
 * device side (modules/ota-config.ts) has already validated every value against its range.
 */
export interface AgentConfig {
  readonly backendKind: BackendKind;
  /** Base URL of the backend, `https://` (or `http://` for a lab server). */
  readonly backendUrl: string;
  /** hawkBit tenant (`DEFAULT` on a stock server); the IoTConnect company id for IoTConnect. */
  readonly tenant: string;
  /** The device's id at the backend; undefined: the agent uses the modem's IMEI. */
  readonly deviceId: string | undefined;
  /** Secret from the key-value store: backend credential (hawkBit target token); may be absent. */
  readonly authToken: string | undefined;
  /** APN for the PDP context; '' lets the network assign it. */
  readonly apn: string;
  /** Secrets from the key-value store, for operators that require APN authentication. */
  readonly apnUser: string | undefined;
  readonly apnPassword: string | undefined;
  /** Name of the CA certificate file in the modem's file system (HTTPS server verification). */
  readonly caCertName: string;
  /** A5000 object id of the update-signing public key. */
  readonly seKeyId: number;
  /** Seconds between polls when the backend does not say otherwise. */
  readonly pollIntervalS: number;
  /** Seconds a freshly booted image has to pass its health check before it is not confirmed. */
  readonly healthCheckDeadlineS: number;
}

/** PLACEHOLDER: logs that it was called, then returns. The lead replaces the body. */
export function startAgent(platform: Platform, config: AgentConfig): void {
  platform.log.log('info', 'agent.started', {
    backend: config.backendKind,
    pollIntervalS: config.pollIntervalS,
    placeholder: true,
  });
}
