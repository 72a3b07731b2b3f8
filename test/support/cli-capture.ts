/** Runs a CLI command in-process (tools/cli/*.ts `command`), capturing what it prints. */
import type { Command } from '../../tools/cli/main.js';

export async function runCaptured(command: Command, args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const [log, err] = [console.log, console.error];
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    const code = await command.run(args);
    return { code, out: lines.join('\n') };
  } finally {
    console.log = log;
    console.error = err;
  }
}
