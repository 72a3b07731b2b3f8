/** Failure reasons of the agent's state machine and policy. */
export type AgentReason =
  | 'journal-invalid'
  | 'journal-write-failed'
  | 'loop-detected'
  | 'retries-exhausted'
  | 'downgrade'
  | 'same-version'
  | 'security-counter'
  | 'too-large'
  | 'incompatible'
  | 'unconfirmed-running'
  | 'health-check-failed'
  | 'reverted'
  | 'cancelled';
