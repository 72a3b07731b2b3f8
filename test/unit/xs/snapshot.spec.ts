/**
 * tools/xs/snapshot.ts: a rebuilt bundle's snapshot replaces the old one (each is as large as the
 * loaded heap), other bundles' snapshots and recent ones stay, and a key changes with what it covers.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findBootSnapshot, newBootSnapshot, snapshotKey } from '../../../tools/xs/snapshot.js';

describe('XS boot snapshots (tools/xs/snapshot.ts)', () => {
  let root: string;
  let bin: string;
  let dir: string;
  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'xs-ota-snapshot-'));
    bin = path.join(root, 'xsnap32', 'bin', 'xsnap-worker');
    mkdirSync(path.dirname(bin), { recursive: true });
    writeFileSync(path.join(root, 'xsnap32', 'stamp'), 'stamp 1');
    dir = path.join(root, 'xs-snapshots');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const save = (key: string): void => {
    const next = newBootSnapshot(bin, key);
    writeFileSync(next.temp, 'heap');
    next.commit([{ compute: 1, allocate: 2, currentHeapCount: 3 }]);
  };
  const age = (key: string): void => {
    const old = new Date(Date.now() - 3600_000);
    for (const ext of ['.xss', '.json']) utimesSync(path.join(dir, key + ext), old, old);
  };

  it('keys by bundle, engine stamp, creation and scripts', () => {
    const k = snapshotKey(bin, 'agent', { stack: 1 }, ['a', 'b']);
    assert.match(k, /^agent-[0-9a-f]{32}$/);
    assert.equal(snapshotKey(bin, 'agent', { stack: 1 }, ['a', 'b']), k);
    assert.notEqual(snapshotKey(bin, 'agent', { stack: 2 }, ['a', 'b']), k);
    assert.notEqual(snapshotKey(bin, 'agent', { stack: 1 }, ['ab']), k);
    writeFileSync(path.join(root, 'xsnap32', 'stamp'), 'stamp 2');
    assert.notEqual(snapshotKey(bin, 'agent', { stack: 1 }, ['a', 'b']), k);
  });

  it('finds a committed snapshot with its load meters', () => {
    const key = snapshotKey(bin, 'agent', {}, ['x']);
    assert.equal(findBootSnapshot(bin, key), undefined);
    save(key);
    assert.deepEqual(findBootSnapshot(bin, key)?.load, [{ compute: 1, allocate: 2, currentHeapCount: 3 }]);
  });

  it("replaces the same bundle's older snapshot, keeps recent ones and other bundles'", () => {
    const old = snapshotKey(bin, 'agent', {}, ['v1']);
    const recent = snapshotKey(bin, 'agent', {}, ['v2']);
    const other = snapshotKey(bin, 'iotc-tls', {}, ['v1']);
    save(old);
    save(other);
    age(old);
    age(other);
    save(recent);
    const now = snapshotKey(bin, 'agent', {}, ['v3']);
    save(now);
    assert.equal(existsSync(path.join(dir, `${old}.xss`)), false, 'old snapshot of the same bundle pruned');
    assert.equal(existsSync(path.join(dir, `${old}.json`)), false);
    assert.ok(existsSync(path.join(dir, `${recent}.xss`)), 'a recent one may still be opened by another process');
    assert.ok(existsSync(path.join(dir, `${other}.xss`)), "another bundle's snapshot stays");
    assert.ok(findBootSnapshot(bin, now));
  });
});
