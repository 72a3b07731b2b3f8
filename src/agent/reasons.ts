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
