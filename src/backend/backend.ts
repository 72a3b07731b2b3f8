/**
 * One interface for every update source (hawkBit DDI, static manifest, IoTConnect). The agent
 * asks `poll` what to do, and tells `report` what happened; a backend maps both onto its protocol.
 * Everything a backend returns came from a server: backends validate it before it gets here.
 */
import type { Reason } from '../util/errors.js';
import type { DeltaOffer } from '../delta/plan.js';

/** hawkBit's download/update handling types; other backends map onto them. */
export type HandlingType = 'skip' | 'attempt' | 'forced';

export interface UpdateOffer {
  /** The backend's id for this deployment (hawkBit action id, manifest version, IoTConnect ack id). */
  actionId: string;
  /**
   * Target version as the backend states it: a label ("1.3.0+5", "v1.1.0", "1.1.0-rc.1",
   * "v1.5-release"), reported back as given; the image header decides (src/backend/version-label.ts).
   */
  version: string;
  /**
   * The image header's version (formatVersion), when the backend read the header before the
   * download to choose among several files (src/backend/artifact-select.ts).
   */
  imageVersion?: string;
  /** Artifact URL (absolute). May be pre-signed and expire: see `refreshOffer`. */
  url: string;
  /** Artifact size in bytes, when the backend states it. */
  size?: number;
  /** SHA-256 of the whole artifact file, when the backend states it (checked after download). */
  sha256?: Uint8Array;
  download: HandlingType;
  update: HandlingType;
  /** hawkBit: whether the device may install now; absent means no window was set. */
  maintenanceWindow?: 'available' | 'unavailable';
  /** Hardware ids the image is for, when the backend states them. */
  hardware?: string[];
  /**
   * Minimum MCUboot security counter the backend states for the image (static manifest), so the
   * agent can refuse a rollback before downloading; the image's own TLV still decides.
   */
  securityCounter?: number;
  /**
   * Request headers the download of `url` needs (hawkBit: `Authorization: TargetToken …` when the
   * artifact is on the hawkBit server itself; never for another origin such as a CDN). The one
   * source of an artifact request's headers: the agent keeps them in RAM only (a credential never
   * goes to the journal) and fetches the offer again after a reset (refreshOffer).
   */
  headers?: Record<string, string>;
  /**
   * Deltas to this image (VCDIFF, docs/delta.md), each naming the image it was made from; the
   * agent takes one only when it was made from the running image, else the full image at `url`.
   */
  deltas?: DeltaOffer[];
}

export interface PollResult {
  /** A deployment to act on. */
  offer?: UpdateOffer;
  /** The backend asks to cancel this action. */
  cancelActionId?: string;
  /** Server-given poll interval, seconds. */
  pollIntervalS?: number;
}

/** What the agent tells the backend, at each step of a deployment. */
export type ReportPhase =
  | 'accepted' // the offer was accepted; download will start
  | 'downloading' // progress (done/total bytes)
  | 'resumed' // a download attempt resumes at progress.done (after a failure or a reset)
  | 'downloaded' // whole image in the slot, verified
  | 'waiting' // verified, held unstaged until the maintenance window opens
  | 'download-only' // final: a download-only deployment ended with the verified image kept unstaged
  | 'staged' // slot marked pending; rebooting into MCUboot's test swap
  | 'running' // the new image booted, passed its health check and was confirmed: success
  | 'failed' // the deployment ended without installing (reason says why)
  | 'reverted' // the new image booted but failed; MCUboot went back (reason says why)
  | 'cancelled'; // the backend cancelled and the agent stopped

export interface Report {
  actionId: string;
  phase: ReportPhase;
  /** Target version of the deployment (from verify on, the image header's). */
  version: string;
  /** The backend's own label for the target when it differs from `version` (reported as given). */
  label?: string;
  /** Version now running. */
  runningVersion: string;
  progress?: { done: number; total: number };
  reason?: Reason;
  detail?: string;
  /**
   * Final reports only: update-history lines the backend has not acknowledged yet
   * (src/agent/history.ts format, docs/history.md), oldest first.
   */
  history?: string[];
}

export interface UpdateBackend {
  /**
   * Whether the backend can cancel a deployment (hawkBit's cancelAction). Only then does the agent
   * poll between download segments and at state boundaries: for the others a poll is a cost (an
   * IoTConnect poll is an MQTT session) that can never bring a cancel. Default false.
   */
  readonly cancellable?: boolean;
  /** Ask what to do. Rejects with an OtaError (`backend-unavailable`, `http-status`, …). */
  poll(current: { version: string }): Promise<PollResult>;
  /**
   * The agent's cancel check during a deployment (between download segments, at state edges):
   * only `cancelActionId` and `pollIntervalS` are read, so a backend may skip what `poll` fetches
   * for an offer (hawkBit: the deploymentBase, one request of each check). Absent: `poll`.
   */
  pollCancel?(current: { version: string }): Promise<PollResult>;
  /** Tell the backend what happened. Rejects with an OtaError when it was not delivered. */
  report(report: Report): Promise<void>;
  /** Answer a cancellation (hawkBit: cancelAction feedback). */
  acknowledgeCancel(actionId: string, stopped: boolean): Promise<void>;
  /** Fetch the offer again (e.g. a pre-signed URL expired); undefined when the action is gone. */
  refreshOffer(actionId: string, current: { version: string }): Promise<UpdateOffer | undefined>;
}
