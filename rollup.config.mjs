// Bundles the tsc output (build/) for the XS engine.
//  - dist/xs-ota.mjs: the agent as one ES module, what the device runs (manifest.json includes it
//    as dist/xs-ota.js, the same bytes; modules/main.ts imports it and hands it the Moddable ports).
//  - build/xs/<name>.js: guest scripts for the XS engine in tests and the simulated dev kit
//    (every *.guest.ts under test/ and tools/), each the agent code it needs plus the bridge.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function findGuests(dir, found = []) {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) findGuests(full, found);
    else if (entry.endsWith('.guest.js')) found.push(full);
  }
  return found;
}

// XS (xsnap 13 in CI, 16+ on devices) runs ES2022; rollup adds nothing newer.
const common = { treeshake: { moduleSideEffects: true }, onwarn(warning, warn) {
  if (warning.code === 'CIRCULAR_DEPENDENCY') throw new Error(warning.message);
  warn(warning);
} };

// Guests that load device modules (modules/ota-config.ts imports `configSchema` from "xs-ota", the
// bundle's module name on the device) get the agent's own build for that name (core, issue 12.3).
const xsOtaName = { name: 'xs-ota-name', resolveId: (id) => (id === 'xs-ota' ? path.resolve('build/src/index.js') : null) };

export default [
  {
    ...common,
    input: 'build/src/index.js',
    // The same module twice: .mjs for Node and XS tests; .js for Moddable's mcconfig, whose
    // manifest rules compile .js and .ts modules and skip .mjs (SDK tools/mcmanifest.js, ModulesRule).
    output: [
      { file: 'dist/xs-ota.mjs', format: 'es', sourcemap: false },
      { file: 'dist/xs-ota.js', format: 'es', sourcemap: false },
    ],
  },
  ...[...findGuests('build/test'), ...findGuests('build/tools')].map((input) => ({
    ...common,
    input,
    plugins: [xsOtaName],
    output: {
      file: path.join('build/xs', path.basename(input).replace(/\.guest\.js$/, '.js')),
      format: 'iife',
      sourcemap: false,
    },
  })),
];
