#!/usr/bin/env bash
# cluster.sh — run N chatd nodes on this machine as one chat (docs/cluster.md).
#
#   scripts/cluster.sh [N]          # default 3 nodes
#
# Node 1 runs the embedded NATS server (NATS_LISTEN) and serves the web
# page; every node listens on the same chat port with SO_REUSEPORT, so the
# kernel spreads clients over the nodes and one URL reaches all of them.
# SEPARATE=1 gives node i its own chat port CHAT_PORT+i-1 instead.
# Node i's admin endpoint (/readyz, /metrics) is 127.0.0.1:ADMIN_BASE+i.
# Ctrl-C (or SIGTERM) stops the nodes this script started, and only those.
#
# Environment: CHATD (binary, default ./chatd, built if missing),
# CHAT_PORT (7272), NATS_LISTEN (127.0.0.1:4222), ADMIN_BASE (9190),
# LOOPS (event loops per node, default 0 = one per CPU), LOG_DIR (stderr
# of node i goes to LOG_DIR/node-i.log; default: the terminal),
# WEB_LISTEN (node 1's page, default :55151), EXTRA (more chatd flags
# for every node).
set -euo pipefail
N=${1:-3}
CHATD=${CHATD:-./chatd}
CHAT_PORT=${CHAT_PORT:-7272}
NATS_LISTEN=${NATS_LISTEN:-127.0.0.1:4222}
ADMIN_BASE=${ADMIN_BASE:-9190}
LOOPS=${LOOPS:-0}
EXTRA=${EXTRA:-}

if [[ ! -x $CHATD ]]; then
	echo "building $CHATD" >&2
	go build -o "$CHATD" ./cmd/chatd
fi

pids=()
stopping=0
stop() {
	stopping=1
	trap - INT TERM EXIT
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop INT TERM EXIT

start_node() {
	local i=$1; shift
	local listen=":$CHAT_PORT" web=off out=/dev/stderr
	if [[ ${SEPARATE:-0} == 1 ]]; then
		listen=":$((CHAT_PORT + i - 1))"
	fi
	[[ $i == 1 ]] && web=${WEB_LISTEN:-:55151}
	[[ -n ${LOG_DIR:-} ]] && mkdir -p "$LOG_DIR" && out="$LOG_DIR/node-$i.log"
	# shellcheck disable=SC2086
	"$CHATD" -listen "$listen" -reuseport -loops "$LOOPS" -web-listen "$web" \
		-admin-listen "127.0.0.1:$((ADMIN_BASE + i))" -node-id "$i" -node-name "node-$i" \
		"$@" $EXTRA 2>>"$out" &
	pids+=($!)
}

wait_ready() {
	local i=$1
	local url="http://127.0.0.1:$((ADMIN_BASE + i))/readyz"
	for _ in $(seq 1 100); do
		if curl -fs -o /dev/null "$url"; then return 0; fi
		sleep 0.1
	done
	echo "node $i not ready at $url" >&2
	return 1
}

start_node 1 -nats-listen "$NATS_LISTEN"
wait_ready 1
for i in $(seq 2 "$N"); do
	start_node "$i" -nats-url "nats://$NATS_LISTEN"
done
for i in $(seq 2 "$N"); do wait_ready "$i"; done

echo "chatd cluster: $N nodes, NATS $NATS_LISTEN (embedded in node 1), pids ${pids[*]}" >&2
if [[ ${SEPARATE:-0} == 1 ]]; then
	echo "chat: ws://127.0.0.1:$CHAT_PORT/ .. ws://127.0.0.1:$((CHAT_PORT + N - 1))/  page: ${WEB_LISTEN:-:55151}" >&2
else
	echo "chat: ws://127.0.0.1:$CHAT_PORT/ (SO_REUSEPORT over all nodes)  page: ${WEB_LISTEN:-:55151}" >&2
fi
wait -n "${pids[@]}" || true
[[ $stopping == 1 ]] || echo "a node exited; stopping the cluster" >&2
