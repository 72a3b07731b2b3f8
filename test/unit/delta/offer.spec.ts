/**
 * How an offer names its deltas: the static manifest's `deltas[]` (validated field by field,
 * `backend-protocol` naming the field) and hawkBit's second artifact named
 * `NAME.from-<version>-<image hash>.vcdiff` (src/delta/offer-fields.ts, docs/delta.md).
 */
import assert from 'node:assert/strict';
import { HawkbitBackend } from '../../../src/backend/hawkbit.js';
import { parseManifest } from '../../../src/backend/manifest.js';
import { chooseUrl } from '../../../src/backend/iotconnect.js';
import { deltaFilename, deltasFromFiles, deltaSourceFromFilename } from '../../../src/delta/offer-fields.js';
import { hex } from '../../../src/util/bytes.js';
import { OtaError } from '../../../src/util/errors.js';
import { ScriptedHttp } from '../../support/scripted-http.js';

const SHA = '8040e6a5b1bd4e8bbd25ad4a7d47e0d1df2a5a06b1ba6bda2b43e0d5bb0cf6dd';
const SRC = '447e2a692cfa4bb0ebefafa8f4521dbdf8d93834e2c02deadf8aa123d6afe5a3';
const BASE = 'https://u.example/m.json';

const manifest = (deltas: unknown) => ({ schema: 1, version: '1.1.0+2', size: 19898, sha256: SHA, url: '/fw/1.1.0+2.bin', deltas });
const entry = () => ({ url: '/fw/d.vcdiff', size: 873, sha256: SHA, fromVersion: '1.0.0+1', fromImageHash: SRC });
const protocolError = (field: RegExp) => (e: unknown) => e instanceof OtaError && e.reason === 'backend-protocol' && field.test(e.message);

describe('delta: offers', () => {
  it('manifest deltas[]: parsed, URLs resolved against the manifest origin', () => {
    const m = parseManifest(manifest([entry()]), BASE);
    assert.equal(m.deltas?.length, 1);
    const d = m.deltas![0];
    assert.equal(d.url, 'https://u.example/fw/d.vcdiff');
    assert.equal(d.size, 873);
    assert.equal(hex(d.sha256), SHA);
    assert.equal(hex(d.fromImageHash), SRC);
    assert.equal(d.fromVersion, '1.0.0+1');
  });

  it('manifest deltas[]: each bad field is named', () => {
    assert.throws(() => parseManifest(manifest({}), BASE), protocolError(/deltas/));
    assert.throws(() => parseManifest(manifest(Array.from({ length: 9 }, entry)), BASE), protocolError(/deltas/));
    assert.throws(() => parseManifest(manifest([{ ...entry(), size: 0 }]), BASE), protocolError(/deltas\[0\]\.size/));
    assert.throws(() => parseManifest(manifest([{ ...entry(), sha256: 'xyz' }]), BASE), protocolError(/deltas\[0\]\.sha256/));
    assert.throws(() => parseManifest(manifest([{ ...entry(), fromImageHash: SRC.slice(2) }]), BASE), protocolError(/deltas\[0\]\.fromImageHash/));
    assert.throws(() => parseManifest(manifest([{ ...entry(), url: 'ftp://x' }]), BASE), protocolError(/deltas\[0\]\.url/));
    assert.throws(() => parseManifest(manifest([entry(), 'x']), BASE), protocolError(/deltas\[1\]/));
  });

  it('the hawkBit file-name convention, both ways', () => {
    const name = deltaFilename('app', '1.0.0+1', SRC);
    assert.equal(name, `app.from-1.0.0+1-${SRC}.vcdiff`);
    assert.deepEqual(deltaSourceFromFilename(name), { fromVersion: '1.0.0+1', fromImageHash: Uint8Array.from(Buffer.from(SRC, 'hex')) });
    assert.equal(deltaSourceFromFilename(`app.from-${SRC}.vcdiff`)?.fromVersion, '');
    for (const bad of ['app.vcdiff', `app.from-${SRC}.bin`, `app.from-1.0-${SRC}.vcdiff`, `app.from-${SRC.toUpperCase()}.vcdiff`, `app.from-${SRC}0.vcdiff`]) {
      assert.equal(deltaSourceFromFilename(bad), undefined, bad);
    }
  });

  it('IoTConnect urls[]: a further file named with source, size and SHA-256 is a delta, never the image', () => {
    const name = deltaFilename('app', '1.0.0+1', SRC, { size: 873, sha256: SHA });
    assert.equal(name, `app.from-1.0.0+1-${SRC}.size-873.sha256-${SHA}.vcdiff`);
    const files = [
      { url: `https://blob.example/ota/${name}?sig=1`, fileName: name },
      { url: 'https://blob.example/ota/app.signed.bin?sig=2', fileName: 'app.signed.bin' },
      { url: `https://blob.example/ota/${deltaFilename('app', '1.0.0+1', SRC)}` }, // no size/hash: not taken
      { url: `https://blob.example/ota/app.from-${SRC}.size-0.sha256-${SHA}.vcdiff` }, // size 0: not taken
    ];
    const deltas = deltasFromFiles(files);
    assert.equal(deltas.length, 1);
    assert.equal(deltas[0].size, 873);
    assert.equal(hex(deltas[0].sha256), SHA);
    assert.equal(deltas[0].url, files[0].url);
    // The image is the .bin even with the delta listed first; a delta alone is no image.
    assert.equal(chooseUrl({ ack: 'a', sw: '1.1.0', urls: files }), files[1].url);
    assert.equal(chooseUrl({ ack: 'a', sw: '1.1.0', urls: [files[0]] }), undefined);
  });

  it('hawkBit: a conventionally named artifact in the chunk becomes a delta of the offer; one without sha256 does not', async () => {
    const ROOT = 'https://hawkbit.example/DEFAULT/controller/v1/dev42';
    const DEPLOY = `${ROOT}/deploymentBase/8`;
    const artifact = (filename: string, sha256?: string) => ({
      filename,
      size: 873,
      hashes: sha256 ? { sha256 } : { sha1: 'e3ba' },
      _links: { download: { href: `${ROOT}/softwaremodules/22/artifacts/${filename}` } },
    });
    const body = {
      id: '8',
      deployment: {
        download: 'forced',
        update: 'forced',
        chunks: [{ part: 'bApp', version: '1.1.0+2', name: 'app', artifacts: [artifact('zephyr.signed.bin', SHA), artifact(deltaFilename('app', '1.0.0+1', SRC), SHA), artifact(`app.from-${SHA}.vcdiff`)] }],
      },
    };
    const http = new ScriptedHttp()
      .on('GET', ROOT, { status: 200, body: { config: { polling: { sleep: '00:05:00' } }, _links: { deploymentBase: { href: DEPLOY } } } })
      .on('GET', DEPLOY, { status: 200, body });
    const offer = (await new HawkbitBackend({ http, server: 'https://hawkbit.example', controllerId: 'dev42', token: 't' }).poll({ version: '1.0.0+1' })).offer!;
    assert.equal(offer.url, `${ROOT}/softwaremodules/22/artifacts/zephyr.signed.bin`, 'the image is still the .bin');
    assert.equal(offer.deltas?.length, 1);
    assert.equal(hex(offer.deltas![0].fromImageHash), SRC);
    assert.equal(offer.deltas![0].url, `${ROOT}/softwaremodules/22/artifacts/${deltaFilename('app', '1.0.0+1', SRC)}`);
  });
});
