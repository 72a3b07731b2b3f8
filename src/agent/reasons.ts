/** Failure reasons of the agent's state machine and policy. */
export type AgentReason =
  | 'journal-invalid'
  | 'journal-write-failed'
  | 'loop-detected'
  | 'retries-exhausted'
  | 'incompatible'
  | 'unconfirmed-running'
  | 'health-check-failed'
  | 'reverted'
  | 'cancelled';
