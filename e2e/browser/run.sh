#!/usr/bin/env bash
# Real-browser tests: builds chatd, starts it on two free loopback ports,
# and drives Debian's chromium (playwright-core, no browser download)
# through chat.test.mjs (chatd's page) and current.test.mjs (a page of the
# current workerman-chat dialect, current-page.html). Self-contained and
# idempotent; exits with the tests' status.
#
#   e2e/browser/run.sh                      # build, start, test
#   CHATD_WEB_URL=http://127.0.0.1:55151/ CHATD_CHAT_ADDR=127.0.0.1:7272 e2e/browser/run.sh   # test a running server
#   SCREENSHOT_DIR=/some/dir e2e/browser/run.sh                # keep screenshots there
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
chromium=/usr/bin/chromium

# shellcheck source=../apt.sh
source "$here/../apt.sh"

log() { printf 'e2e/browser: %s\n' "$*" >&2; }

install_chromium() {
	[ -x "$chromium" ] && return 0
	log "installing chromium"
	apt_install chromium
	[ -x "$chromium" ] || { log "chromium did not install at $chromium"; exit 1; }
}

# free_ports prints two distinct free TCP ports of 127.0.0.1.
free_ports() {
	node -e '
		const net = require("net");
		const a = net.createServer().listen(0, "127.0.0.1", () => {
			const b = net.createServer().listen(0, "127.0.0.1", () => {
				console.log(a.address().port, b.address().port);
				a.close(); b.close();
			});
		});'
}

# wait_port waits until 127.0.0.1:$1 accepts, for at most 15 s, while chatd lives.
wait_port() {
	local i
	for ((i = 0; i < 150; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
		kill -0 "$pid" 2>/dev/null || { log "chatd exited early"; return 1; }
		sleep 0.1
	done
	log "port $1 did not accept within 15 s"
	return 1
}

pid=""
tmp="$(mktemp -d "${TMPDIR:-/tmp}/chatd-e2e.XXXXXX")"
cleanup() {
	local status=$?
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ "$status" -ne 0 ] && [ -s "$tmp/chatd.log" ]; then
		log "chatd log (last 40 lines):"
		tail -n 40 "$tmp/chatd.log" >&2
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_chromium
(cd "$here" && timeout 120 npm ci --no-audit --no-fund --loglevel=error)

if [ -z "${CHATD_WEB_URL:-}" ]; then
	log "building chatd"
	(cd "$root" && go build -o "$tmp/chatd" ./cmd/chatd)
	read -r chat_port web_port < <(free_ports)
	# A 1 s text ping, so that current.test.mjs sees the page answer one.
	"$tmp/chatd" -listen "127.0.0.1:$chat_port" -web-listen "127.0.0.1:$web_port" -text-ping-interval 1s >"$tmp/chatd.log" 2>&1 &
	pid=$!
	wait_port "$chat_port"
	wait_port "$web_port"
	export CHATD_WEB_URL="http://127.0.0.1:$web_port/"
	export CHATD_CHAT_ADDR="127.0.0.1:$chat_port"
	log "chatd (pid $pid) chat port $chat_port, web $CHATD_WEB_URL"
fi

export SCREENSHOT_DIR="${SCREENSHOT_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/chatd-screens.XXXXXX")}"
log "screenshots go to $SCREENSHOT_DIR"
cd "$here"
status=0
# A guard against a hung browser, not a time budget: the machine is shared.
export CHATD_CHAT_ADDR="${CHATD_CHAT_ADDR:-$(node -e 'console.log(new URL(process.argv[1]).hostname)' "$CHATD_WEB_URL"):7272}"
timeout 300 node --test --test-concurrency=1 chat.test.mjs current.test.mjs || status=$?
exit "$status"
