#!/usr/bin/env bash
# Tests e2e/apt.sh against a fake apt-get: apt_update waits out another
# run's lists lock (which apt-get update itself does not wait for), stops at
# any other error, and every call carries the dpkg lock timeout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/apt-get" <<'FAKE'
#!/usr/bin/env bash
echo "$*" >>"$FAKE_DIR/calls"
n=$(wc -l <"$FAKE_DIR/calls")
if [ "$n" -le "$FAKE_LOCKED" ]; then
	echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 1 (apt-get)" >&2
	exit 100
fi
[ -z "${FAKE_FAIL:-}" ] || { echo "E: $FAKE_FAIL" >&2; exit 100; }
FAKE
chmod +x "$tmp/apt-get"
printf '#!/bin/sh\necho 0\n' >"$tmp/id" # as root: no sudo
chmod +x "$tmp/id"
export PATH="$tmp:$PATH" FAKE_DIR="$tmp" APT_LOCK_PAUSE=0.01
# shellcheck source=apt.sh
source "$here/apt.sh"

fail() { echo "e2e/apt_test: $*" >&2; exit 1; }

: >"$tmp/calls"
FAKE_LOCKED=3 apt_update 2>/dev/null || fail "apt_update gave up while the lists lock was held"
[ "$(wc -l <"$tmp/calls")" -eq 4 ] || fail "apt_update: $(wc -l <"$tmp/calls") calls, want 4 (3 locked, then success)"
if grep -v -- '-o DPkg::Lock::Timeout=600 update' "$tmp/calls"; then fail "apt-get called without the lock timeout"; fi

: >"$tmp/calls"
if FAKE_LOCKED=0 FAKE_FAIL="no network" apt_update 2>/dev/null; then fail "apt_update succeeded on a failing apt-get"; fi
[ "$(wc -l <"$tmp/calls")" -eq 1 ] || fail "apt_update retried an error that is not the lock"

: >"$tmp/calls"
FAKE_LOCKED=0 APT_LOCK_TRIES=2 apt_install somepkg || fail "apt_install failed"
grep -qx -- '-o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends somepkg' "$tmp/calls" || fail "apt_install: $(cat "$tmp/calls")"
echo "e2e/apt_test: ok"
