#!/usr/bin/env node
// The `xs-ota` command (package.json "bin"): runs the compiled CLI in build/ (npm ci builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../build/tools/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  console.error('xs-ota: not built yet; run `npm run build` (npm ci does it too)');
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv.slice(2));
