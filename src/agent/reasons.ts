import type { BackendReason } from '../backend/reasons.js';
import type { DeltaReason } from '../delta/reasons.js';
import type { ImageReason } from '../image/reasons.js';
import type { ModemReason } from '../modem/reasons.js';
import type { MqttReason } from '../net/mqtt/reasons.js';
import type { NetReason } from '../net/reasons.js';
import type { SeReason } from '../se/reasons.js';
import type { SlotReason } from '../slot/reasons.js';
import type { TlsReason } from '../tls/reasons.js';
import type { CommonReason } from '../util/errors.js';

/** Failure reasons of the agent's state machine and policy. */
export type AgentReason =
  | 'journal-invalid'
  // An update-history slot that does not parse (src/agent/history.ts).
  | 'history-invalid'
  | 'journal-write-failed'
  | 'loop-detected'
  | 'retries-exhausted'
  | 'incompatible'
  | 'unconfirmed-running'
  | 'health-check-failed'
  | 'reverted'
  | 'cancelled';

/**
 * Every reason any part of the agent can fail with: the union of the subsystems' own sets,
 * assembled here at the top, where the agent reports and switches on reasons (the subsystems and
 * src/util/errors.ts import none of each other's).
 */
export type OtaReason =
  | CommonReason
  | AgentReason
  | BackendReason
  | DeltaReason
  | ImageReason
  | ModemReason
  | MqttReason
  | NetReason
  | SeReason
  | SlotReason
  | TlsReason;
