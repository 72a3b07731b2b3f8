/** Paths for tests: the repository root and the committed fixtures (tests run from build/test). */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as build/test/support/paths.js). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A path under test/fixtures/. */
export function fixturePath(...parts: string[]): string {
  return path.join(repoRoot, 'test', 'fixtures', ...parts);
}

/**
 * The vector directory for a set: the environment variable when set (so another set in the same
 * format runs without code changes), else the copy committed under test/fixtures/<set>.
 */
export function vectorDir(envVar: string, set: string): string {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist`);
    return path.resolve(fromEnv);
  }
  return fixturePath(set);
}

/** Every `.ts` file below `dir` (absolute paths), for specs that read the sources. */
export function tsFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFilesUnder(full));
    else if (entry.name.endsWith('.ts')) out.push(full);
  }
  return out;
}
