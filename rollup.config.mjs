// Bundles the tsc output (build/) for the XS engine.
//  - dist/xs-ota.mjs: the agent as one ES module with every backend and every optional part, what
//    Node and the XS tests load; dist/xs-ota-all.js: the same bytes, for an all-backends mcconfig
//    build (OTA_BACKEND=all).
//  - dist/xs-ota-<backend><options>.js: the device bundles, one backend each (hawkbit,
//    iotconnect, manifest), chosen at build time by manifest.json (build.OTA_BACKEND): the other
//    backends' modules are not in the bundle at all, so a hawkBit build carries no MQTT or
//    IoTConnect code. <options> (build.OTA_OPTIONS) names the optional parts it also carries:
//    '' none (the modem's TLS, full images only), '-delta' delta updates (src/delta), '-tls' TLS
//    in the agent (src/tls), '-tls-delta' both. A part left out is not in the bundle at all.
//    Then the modem (build.OTA_MODEM): '' both drivers, '-sim7080' or '-sim7600' that one only,
//    e.g. dist/xs-ota-hawkbit-delta-sim7080.js.
//  - dist/<bundle>.d.ts beside every .js bundle: mcconfig's TypeScript pass resolves module
//    "xs-ota" to the bundle's path without extension and needs its declarations there; they
//    re-export the agent's declarations (dist/types/src, npm run build:types).
//  - dist/<bundle>.manifest.json beside every .js bundle, included by manifest.json: the device
//    modules only that bundle needs (agent TLS's crypto, SDK gcm and hmac, only in a TLS bundle).
//  - build/xs/<name>.js: guest scripts for the XS engine in tests and the simulated dev kit
//    (every *.guest.ts under test/ and tools/), each the agent code it needs plus the bridge.
// Every output has its class private names flattened to ordinary properties (`#x` -> `$_x`,
// tools/bundle/flatten-private-names.ts): about 10 % of the agent's flash on XS, no RAM; then its
// classes' fields set in their constructors (tools/bundle/fields-in-constructor.ts: no hidden
// initializer function per class) and its local bindings renamed short
// (tools/bundle/shorten-local-names.ts: fewer distinct keys in the preloaded heap). The XS tests
// and the dev kit run exactly what a device runs.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
// Built by build:ts before build:bundle runs (npm run build).
import { flattenPrivateNamesPlugin } from './build/tools/bundle/flatten-private-names.js';
import { fieldsInConstructorPlugin } from './build/tools/bundle/fields-in-constructor.js';
import { shortenLocalNamesPlugin } from './build/tools/bundle/shorten-local-names.js';

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

/** Each backend's module (build/src/backend/) and the class src/agent/start.ts constructs from it. */
const BACKENDS = {
  hawkbit: { module: 'hawkbit.js', exported: 'HawkbitBackend' },
  iotconnect: { module: 'iotconnect.js', exported: 'IotConnectBackend' },
  manifest: { module: 'manifest.js', exported: 'ManifestBackend' },
};
/**
 * The settings only one backend reads (src/agent/config.ts, CONFIG_SCHEMA): a bundle without that
 * backend resolves the module to its `.absent.js` sibling, which declares none of them.
 */
const BACKEND_SETTINGS = {
  hawkbit: path.resolve('build/src/agent/settings-hawkbit.js'),
  iotconnect: path.resolve('build/src/agent/settings-iotconnect.js'),
};
const BACKEND_DIR = path.resolve('build/src/backend');
const ERRORS_MODULE = path.resolve('build/src/util/errors.js');
const ABSENT_PREFIX = '\0xs-ota-absent-backend:';

/**
 * Keeps only `kept`'s backend module in the bundle: an import of another backend's module
 * resolves to a class of the same name whose constructor throws OtaError('config-invalid'), so
 * a build whose otaBackend names a backend it does not carry stops at start-up with one line
 * naming the bundle, never runs a half-configured agent.
 */
