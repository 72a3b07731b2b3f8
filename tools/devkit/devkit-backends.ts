/**
 * The dev kit's update backends: what the reference server is told to offer, and the settings
 * the agent needs to reach it. One function per backend kind.
 */
import type { StartConfig } from '../../src/agent/start.js';
import type { ReferenceServer } from '../server/index.js';
import type { DevkitFault } from './devkit.js';

export type DevkitBackend = 'hawkbit' | 'manifest';

export interface BackendSetup {
  server: ReferenceServer;
  image: Uint8Array;
  version: string;
  faults: DevkitFault[];
  deployment?: { update?: 'skip' | 'attempt' | 'forced'; maintenanceWindow?: 'available' | 'unavailable' };
}

export interface PreparedBackend {
  backendUrl: string;
  /** Settings that override the dev kit's defaults for this backend. */
  settings?: Partial<StartConfig>;
  close?: () => Promise<void>;
}

export async function prepareBackend(kind: DevkitBackend, setup: BackendSetup): Promise<PreparedBackend> {
  const { server, image, version, faults, deployment } = setup;
  const expiresInS = faults.some((f) => f.kind === 'expired-url') ? 60 : undefined;
  if (faults.some((f) => f.kind === 'server-503')) server.misbehave({ status: 503, count: 2, retryAfterS: 30, path: '/artifacts/' });
  if (faults.some((f) => f.kind === 'server-429')) server.misbehave({ status: 429, count: 1, retryAfterS: 120, path: '/artifacts/' });
  switch (kind) {
    case 'hawkbit':
      server.hawkbit.createDeployment({ version, image, filename: 'app.signed.bin', download: 'forced', update: deployment?.update ?? 'forced', maintenanceWindow: deployment?.maintenanceWindow, expiresInS });
      return { backendUrl: server.url };
    case 'manifest':
      return { backendUrl: server.manifest.publish({ name: 'devkit', version, image, expiresInS }).url };
  }
}
