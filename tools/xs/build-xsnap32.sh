#!/usr/bin/env bash
# Build a 32-bit xsnap-worker with the xs-ota device profile (tools/xs/native/xs-ota-device-*.c),
# from the XS and xsnap sources that @agoric/xsnap already ships, into build/xsnap32/.
#
# Why: a Cortex-M runs XS with 4-byte pointers and 16-byte slots; the package builds a 64-bit
# engine (32-byte slots) with xsnap's fixed 4096-slot stack and 32 MiB heap. Every XS test and
# the bench run this engine instead (tools/xs/worker.ts), with the manifest's `creation`.
# Needs a compiler that targets i386 (Debian: gcc-multilib). Nothing here is committed but the
# recipe; the output lives in build/ (ignored by git).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pkg="$root/node_modules/@agoric/xsnap"
out="${XSOTA_XSNAP32_DIR:-$root/build/xsnap32}"
src="$pkg/xsnap-native/xsnap/sources"
bin="$out/bin/xsnap-worker"
[ -d "$src" ] || { echo "build-xsnap32: $src not found (run npm ci)" >&2; exit 1; }
version="$(node -p "require('$pkg/package.json').version")"
stamp="$version $(cat "$root"/tools/xs/native/*.c "$0" | sha256sum | cut -c1-16)"
if [ -x "$bin" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi

# Build in a private directory, then move it into place: parallel callers never see half a build.
work="$(mktemp -d "${out%/*}/.xsnap32.XXXXXX" 2>/dev/null || { mkdir -p "${out%/*}"; mktemp -d "${out%/*}/.xsnap32.XXXXXX"; })"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src"
cp "$src"/*.c "$src"/*.h "$work/src/"
cp "$root"/tools/xs/native/*.c "$work/src/"

# Nine hooks into the copied xsnap-worker.c; each must apply exactly once.
worker="$work/src/xsnap-worker.c"
hook() { # $1 = fixed text to find, $2 = replacement
  local n; n="$(grep -cF -- "$1" "$worker" || true)"
  [ "$n" = 1 ] || { echo "build-xsnap32: expected one '$1' in xsnap-worker.c, found $n" >&2; exit 1; }
  FIND="$1" REPL="$2" perl -0pi -e 's/\Q$ENV{FIND}\E/$ENV{REPL}/' "$worker"
}
hook 'xsCreation* creation = &_creation;' 'xsCreation* creation = &_creation; xsOtaDeviceCreation(creation);'
hook 'machine = xsCreateMachine(creation, "xsnap", NULL);' 'machine = xsCreateMachine(creation, "xsnap", NULL); xsOtaDeviceMachine(machine);'
hook 'xsBeginMetering(machine, fxMeteringCallback, interval);' 'xsBeginMetering(machine, xsOtaMeteringCallback, xsOtaMeteringInterval(interval));'
hook 'xsResult = xsNewHostFunction(xs_issueCommand, 1);' 'xsResult = xsNewHostFunction(xs_ota_issue_command, 1);'
# A crank resets the meter index but not the next check; without this the checks of a crank
# start only once it passes the previous crank's count.
hook '(xsSetCurrentMeter(_THE, 0), \' '(xsSetCurrentMeter(_THE, 0), xsOtaBeginCrank(_THE), \'
hook '(gxCurrentMeter = 0, \' '(xsOtaEndCrank(_THE), gxCurrentMeter = 0, \'
# Snapshots (tools/xs/snapshot.ts: a booted engine restored as a device boots its preloaded heap):
# a snapshot names each host function by its index in this table, so the device hooks' own host
# functions must be in it, and issueCommand is the hooked one.
hook '#define mxSnapshotCallbackCount 18' '#define mxSnapshotCallbackCount 20'
hook '	xs_issueCommand, // 0' '	xs_ota_issue_command, // 0'
hook '	fx_harden, // 17' '	fx_harden, // 17
	xs_ota_bound_heap, // 18
	xs_ota_device_profile, // 19'
# Declarations at the top, definitions at the end (the engine side in xsnapPlatform.c, which sees
# the machine's internals).
perl -0pi -e 's/(#include "xsnap.h"\n)/$1extern void xsOtaDeviceCreation(xsCreation* creation);\nextern void xsOtaDeviceMachine(xsMachine* the);\nextern xsBooleanValue xsOtaMeteringCallback(xsMachine* the, xsUnsignedValue index);\nextern xsUnsignedValue xsOtaMeteringInterval(xsUnsignedValue interval);\nextern void xsOtaBeginCrank(void* machine);\nextern void xsOtaEndCrank(void* machine);\nstatic void xs_ota_issue_command(xsMachine* the);\nstatic void xs_ota_bound_heap(xsMachine* the);\nstatic void xs_ota_device_profile(xsMachine* the);\n/' "$worker"
printf '\n#include "xs-ota-device-worker.c"\n' >> "$worker"
printf '\n#include "xs-ota-device-platform.c"\n' >> "$work/src/xsnapPlatform.c"

# The package's own makefile and flags (build.env), with a 32-bit compiler and our directories.
# 64 MiB of address space for chunks instead of xsnap's 1 GiB: a 32-bit process has 4 GiB.
make -s -C "$pkg/xsnap-native/xsnap/makefiles/lin" -f xsnap-worker.mk GOAL=release \
  MODDABLE="$pkg/moddable" BUILD_DIR="$work/build" TLS_DIR="$work/src" \
  XSNAP_VERSION="$version" \
  CC="cc -m32 \"-D__has_builtin(x)=1\" -DmxReserveChunkSize=67108864" >"$work/make.log" 2>&1 \
  || { tail -40 "$work/make.log" >&2; echo "build-xsnap32: compile failed (is gcc-multilib installed?)" >&2; exit 1; }
mkdir -p "$work/out/bin"
cp "$work/build/bin/lin/release/xsnap-worker" "$work/out/bin/xsnap-worker"
echo "$stamp" > "$work/out/stamp"
rm -rf "$out.old"; [ -d "$out" ] && mv "$out" "$out.old"
mv "$work/out" "$out"; rm -rf "$out.old"
echo "build-xsnap32: built $bin"
