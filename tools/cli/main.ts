/**
 * `xs-ota`: the Node-side command line for firmware engineers and QA. Each subcommand lives in
 * its own module under tools/cli/ and is listed here.
 */
import { describeError, EXIT, UsageError } from './cli-common.js';
export interface Command {
  /** One line for `xs-ota help`. */
  summary: string;
  /** Runs the command; resolves with the process exit code. */
  run(args: string[]): Promise<number>;
}

type Loader = () => Promise<Command>;

/** Subcommands; a module is loaded only when its command runs. */
const COMMANDS: Record<string, Loader> = {
  version: async () => (await import('./version.js')).command,
  se: async () => (await import('./se.js')).command,
  server: async () => (await import('./server.js')).command,
  bench: async () => (await import('./bench.js')).command,
  sim: async () => (await import('./sim.js')).command,
  image: async () => (await import('./image.js')).command,
  release: async () => (await import('./release.js')).command,
  campaign: async () => (await import('./campaign.js')).command,
};

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    console.log('usage: xs-ota <command> [options]\n\ncommands:');
    for (const [key, load] of Object.entries(COMMANDS)) console.log(`  ${key.padEnd(16)} ${(await load()).summary}`);
    return name ? 0 : 2;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`xs-ota: unknown command '${name}' (try: xs-ota help)`);
    return 2;
  }
  try {
    return await (await load()).run(rest);
  } catch (error) {
    // One line, never a stack or a raw library message (tools/cli/cli-common.ts, docs/cli.md).
    if (error instanceof UsageError) {
      console.error(`xs-ota ${name}: ${error.message} (xs-ota ${name} --help lists the options)`);
      return EXIT.usage;
    }
    console.error(`xs-ota ${name}: ${describeError(error)}`);
    return EXIT.failed;
  }
}
