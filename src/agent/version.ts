/**
 * Image versions as MCUboot stores them (major.minor.revision+build; u8.u8.u16+u32) in the
 * string form backends and logs use. Ordering follows MCUboot's boot_version_cmp: major, minor,
 * revision, then build number.
 */
export interface Version {
  major: number;
  minor: number;
  revision: number;
  build: number;
}

const VERSION = /^(\d{1,3})\.(\d{1,3})\.(\d{1,5})(?:\+(\d{1,10}))?$/;

/** Parses "1.2.3" or "1.2.3+4"; undefined when malformed or out of MCUboot's field ranges. */
export function parseVersion(text: string): Version | undefined {
  const m = VERSION.exec(text);
  if (!m) return undefined;
  const v = { major: Number(m[1]), minor: Number(m[2]), revision: Number(m[3]), build: m[4] === undefined ? 0 : Number(m[4]) };
  if (v.major > 0xff || v.minor > 0xff || v.revision > 0xffff || v.build > 0xffffffff) return undefined;
  return v;
}

export function formatVersion(v: Version): string {
  return `${v.major}.${v.minor}.${v.revision}+${v.build}`;
}

/**
 * Negative when a < b, 0 when equal, positive when a > b. A version given without "+build" is
 * compared without the build number (a backend that names "1.3.0" means any build of it).
 * Unparseable input compares as lowest, so it is never taken for an upgrade.
 */
export function compareVersions(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (!va || !vb) return va ? 1 : vb ? -1 : 0;
  const d = va.major - vb.major || va.minor - vb.minor || va.revision - vb.revision;
  if (d !== 0 || !a.includes('+') || !b.includes('+')) return d;
  return va.build - vb.build;
}
