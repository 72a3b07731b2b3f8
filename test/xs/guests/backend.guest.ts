/**
 * XS guest: the hawkBit DDI and static manifest backends running inside XS, their HttpClient
 * crossing to the host (tools/xs/serve-http.ts) where a Node client talks to the reference server.
 */
import type { Report } from '../../../src/backend/backend.js';
import { HawkbitBackend, type HawkbitConfig } from '../../../src/backend/hawkbit.js';
import { ManifestBackend, type ManifestConfig } from '../../../src/backend/manifest.js';
import { hex } from '../../../src/util/bytes.js';
import { expose } from '../../../tools/xs/guest/bridge.js';
import { remoteHttp } from '../../../tools/xs/guest/http.js';

const http = remoteHttp();
let hawkbit: HawkbitBackend | undefined;
let manifest: ManifestBackend | undefined;

/** Offers cross back with the SHA-256 as hex, so the host compares plain values. */
function plain<T extends { offer?: { sha256?: Uint8Array } }>(result: T): unknown {
  if (!result.offer) return result;
  const { sha256, ...rest } = result.offer;
  return { ...result, offer: { ...rest, sha256: sha256 && hex(sha256) } };
}

expose({
  hawkbitInit: (config: Omit<HawkbitConfig, 'http'>) => {
    hawkbit = new HawkbitBackend({ ...config, http });
    return hawkbit.rootUrl;
  },
  hawkbitPoll: async (a: { version: string }) => plain(await hawkbit!.poll(a)),
  hawkbitReport: (report: Report) => hawkbit!.report(report),
  hawkbitCancel: (a: { actionId: string; stopped: boolean }) => hawkbit!.acknowledgeCancel(a.actionId, a.stopped),
  hawkbitRefresh: async (a: { actionId: string; version: string }) => plain({ offer: await hawkbit!.refreshOffer(a.actionId, a) }),
  manifestInit: (config: Omit<ManifestConfig, 'http'>) => {
    manifest = new ManifestBackend({ ...config, http });
    return manifest.url;
  },
  manifestPoll: async (a: { version: string }) => plain(await manifest!.poll(a)),
  manifestReport: (report: Report) => manifest!.report(report),
  /** A plain GET through the remote client: status, range and the body's SHA-256 (computed here in XS). */
  fetch: async (a: { url: string; start?: number; headers?: Record<string, string> }) => {
    let length = 0;
    let sum = 0;
    const head = await http.request(
      { method: 'GET', url: a.url, headers: a.headers, range: a.start === undefined ? undefined : { start: a.start } },
      { onData: (chunk) => { length += chunk.length; for (let i = 0; i < chunk.length; i++) sum = (sum + chunk[i]) >>> 0; } },
    );
    return { status: head.status, range: head.range ?? null, length, sum };
  },
});