function onlyBackend(kept) {
  return {
    name: 'xs-ota-only-backend',
    resolveId(source, importer) {
      if (!importer || !source.startsWith('.')) return null;
      const resolved = path.resolve(path.dirname(importer), source);
      const settingsOf = Object.keys(BACKEND_SETTINGS).find((k) => BACKEND_SETTINGS[k] === resolved);
      if (settingsOf !== undefined) return settingsOf === kept ? null : resolved.replace(/\.js$/, '.absent.js');
      if (path.dirname(resolved) !== BACKEND_DIR) return null;
      const kind = Object.keys(BACKENDS).find((k) => BACKENDS[k].module === path.basename(resolved));
      if (kind === undefined || kind === kept) return null;
      return ABSENT_PREFIX + kind;
    },
    load(id) {
      if (!id.startsWith(ABSENT_PREFIX)) return null;
      const kind = id.slice(ABSENT_PREFIX.length);
      return [
        `import { OtaError } from ${JSON.stringify(ERRORS_MODULE)};`,
        `export class ${BACKENDS[kind].exported} {`,
        '  constructor() {',
        `    throw new OtaError('config-invalid', ${JSON.stringify(`otaBackend '${kind}': this firmware carries only the '${kept}' backend (dist/xs-ota-${kept}.js; build it with OTA_BACKEND=${kind})`)});`,
        '  }',
        '}',
        '',
      ].join('\n');
    },
  };
}

/**
 * The optional parts of a device bundle: each is reached from the rest of the agent only through
 * its modules here (src/agent/start.ts imports the part, src/agent/config.ts its settings), which
 * a bundle without the part resolves to the sibling `.absent.js` modules instead (same exports
 * and types, no code of the part).
 */
const PARTS = {
  delta: [path.resolve('build/src/agent/delta-part.js')],
  tls: [path.resolve('build/src/agent/agent-tls-part.js'), path.resolve('build/src/agent/settings-tls.js')],
};
/** OTA_OPTIONS suffix -> the parts it carries. */
const OPTIONS = { '': [], '-delta': ['delta'], '-tls': ['tls'], '-tls-delta': ['tls', 'delta'] };

function onlyParts(carried) {
  const absent = Object.keys(PARTS).filter((part) => !carried.includes(part));
  return {
    name: 'xs-ota-only-parts',
    resolveId(source, importer) {
      if (!importer || !source.startsWith('.')) return null;
      const resolved = path.resolve(path.dirname(importer), source);
      const part = absent.find((p) => PARTS[p].includes(resolved));
      return part === undefined ? null : resolved.replace(/\.js$/, '.absent.js');
    },
  };
}

/**
 * The modem driver of a device bundle (build option OTA_MODEM): src/agent/start.ts builds the
 * modem only through src/agent/modem-part.ts (both drivers, the default ''), which a one-modem
 * bundle resolves to its sibling modem-part.<model>.js: that driver and the HTTP client it uses.
 */
const MODEM_PART = path.resolve('build/src/agent/modem-part.js');
/** OTA_MODEM suffix -> the modem-part module's variant ('' both drivers). */
const MODEMS = { '': '', '-sim7080': 'sim7080', '-sim7600': 'sim7600' };

function onlyModem(model) {
  return {
    name: 'xs-ota-only-modem',
    resolveId(source, importer) {
      if (model === '' || !importer || !source.startsWith('.')) return null;
      const resolved = path.resolve(path.dirname(importer), source);
      return resolved === MODEM_PART ? resolved.replace(/\.js$/, `.${model}.js`) : null;
    },
  };
}

/**
 * The manifest fragment of a TLS bundle (manifest.json includes
 * dist/xs-ota-$(OTA_BACKEND)$(OTA_OPTIONS)$(OTA_MODEM).manifest.json): the device modules and SDK
 * crypto only TLS in the agent uses, modules/ota-tls-port.ts (the TlsCryptoPort main.ts hands the
 * agent), modules/ota-tls-crypto.ts and the SDK's gcm and hmac, all preloaded.
 */
