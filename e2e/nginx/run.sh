#!/usr/bin/env bash
# A real nginx (Debian package) terminating TLS in front of chatd: two
# clients chat through wss://. Installs nginx and openssl when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:/usr/local/go/bin"

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
	echo "e2e/nginx: installing ${need[*]}"
	# shellcheck source=../apt.sh
	source e2e/apt.sh
	apt_install "${need[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	local npid
	npid=$(cat "$tmp/nginx.pid" 2>/dev/null) && kill "$npid" 2>/dev/null || true
	sleep 0.2
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
chat_port=$(free_port)
tls_port=$(free_port)

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
	-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
	-keyout "$tmp/key.pem" -out "$tmp/cert.pem" >/dev/null 2>&1

go build -o "$tmp/chatd" ./cmd/chatd
# nginx connects from 127.0.0.1: name it as the trusted proxy (chatd trusts
# none by default), so that the per-address limit (2 here, see the test)
# applies to the real client from X-Forwarded-For.
"$tmp/chatd" -listen "127.0.0.1:$chat_port" -web-listen off -admin-listen off -log-format text -log-level warn \
	-trusted-proxies 127.0.0.1/32 -max-conns-per-ip 2 &
pids+=($!)

sed -e "s#@TMP@#$tmp#g" -e "s#@UPSTREAM@#127.0.0.1:$chat_port#g" \
	-e "s#@LISTEN@#127.0.0.1:$tls_port#g" -e "s#@CERT@#$tmp/cert.pem#g" -e "s#@KEY@#$tmp/key.pem#g" \
	e2e/nginx/nginx.conf >"$tmp/nginx.conf"
"$NGINX" -t -q -c "$tmp/nginx.conf" -p "$tmp"
"$NGINX" -c "$tmp/nginx.conf" -p "$tmp" -g 'daemon off;' &
pids+=($!)

CHATD_WSS_URL="wss://127.0.0.1:$tls_port/" CHATD_WSS_CA="$tmp/cert.pem" CHATD_WSS_MAX_PER_IP=2 \
	go test -count=1 -v -run TestChatThroughNginx ./e2e/nginx/
