# Sourced by the e2e scripts: install Debian packages without failing when
# another apt or dpkg run holds the locks (other jobs on a shared machine).
#
#   source e2e/apt.sh; apt_install nginx openssl

# apt_get runs apt-get as root (through sudo if needed). The dpkg lock
# timeout makes install wait up to 10 min for a concurrent run (make lint
# checks that every apt-get in a script carries it).
apt_get() {
	local sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo DEBIAN_FRONTEND=noninteractive)
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 "$@"
}

# apt_update refreshes the package lists. apt-get update ignores
# DPkg::Lock::Timeout for its own lists lock (apt 2.6: "Could not get lock
# /var/lib/apt/lists/lock" at once), so it is retried every 2 s for up to
# 10 min while the error is that lock.
apt_update() {
	local i out
	for ((i = 0; i < ${APT_LOCK_TRIES:-300}; i++)); do
		out=$(apt_get update -qq 2>&1) && return 0
		grep -q 'Could not get lock' <<<"$out" || break
		sleep "${APT_LOCK_PAUSE:-2}"
	done
	printf '%s\n' "$out" >&2
	return 1
}

# apt_install installs packages, refreshing the lists first only when they
# cannot serve the install.
apt_install() {
	apt_get install -y -qq --no-install-recommends "$@" >/dev/null && return 0
	apt_update && apt_get install -y -qq --no-install-recommends "$@" >/dev/null
}
