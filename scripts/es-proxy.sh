#!/usr/bin/env bash
# An nginx reverse proxy in front of the local Elasticsearch that speaks TLS
# and asks for basic auth, as managed clusters do; for the sink's TLS tests.
# `start DIR PORT USER PASSWORD` writes a CA, a server certificate for
# 127.0.0.1, the password file and the config into DIR, and starts nginx on
# 127.0.0.1:PORT; the sink trusts DIR/ca.pem. `stop DIR` stops it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

start() {
  local dir=$1 port=$2 user=$3 password=$4
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sluice-test-ca" \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile <(printf 'subjectAltName=IP:127.0.0.1\n') -out "$dir/server.pem" 2>/dev/null
  printf '%s:%s\n' "$user" "$(openssl passwd -apr1 "$password")" >"$dir/htpasswd"
  # Started by root, nginx's workers would run as nobody, who may not reach
  # DIR (a private TMPDIR): every request would fail with a 500.
  local user_line=""
  [[ $(id -u) -eq 0 ]] && user_line="user root;"
  cat >"$dir/nginx.conf" <<CONF
$user_line
pid $dir/nginx.pid;
error_log $dir/error.log;
events {}
http {
  access_log $dir/access.log;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  client_max_body_size 100m;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $dir/server.pem;
    ssl_certificate_key $dir/server.key;
    location / {
      auth_basic "elasticsearch";
      auth_basic_user_file $dir/htpasswd;
      proxy_pass http://127.0.0.1:$ES_PORT;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
  nginx -c "$dir/nginx.conf" -p "$dir" -e "$dir/error.log"
  wait_until 10 "TLS proxy (see $dir/error.log)" port_open "$port"
  log "TLS proxy ready at https://127.0.0.1:$port"
}

stop() {
  local dir=$1
  [[ -f "$dir/nginx.pid" ]] && kill -QUIT "$(cat "$dir/nginx.pid")" 2>/dev/null || true
  log "TLS proxy stopped"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start DIR PORT USER PASSWORD | stop DIR" >&2; exit 2 ;;
esac
