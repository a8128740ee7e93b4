#!/usr/bin/env bash
# scripts/samba-ad.sh — a throwaway Samba Active Directory DC on loopback for sesame's
# AD tests (adapted from shared/DIRECTORIES.md, section 2).
#
#   scripts/samba-ad.sh install    apt packages (never leaves a system samba running)
#   scripts/samba-ad.sh start DIR  provision into DIR, seed (scripts/samba-seed.py), start; writes DIR/env
#   scripts/samba-ad.sh stop DIR   SIGTERM via pid file, wait for exit
#
# Needs root: the AD LDAP ports are fixed by Samba (389, 636, 3268, 3269) and
# the DC process expects to run as root. Listens on SAMBA_IP (127.0.0.1) only.
set -euo pipefail

cmd=${1:?usage: samba-ad.sh install|start DIR|stop DIR}
IP=${SAMBA_IP:-127.0.0.1}
REALM=${SAMBA_REALM:-CORP.EXAMPLE}
DOMAIN=${SAMBA_DOMAIN:-CORP}
HOST=${SAMBA_HOST:-dc1}                # NetBIOS name; independent of the machine hostname
ADMIN_PW=${SAMBA_ADMIN_PW:-Adm1n!Passw0rd}
SVC_PW=${SAMBA_SVC_PW:-Sesame!Passw0rd}
USER_PW=${SAMBA_USER_PW:-User!Passw0rd1}
BASE="DC=$(echo "${REALM,,}" | sed 's/\./,DC=/g')"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

install_pkgs() {
  # samba's maintainer scripts try to start smbd, nmbd, samba-ad-dc and winbind;
  # on a box with systemd and no policy-rc.d, smbd/nmbd/winbind do start. We stop
  # them again with their own init scripts (see below); samba-ad-dc refuses to
  # start unless /etc/samba/smb.conf says "server role = active directory ...".
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind \
    ldb-tools ldap-utils
  for svc in smbd nmbd winbind samba-ad-dc; do
    if [ -x "/etc/init.d/$svc" ] && /etc/init.d/"$svc" status >/dev/null 2>&1; then
      /etc/init.d/"$svc" stop || true
    fi
  done
}

