/**
 * MCUboot image versions (`struct image_version`: u8 major, u8 minor, u16 revision, u32 build)
 * and the agent's update policy over them: semver order, then build number (MCUboot's
 * MCUBOOT_VERSION_CMP_USE_BUILD_NUMBER), plus the security counter (SEC_CNT TLV) floor.
 */
import { OtaError } from '../util/errors.js';

export interface ImageVersion {
  major: number;
  minor: number;
  revision: number;
  build: number;
}

/** -1, 0 or 1 as `a` is older, equal or newer than `b`. `useBuild` false ignores the build number. */
export function compareVersions(a: ImageVersion, b: ImageVersion, useBuild = true): -1 | 0 | 1 {
  const fields: (keyof ImageVersion)[] = useBuild ? ['major', 'minor', 'revision', 'build'] : ['major', 'minor', 'revision'];
  for (const f of fields) {
    if (a[f] !== b[f]) return a[f] < b[f] ? -1 : 1;
  }
  return 0;
}

/** `1.2.3+4` (imgtool's notation; `+0` is printed too, so the string round-trips). */
export function formatVersion(v: ImageVersion): string {
  return `${v.major}.${v.minor}.${v.revision}+${v.build}`;
}

/**
 * Parses imgtool's `--version` syntax: `major[.minor[.revision]][+build]`, each field in its
 * range (u8, u8, u16, u32). Throws `invalid-argument` otherwise.
 */
export function parseVersion(text: string): ImageVersion {
  const m = /^(\d+)(?:\.(\d+)(?:\.(\d+))?)?(?:\+(\d+))?$/.exec(text);
  if (!m) throw new OtaError('invalid-argument', `version '${text}' is not major.minor.revision+build`);
  const v = { major: Number(m[1]), minor: Number(m[2] ?? 0), revision: Number(m[3] ?? 0), build: Number(m[4] ?? 0) };
  if (v.major > 0xff || v.minor > 0xff || v.revision > 0xffff || v.build > 0xffffffff) {
    throw new OtaError('invalid-argument', `version '${text}' out of range (u8.u8.u16+u32)`);
  }
  return v;
}

export interface VersionPolicy {
  /** Accept an older image (a deliberate rollback ordered by the backend). Default false. */
  allowDowngrade?: boolean;
  /** Accept the running version again (re-flash). Default false. */
  allowSameVersion?: boolean;
  /** Compare build numbers too (MCUBOOT_VERSION_CMP_USE_BUILD_NUMBER). Default true. */
  useBuild?: boolean;
  /**
   * Lowest security counter the device accepts (stored on the device, raised after a confirmed
   * update). An image whose SEC_CNT is below it is refused even when downgrades are allowed;
   * an image without SEC_CNT counts as 0. Default 0.
   */
  minSecurityCounter?: number;
}

/**
 * Throws `downgrade`, `same-version` or `security-counter-rollback` when the candidate may not
 * replace the running image under `policy`.
 */
export function checkVersionPolicy(
  candidate: { version: ImageVersion; securityCounter?: number | undefined },
  running: ImageVersion,
  policy: VersionPolicy = {},
): void {
  const counter = candidate.securityCounter ?? 0;
  const floor = policy.minSecurityCounter ?? 0;
  if (counter < floor) throw new OtaError('security-counter-rollback', `SEC_CNT ${counter} < stored minimum ${floor}`);
  const order = compareVersions(candidate.version, running, policy.useBuild ?? true);
  if (order < 0 && !policy.allowDowngrade) {
    throw new OtaError('downgrade', `${formatVersion(candidate.version)} is older than running ${formatVersion(running)}`);
  }
  if (order === 0 && !policy.allowSameVersion) {
    throw new OtaError('same-version', `${formatVersion(candidate.version)} is already running`);
  }
}
