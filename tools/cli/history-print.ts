/** The update history (src/agent/history.ts) as `xs-ota sim --history` prints it: one line per attempt. */
import type { HistoryEntry } from '../../src/agent/history.js';

export function formatHistory(entries: HistoryEntry[]): string {
  if (entries.length === 0) return 'update history: empty';
  const short = (h: string | undefined) => (h ? h.slice(0, 16) : '-');
  const lines = [`update history (${entries.length} attempt${entries.length === 1 ? '' : 's'}, oldest first):`];
  lines.push('  seq  time                  backend    action     from -> to              verdict        reason               bytes     host            key            SEC_CNT  hashes from / to');
  for (const e of entries) {
    const time = e.time === undefined ? '-' : new Date(e.time * 1000).toISOString().replace('.000', '');
    lines.push(
      `  ${String(e.seq).padEnd(4)} ${time.padEnd(21)} ${e.backend.padEnd(10)} ${e.actionId.slice(0, 10).padEnd(10)} ${`${e.fromVersion} -> ${e.toVersion}`.padEnd(23)} ` +
        `${(e.verdict + (e.reverted ? '*' : '')).padEnd(14)} ${(e.reason ?? '-').padEnd(20)} ${String(e.bytes).padEnd(9)} ${e.host.padEnd(15)} ${e.keyId.padEnd(14)} ` +
        `${String(e.securityCounter ?? '-').padEnd(8)} ${short(e.fromHash)} / ${short(e.toHash)}`,
    );
  }
  lines.push('  (* MCUboot reverted to the previous image)');
  return lines.join('\n');
}
