/**
 * For the bundle transforms' specs (tools/bundle/*): runs a script before and after a transform
 * in fresh contexts and asserts both return the same (JSON of the script's last expression).
 */
import assert from 'node:assert/strict';
import vm from 'node:vm';

/** A script transform as the bundle plugins export it: (code, kind, label) -> code. */
export type ScriptTransform = (code: string, kind: 'script', label: string) => string;

export function sameProgram(transform: ScriptTransform, globals: Record<string, unknown> = {}): (code: string) => string {
  const run = (code: string): unknown => JSON.stringify(vm.runInNewContext(code, { ...globals }));
  return (code) => {
    const out = transform(code, 'script', 'case');
    assert.equal(run(out), run(code), `changed:\n${out}`);
    return out;
  };
}
