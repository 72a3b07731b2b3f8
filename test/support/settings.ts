/** Device settings for tests of the naming rule (src/agent/config.ts settingName). */
import { CONFIG_SCHEMA, type AgentSettingKey, type ConfigSpec } from '../../src/agent/config.js';

/**
 * A valid value of each device setting the agent takes that is not its default, in the manifest's
 * form: a mismatch of names between the schema and the agent (a renamed field) shows as a value
 * that does not arrive, or a key resolveConfig refuses as unknown.
 */
export function nonDefault(key: AgentSettingKey): unknown {
  const spec = CONFIG_SCHEMA[key] as ConfigSpec;
  const special: Partial<Record<AgentSettingKey, unknown>> = {
    otaUrl: 'https://other.example:8443/base',
    otaRedirectCredentialOrigins: 'https://cdn.example,http://10.0.0.2:8080',
    otaArtifactPattern: 'app-*.signed.bin',
    otaDeviceId: 'dev:2',
  };
  if (special[key] !== undefined) return special[key];
  if (spec.type === 'int') return spec.default === spec.min ? spec.max : spec.min;
  if (spec.type === 'choice') return spec.choices.find((c) => c !== spec.default);
  return spec.default === 'x1' ? 'x2' : 'x1';
}

