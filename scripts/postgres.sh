#!/usr/bin/env bash
# scripts/postgres.sh — a throwaway PostgreSQL cluster on loopback for sesame's tests.
#
#   scripts/postgres.sh start DIR   initdb into DIR/data, a throwaway CA + server
#                                   certificate, TLS only (hostssl, scram-sha-256),
#                                   listening on 127.0.0.1 only; roles below; writes DIR/env
#   scripts/postgres.sh stop DIR    pg_ctl stop -m fast
#
# Roles: pgadmin (superuser, for the tests' setup only), sesame_owner (owns the test
# databases and runs migrations), sesame (what sesame runs as: LOGIN, a member of
# sesame_runtime, which the migrations grant INSERT/SELECT on audit rows and nothing
# more). Env: PG_PORT (15432). The server runs as the Debian `postgres` user
# (PostgreSQL refuses root); DIR is handed to it.
set -euo pipefail

cmd=${1:?usage: postgres.sh start DIR | stop DIR}
dir=${2:?usage: postgres.sh start DIR | stop DIR}
PG_PORT=${PG_PORT:-15432}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "postgres.sh: PostgreSQL server binaries not found (Debian package postgresql)" >&2; exit 1; }
as_pg() { runuser -u postgres -- "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

make_certs() {
  local t="$1"; mkdir -p "$t"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/ca.key" -out "$t/ca.crt" -days 2 -subj "/CN=sesame test database CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" > "$t/server.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial -days 2 \
    -extfile "$t/server.ext" -out "$t/server.crt" 2>/dev/null
}

start() {
  local t0; t0=$(now)
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  rm -rf "$dir/data"
  mkdir -p "$dir/secrets" "$dir/sock" "$dir/log"
  make_certs "$dir/tls"
  for r in pgadmin sesame_owner sesame; do
    openssl rand -hex 16 > "$dir/secrets/$r"
  done
  chmod 700 "$dir/secrets"; chmod 600 "$dir/secrets"/*
  chown -R postgres: "$dir/tls" "$dir/sock" "$dir/log"
  chmod 600 "$dir/tls/server.key"
  chmod 755 "$dir"
  as_pg test -x "$dir" || { echo "postgres.sh: the postgres user cannot reach $dir (a parent directory is private)" >&2; exit 1; }
  install -o postgres -m 600 "$dir/secrets/pgadmin" "$dir/sock/.pwfile"
  mkdir -p "$dir/data"; chown postgres: "$dir/data"; chmod 700 "$dir/data"
  as_pg "$bin/initdb" -D "$dir/data" -U pgadmin --pwfile="$dir/sock/.pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$dir/sock/.pwfile"
  cat >> "$dir/data/postgresql.conf" <<EOC
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir/sock'
ssl = on
ssl_cert_file = '$dir/tls/server.crt'
ssl_key_file = '$dir/tls/server.key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
max_connections = 300
shared_buffers = 128MB
log_min_messages = warning
logging_collector = off
EOC
  cat > "$dir/data/pg_hba.conf" <<EOC
# TLS only, over loopback; the local socket for this script's setup.
local   all all                 scram-sha-256
hostssl all all 127.0.0.1/32    scram-sha-256
EOC
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/log/server.log" -w -t 60 start >/dev/null
  export PGPASSWORD; PGPASSWORD=$(cat "$dir/secrets/pgadmin")
  psql -q -h "$dir/sock" -p "$PG_PORT" -U pgadmin -d postgres -v ON_ERROR_STOP=1 <<EOS
CREATE ROLE sesame_owner LOGIN CREATEDB PASSWORD '$(cat "$dir/secrets/sesame_owner")';
CREATE ROLE sesame LOGIN PASSWORD '$(cat "$dir/secrets/sesame")';
CREATE ROLE sesame_runtime NOLOGIN;
GRANT sesame_runtime TO sesame;
EOS
  cat > "$dir/env" <<EOE
PG_HOST=127.0.0.1
PG_PORT=$PG_PORT
PG_CA=$dir/tls/ca.crt
PG_DATA=$dir/data
PG_BIN=$bin
PG_SOCK=$dir/sock
PG_ADMIN=pgadmin
PG_ADMIN_PASSWORD_FILE=$dir/secrets/pgadmin
PG_OWNER=sesame_owner
PG_OWNER_PASSWORD_FILE=$dir/secrets/sesame_owner
PG_USER=sesame
PG_PASSWORD_FILE=$dir/secrets/sesame
EOE
  echo "postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (TLS) in $(since "$t0") s"
}

stop() {
  [ -d "$dir/data" ] || return 0
  as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