make_certs() { # throwaway CA + server cert; SAN covers the DC name and loopback
  local t="$1/tls" fqdn="${HOST,,}.${REALM,,}"; mkdir -p "$t"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/ca.key" -out "$t/ca.crt" -days 2 -subj "/CN=sesame test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=$fqdn" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:$fqdn,DNS:localhost,IP:127.0.0.1,IP:::1" > "$t/server.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" \
    -CAcreateserial -days 2 -extfile "$t/server.ext" -out "$t/server.crt" 2>/dev/null
  chmod 600 "$t"/*.key   # samba refuses a key file readable by others
}

write_smbconf() { # written before provisioning: provision keeps an existing smb.conf
  local d="$1" tls_lines=""
  mkdir -p "$d"/{etc,private,state,cache,run,log,bind-dns}
  if [ "${SAMBA_TLS:-own}" = own ]; then
    make_certs "$d"
    tls_lines=$(printf '\ttls keyfile = %s\n\ttls certfile = %s\n\ttls cafile = %s' \
      "$d/tls/server.key" "$d/tls/server.crt" "$d/tls/ca.crt")
  fi  # else: samba generates a self-signed RSA-4096 CA+cert in private/tls at first start
  cat > "$d/etc/smb.conf" <<EOF
[global]
	netbios name = ${HOST^^}
	workgroup = $DOMAIN
	realm = $REALM
	server role = active directory domain controller
	# LDAP only: no smbd (s3fs), no rpc/nbt/kdc/dns/winbindd/drepl/kcc
	server services = ldap
	interfaces = $IP
	bind interfaces only = yes
	# tests use simple bind on plain ldap:// too (AD default: refuse it)
	ldap server require strong auth = no
	private dir = $d/private
	lock directory = $d
	state directory = $d/state
	cache directory = $d/cache
	pid directory = $d/run
	ncalrpc dir = $d/run/ncalrpc
	binddns dir = $d/bind-dns
	winbindd socket directory = $d/run/winbindd
	ntp signd socket directory = $d/run/ntp_signd
	log file = $d/log/samba.log
	max log size = 0
	tls enabled = yes
$tls_lines

[sysvol]
	path = $d/state/sysvol
	read only = no

[netlogon]
	path = $d/state/sysvol/${REALM,,}/scripts
	read only = no
EOF
}

wait_ready() { # poll the rootDSE; give up early if the daemon died
  local d="$1" pidf="$1/run/samba.pid"
  for _ in $(seq 1 600); do
    ldapsearch -x -H "ldap://$IP:389" -b "" -s base -LLL dnsHostName >/dev/null 2>&1 && return 0
    if [ -f "$pidf" ] && ! kill -0 "$(cat "$pidf")" 2>/dev/null; then
      echo "samba exited during start-up:" >&2; tail -20 "$d/log/log.samba" >&2; return 1
    fi
    sleep 0.05
  done
  echo "samba did not answer on ldap://$IP:389" >&2; return 1
}

port_busy() { command -v ss >/dev/null && [ -n "$(ss -Hltn "sport = :$1")" ]; }

start() {
  [ "$(id -u)" = 0 ] || { echo "samba AD DC needs root" >&2; exit 1; }
  local d; d=$(realpath -m "${1:?DIR}")
  [ -e "$d/run/samba.pid" ] && kill -0 "$(cat "$d/run/samba.pid")" 2>/dev/null && {
    echo "already running (pid $(cat "$d/run/samba.pid"))"; return 0; }
  local p; for p in 389 636 3268 3269; do  # fixed by samba; a system slapd/samba would hold them
    port_busy "$p" && { echo "port $p is in use (stop that service, or run in a network namespace):" \
      "$(ss -Hltnp "sport = :$p")" >&2; return 1; }
  done
  local t0; t0=$(now)
  if [ ! -e "$d/private/sam.ldb" ]; then
    write_smbconf "$d"
    # -s points at our smb.conf so nothing is read from /etc/samba/smb.conf
    samba-tool domain provision -s "$d/etc/smb.conf" --targetdir="$d" \
      --realm="$REALM" --domain="$DOMAIN" --host-name="$HOST" --server-role=dc \
      --dns-backend=NONE --adminpass="$ADMIN_PW" ${SAMBA_PROVISION_ARGS:-} > "$d/log/provision.log" 2>&1 \
      || { tail -20 "$d/log/provision.log" >&2; return 1; }
    echo "provisioned in $(since "$t0") s"
    local t1; t1=$(now)
    /usr/bin/python3 "$(dirname "$0")/samba-seed.py" "$d/etc/smb.conf" "$SVC_PW" "$USER_PW" > "$d/log/seed.log" 2>&1 \
      || { tail -5 "$d/log/seed.log" >&2; return 1; }
    echo "seeded in $(since "$t1") s"
  fi
  local t2; t2=$(now)
  # -D daemonizes; --maximum-runtime is a safety net so a crashed CI job
  # cannot leave the DC running for more than an hour.
  samba -s "$d/etc/smb.conf" -l "$d/log" -D -M single --maximum-runtime="${SAMBA_MAX_RUNTIME:-3600}"
  wait_ready "$d"
  echo "samba up: first successful search $(since "$t2") s after exec (pid $(cat "$d/run/samba.pid")); total $(since "$t0") s"
  cat > "$d/env" <<EOF
LDAP_URL=ldap://$IP:389
LDAPS_URL=ldaps://$IP:636
LDAP_GC_URL=ldap://$IP:3268
LDAP_CA_FILE=$( [ "${SAMBA_TLS:-own}" = own ] && echo "$d/tls/ca.crt" || echo "$d/private/tls/ca.pem")
LDAP_BASE=$BASE
LDAP_BIND_DN=CN=sesame,OU=Services,$BASE
LDAP_BIND_UPN=sesame@${REALM,,}
LDAP_BIND_PW=$SVC_PW
LDAP_ADMIN_DN=CN=Administrator,CN=Users,$BASE
LDAP_ADMIN_PW=$ADMIN_PW
EOF
  echo "connection settings in $d/env"
}

stop() {
  local d pid; d=$(realpath -m "${1:?DIR}")
  [ -f "$d/run/samba.pid" ] || { echo "not running"; return 0; }
  pid=$(cat "$d/run/samba.pid")
  kill -0 "$pid" 2>/dev/null || { echo "not running (stale pid file)"; rm -f "$d/run/samba.pid"; return 0; }
  kill -TERM "$pid"
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "samba $pid did not exit" >&2; return 1; fi
  echo "samba $pid stopped"
}

case "$cmd" in
  install) install_pkgs ;;
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
