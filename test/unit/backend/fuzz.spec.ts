/**
 * Seeded fuzz: whatever JSON a server sends (random values, random mutations of good documents,
 * random bytes), a backend either returns a valid result or rejects with a typed OtaError. No
 * TypeError, no crash, no untyped failure.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HawkbitBackend } from '../../../src/backend/hawkbit.js';
import { ManifestBackend, parseManifest } from '../../../src/backend/manifest.js';
import { OtaError } from '../../../src/util/errors.js';
import { ScriptedHttp } from '../../support/scripted-http.js';

const SEED = 0x5eed;
const RUNS = 400;
const ROOT = 'https://h.example/DEFAULT/controller/v1/dev42';
const DEPLOY = `${ROOT}/deploymentBase/1?c=1`;
const TYPED = new Set(['backend-protocol', 'body-too-large']);

function goodDeployment(): any {
  return {
    id: '1',
    deployment: {
      download: 'forced',
      update: 'forced',
      chunks: [{ version: '1.0.0', artifacts: [{ filename: 'a.bin', size: 10, hashes: { sha256: 'a'.repeat(64) }, _links: { download: { href: 'https://c.example/a.bin' } } }] }],
    },
  };
}

/** Every path into a JSON value (objects and arrays), for mutation. */
function paths(value: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (value && typeof value === 'object') for (const key of Object.keys(value)) paths((value as any)[key], [...at, Array.isArray(value) ? Number(key) : key], out);
  return out;
}

function setAt(root: any, path: (string | number)[], replacement: unknown): any {
  if (path.length === 0) return replacement;
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]] = replacement;
  return root;
}

async function outcome(promise: Promise<unknown>): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof OtaError, `untyped failure: ${String(error)}`);
    assert.ok(TYPED.has(error.reason), `unexpected reason ${error.reason}`);
  }
}

describe('backends under fuzzed server answers (seeded)', () => {
  it('hawkBit: one field of a good deployment replaced by any JSON value', async () => {
    const all = paths(goodDeployment());
    await fc.assert(
      fc.asyncProperty(fc.nat(all.length - 1), fc.jsonValue({ maxDepth: 3 }), async (index, replacement) => {
        const dep = setAt(goodDeployment(), all[index], replacement);
        const http = new ScriptedHttp()
          .on('GET', ROOT, { status: 200, body: { config: { polling: { sleep: '00:01:00' } }, _links: { deploymentBase: { href: DEPLOY } } } })
          .on('GET', DEPLOY, { status: 200, body: JSON.stringify(dep) ?? 'null' })
          .on('POST', `${ROOT}/deploymentBase/1/feedback`, { status: 200 });
        await outcome(new HawkbitBackend({ http, server: 'https://h.example', controllerId: 'dev42' }).poll({ version: '0' }));
        // An unusable deployment is answered closed/failure (issue 13), at most once.
        const posts = http.sent.filter((r) => r.method === 'POST');
        assert.ok(posts.length <= 1 && posts.every((p) => (p.json as any).status.execution === 'closed'));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('hawkBit: any JSON value as the poll root', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (root) => {
        const http = new ScriptedHttp().on('GET', ROOT, { status: 200, body: JSON.stringify(root) ?? 'null' });
        await outcome(new HawkbitBackend({ http, server: 'https://h.example', controllerId: 'dev42' }).poll({ version: '0' }));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('manifest: any bytes as the body, in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 1, max: 64 }), async (bytes, chunkSize) => {
        const http = new ScriptedHttp().on('GET', 'https://m.example/m.json', { status: 200, body: bytes, chunkSize });
        await outcome(new ManifestBackend({ http, url: 'https://m.example/m.json' }).poll({ version: '0' }));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('manifest: one field of a good manifest replaced by any JSON value', () => {
    const good = () => ({ schema: 1, version: '1', size: 1, sha256: 'b'.repeat(64), url: '/x.bin', hardware: ['a'], reportUrl: 'https://r.example/' });
    const all = paths(good());
    fc.assert(
      fc.property(fc.nat(all.length - 1), fc.jsonValue({ maxDepth: 3 }), (index, replacement) => {
        try {
          parseManifest(setAt(good(), all[index], replacement), 'https://m.example/m.json');
        } catch (error) {
          assert.ok(error instanceof OtaError && error.reason === 'backend-protocol', String(error));
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});
