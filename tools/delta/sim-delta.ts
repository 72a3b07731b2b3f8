/** `xs-ota sim --delta` / `--delta-file`: the delta the dev kit offers beside the image. */
import { readFileSync } from 'node:fs';
import { applyDelta } from './decode.js';
import { encodeDelta } from './encode.js';

export async function simDelta(from: Uint8Array, to: Uint8Array, file: string | undefined): Promise<{ bytes: Uint8Array }> {
  const bytes = file !== undefined ? new Uint8Array(readFileSync(file)) : encodeDelta(from, to);
  if (file === undefined) {
    // What `xs-ota image delta` does: never offer a delta the agent's decoder does not turn into --image.
    const rebuilt = await applyDelta(bytes, from);
    if (!Buffer.from(rebuilt).equals(Buffer.from(to))) throw new Error('xdelta3 made a delta the decoder does not rebuild --image from');
  }
  process.stderr.write(`delta: ${bytes.length} bytes (${((bytes.length / to.length) * 100).toFixed(1)} % of the ${to.length}-byte image)\n`);
  return { bytes };
}
