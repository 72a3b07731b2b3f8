/**
 * A backend's version string is a label, not the image's version: hawkBit's chunk `version` and
 * IoTConnect's `sw` are free text (`v1.1.0`, `1.1.0-rc.1`, `v1.5-release`, `2.0.0-rc1`), while the
 * MCUboot header holds `major.minor.revision+build` and decides (with the security counter) at
 * verify. This module reads what it can of a label for the checks before a download, and never
 * refuses a deployment because its label is not imgtool syntax; the label is reported back as given.
 */
import { compareVersions, parseVersion, type ImageVersion } from '../image/version.js';

/** Longest label read (longer ones are only reported, never parsed). */
export const LABEL_MAX = 64;

export interface LabelVersion {
  version: ImageVersion;
  /** Whether the label named a build number (`+N`): only then is the build compared. */
  hasBuild: boolean;
  /** Whether the label is exactly the version (no `v` prefix needed, no suffix such as `-rc.1`). */
  exact: boolean;
}

/**
 * The version a label names, read leniently: an optional `v`, then `major[.minor[.revision]]`
 * with an optional `+build`, then an optional suffix after `-`, `_` or `.` (a pre-release or a
 * build tag). Undefined when no number can be read or a field is out of the header's range.
 */
export function labelVersion(label: string): LabelVersion | undefined {
  if (label.length > LABEL_MAX) return undefined;
  const m = /^[vV]?(\d{1,10})(?:\.(\d{1,10})(?:\.(\d{1,10}))?)?(?:\+(\d{1,10}))?(?:[-_.~]([0-9A-Za-z][0-9A-Za-z.+_-]*))?$/.exec(label.trim());
  if (!m) return undefined;
  const text = `${m[1]}.${m[2] ?? 0}.${m[3] ?? 0}${m[4] === undefined ? '' : `+${m[4]}`}`;
  try {
    const version = parseVersion(text);
    return { version, hasBuild: m[4] !== undefined, exact: m[5] === undefined && !/^[vV]/.test(label) && m[3] !== undefined };
  } catch {
    return undefined;
  }
}

/**
 * How a deployment's label orders against the running version, for the checks before a
 * download: `cmp` -1/0/1, or undefined when the label names no version (then only the header
 * decides, at verify). `exact` false (a suffix, a `v`): an equal number is no reason to refuse,
 * since `1.1.0-rc.2` after `1.1.0-rc.1` both carry 1.1.0 in a header that has no pre-release field.
 */
export function labelOrder(label: string, running: string): { cmp: number | undefined; exact: boolean } {
  const target = labelVersion(label);
  const current = labelVersion(running);
  if (!target || !current) return { cmp: undefined, exact: false };
  return { cmp: compareVersions(target.version, current.version, target.hasBuild && current.hasBuild), exact: target.exact };
}
