/**
 * Booted-engine snapshots. Loading the agent bundle (parse, compile, run its module bodies, after
 * hardening the built-ins) costs about 0.35 s of host CPU per boot, and the dev kit, the XS suites
 * and the fault campaign boot engines thousands of times. A device never does that work at boot:
 * mcconfig preloads the modules and the MCU starts from that heap image in flash. So the first
 * session of a (worker, creation, bundle) writes the engine's heap once it is loaded (xsnap `w`),
 * and later sessions start from it (xsnap `-r`), which is the device's own boot: the same frozen
 * built-ins, the same module state, the heap bound set after it (`$boundHeap`).
 *
 * The load's cranks are recorded with the snapshot and replayed into the session's meter, so the
 * computation and heap figures of a session are the same whether it was restored or loaded.
 * The bench does not use snapshots (DeviceProfileRecorder active): its figures come from engines
 * loaded as before. XSOTA_NO_SNAPSHOT=1 turns them off anywhere (to compare, or to debug a load).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { XsMeter } from './worker.js';

export interface BootSnapshot {
  /** The snapshot file (xsnap `-r`). */
  file: string;
  /** Meters of the cranks that loaded the engine (replayed into a restored session's meter). */
  load: XsMeter[];
}

export function snapshotsEnabled(): boolean {
  return process.env.XSOTA_NO_SNAPSHOT !== '1';
}

/** Where snapshots live: build/xs-snapshots beside the engine (ignored by git, like build/). */
function snapshotDir(workerBin: string): string {
  return path.join(path.dirname(workerBin), '..', '..', 'xs-snapshots');
}

/**
 * One snapshot per engine build, creation, and script loaded (the freeze and the bundle), named
 * `<bundle>-<hash>` so that a rebuilt bundle's new snapshot replaces its old one (see commit).
 */
export function snapshotKey(workerBin: string, bundle: string, creation: unknown, scripts: string[]): string {
  const stampFile = path.join(path.dirname(workerBin), '..', 'stamp');
  const hash = createHash('sha256');
  hash.update(existsSync(stampFile) ? readFileSync(stampFile) : workerBin);
  hash.update(JSON.stringify(creation));
  for (const script of scripts) hash.update(`\0${script.length}\0`).update(script);
  return `${path.basename(bundle).replace(/[^A-Za-z0-9_.]/g, '_')}-${hash.digest('hex').slice(0, 32)}`;
}

export function findBootSnapshot(workerBin: string, key: string): BootSnapshot | undefined {
  const dir = snapshotDir(workerBin);
  const file = path.join(dir, `${key}.xss`);
  const meta = path.join(dir, `${key}.json`);
  // The snapshot is renamed into place last: when it exists, its meters do too.
  if (!existsSync(file) || !existsSync(meta)) return undefined;
  try {
    const load = JSON.parse(readFileSync(meta, 'utf8')) as XsMeter[];
    return Array.isArray(load) ? { file, load } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where a new snapshot is written, and how it is put in place once written: a private name first,
 * then a rename, so parallel processes (mocha workers, campaign workers) never read half a file.
 */
export function newBootSnapshot(workerBin: string, key: string): { temp: string; commit: (load: XsMeter[]) => void } {
  const dir = snapshotDir(workerBin);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${key}.xss`);
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  return {
    temp,
    commit: (load) => {
      const meta = path.join(dir, `${key}.json`);
      writeFileSync(`${meta}.${process.pid}.tmp`, JSON.stringify(load));
      renameSync(`${meta}.${process.pid}.tmp`, meta);
      renameSync(temp, file);
      pruneOlder(dir, key);
    },
  };
}

/** Snapshots a process may still be opening are left alone: only those older than this go. */
const PRUNE_AGE_MS = 10 * 60 * 1000;

/** Removes the same bundle's snapshots of earlier builds (each is as large as the loaded heap). */
function pruneOlder(dir: string, key: string): void {
  const bundle = key.slice(0, key.lastIndexOf('-') + 1);
  const now = Date.now();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(bundle) || name.startsWith(key) || name.slice(bundle.length).includes('-')) continue;
    const file = path.join(dir, name);
    try {
      if (now - statSync(file).mtimeMs > PRUNE_AGE_MS) rmSync(file, { force: true });
    } catch {
      // Another process pruned it first.
    }
  }
}