const TLS_MANIFEST = {
  modules: {
    'ota-tls-port': '$(XS_OTA)/modules/ota-tls-port',
    'ota-tls-crypto': '$(XS_OTA)/modules/ota-tls-crypto',
    gcm: '$(MODDABLE)/modules/crypt/etc/gcm',
    hmac: '$(MODDABLE)/modules/crypt/etc/hmac',
  },
  preload: ['ota-tls-port', 'ota-tls-crypto', 'gcm', 'hmac'],
};
/** A bundle without agent TLS: "ota-tls-port" gives no port, and none of that code is in the build. */
const NO_TLS_MANIFEST = {
  modules: { 'ota-tls-port': '$(XS_OTA)/modules/absent/ota-tls-port' },
  preload: ['ota-tls-port'],
};

/**
 * Writes <bundle>.d.ts beside each output file: the bundle's types, for mcconfig's tsc; and
 * <bundle>.manifest.json, the device modules the bundle needs beside it (`tls`: it carries TLS in
 * the agent).
 */
function declarationsBeside({ tls }) {
  return {
    name: 'xs-ota-declarations',
    generateBundle(options) {
      if (!options.file || !options.file.endsWith('.js')) return;
      this.emitFile({
        type: 'asset',
        fileName: path.basename(options.file).replace(/\.js$/, '.d.ts'),
        source: "// Generated by rollup.config.mjs: the types of the agent bundle beside this file.\nexport * from './types/src/index.js';\n",
      });
      this.emitFile({
        type: 'asset',
        fileName: path.basename(options.file).replace(/\.js$/, '.manifest.json'),
        source: `${JSON.stringify(tls ? TLS_MANIFEST : NO_TLS_MANIFEST, null, '\t')}\n`,
      });
    },
  };
}
// Guests that load device modules (modules/ota-config.ts imports `configSchema` from "xs-ota", the
// bundle's module name on the device) get the agent's own build for that name (core, issue 12.3).
const xsOtaName = { name: 'xs-ota-name', resolveId: (id) => (id === 'xs-ota' ? path.resolve('build/src/index.js') : null) };

export default [
  {
    ...common,
    input: 'build/src/index.js',
    plugins: [declarationsBeside({ tls: true }), flattenPrivateNamesPlugin(), fieldsInConstructorPlugin(), shortenLocalNamesPlugin()],
    // The same module twice: .mjs for Node and XS tests; .js for Moddable's mcconfig, whose
    // manifest rules compile .js and .ts modules and skip .mjs (SDK tools/mcmanifest.js, ModulesRule).
    output: [
      { file: 'dist/xs-ota.mjs', format: 'es', sourcemap: false },
      { file: 'dist/xs-ota-all.js', format: 'es', sourcemap: false },
    ],
  },
  ...Object.keys(BACKENDS).flatMap((kind) => Object.entries(OPTIONS).flatMap(([suffix, parts]) => Object.entries(MODEMS).map(([modemSuffix, model]) => ({
    ...common,
    input: 'build/src/index.js',
    plugins: [onlyBackend(kind), onlyParts(parts), onlyModem(model), declarationsBeside({ tls: parts.includes('tls') }), flattenPrivateNamesPlugin(), fieldsInConstructorPlugin(), shortenLocalNamesPlugin({ verify: false })],
    output: { file: `dist/xs-ota-${kind}${suffix}${modemSuffix}.js`, format: 'es', sourcemap: false },
  })))),
  ...[...findGuests('build/test'), ...findGuests('build/tools')].map((input) => ({
    ...common,
    input,
    plugins: [xsOtaName, flattenPrivateNamesPlugin(), fieldsInConstructorPlugin(), shortenLocalNamesPlugin()],
    output: {
      file: path.join('build/xs', path.basename(input).replace(/\.guest\.js$/, '.js')),
      format: 'iife',
      sourcemap: false,
    },
  })),
];
