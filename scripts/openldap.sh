#!/usr/bin/env bash
# scripts/openldap.sh — a throwaway OpenLDAP slapd on loopback for sesame's tests.
#
#   scripts/openldap.sh start DIR   config + throwaway CA/server certificate + the test tree
#                                   (tests/data/ldap/fixture.ldif) in DIR; writes DIR/env
#   scripts/openldap.sh stop DIR    SIGTERM via the pid file, waits for exit
#
# Env: LDAP_PORT (13389: ldap:// and StartTLS), LDAPS_PORT (13636: ldaps://).
# Needs no privilege: high ports, every file in DIR. Packages: see scripts/lib.sh.
# Adapted from shared/DIRECTORIES.md (OpenLDAP, unprivileged, from a temp dir).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?usage: openldap.sh start DIR | stop DIR}
LDAP_PORT=${LDAP_PORT:-13389}
LDAPS_PORT=${LDAPS_PORT:-13636}
BASE="dc=corp,dc=example"
ADMIN_DN="cn=admin,$BASE"
ADMIN_PW=${LDAP_ADMIN_PW:-admin-secret}
SVC_DN="cn=sesame,ou=Services,$BASE"
SVC_PW=${LDAP_SVC_PW:-sesame-secret}
USER_PW=${LDAP_USER_PW:-user-secret}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

make_certs() { # throwaway CA + server certificate (SAN localhost, 127.0.0.1, ::1)
  local t="$1/tls"; mkdir -p "$t"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/ca.key" -out "$t/ca.crt" -days 2 -subj "/CN=sesame test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$t/server.key" -out "$t/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" > "$t/server.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" \
    -CAcreateserial -days 2 -extfile "$t/server.ext" -out "$t/server.crt" 2>/dev/null
  chmod 600 "$t"/*.key
}

write_config() { # cn=config as LDIF, loaded offline with slapadd -n0
  local d="$1" rootpw
  rootpw=$(slappasswd -s "$ADMIN_PW")
  cat > "$d/config.ldif" <<EOC
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $d/slapd.pid
olcArgsFile: $d/slapd.args
olcLogLevel: none
olcTLSCACertificateFile: $d/tls/ca.crt
olcTLSCertificateFile: $d/tls/server.crt
olcTLSCertificateKeyFile: $d/tls/server.key

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif
include: file:///etc/ldap/schema/cosine.ldif
include: file:///etc/ldap/schema/inetorgperson.ldif
include: file://$here/tests/data/ldap/ad-lite.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 1000

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact=gidNumber=$(id -g)+uidNumber=$(id -u),cn=peercred,cn=external,cn=auth manage by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: $BASE
olcDbDirectory: $d/data
olcDbMaxSize: 104857600
olcRootDN: $ADMIN_DN
olcRootPW: $rootpw
olcDbIndex: objectClass eq
olcDbIndex: uid,cn,mail,sAMAccountName,userPrincipalName eq
olcDbIndex: member,memberOf eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by dn.exact="$SVC_DN" read by self read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
olcMemberOfRefInt: TRUE
olcMemberOfDangling: ignore

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member
EOC
}

wait_ready() { # poll until an anonymous rootDSE read succeeds
  for _ in $(seq 1 200); do
    ldapsearch -x -H "$1" -b "" -s base -LLL namingContexts >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "slapd did not answer on $1" >&2; return 1
}

port_busy() { command -v ss >/dev/null && [ -n "$(ss -Hltn "sport = :$1")" ]; }

start() {
  local d; d=$(realpath -m "${1:?DIR}"); mkdir -p "$d"/{data,slapd.d}
  for p in "$LDAP_PORT" "$LDAPS_PORT"; do   # slapd reports bind errors only to syslog
    port_busy "$p" && { echo "port $p is in use: $(ss -Hltnp "sport = :$p")" >&2; return 1; }
  done
  local t0; t0=$(now)
  make_certs "$d"; write_config "$d"
  slapadd -q -n 0 -F "$d/slapd.d" -l "$d/config.ldif"
  local up sp; up=$(slappasswd -s "$USER_PW"); sp=$(slappasswd -s "$SVC_PW")
  sed -e "s|{{USER_PW}}|$up|g" -e "s|{{SVC_PW}}|$sp|g" "$here/tests/data/ldap/fixture.ldif" > "$d/data.ldif"
  local ldapi; ldapi="ldapi://$(printf %s "$d/ldapi" | sed 's,/,%2F,g')"
  /usr/sbin/slapd -F "$d/slapd.d" -h "ldap://127.0.0.1:$LDAP_PORT/ ldaps://127.0.0.1:$LDAPS_PORT/ $ldapi" \
    2>"$d/slapd.log" || { echo "slapd failed to start; see $d/slapd.log" >&2; return 1; }
  wait_ready "ldap://127.0.0.1:$LDAP_PORT"
  # Through the server, so the memberof overlay sees the writes.
  ldapadd -x -H "ldap://127.0.0.1:$LDAP_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" -f "$d/data.ldif" > "$d/ldapadd.log"
  echo "OpenLDAP ready on 127.0.0.1:$LDAP_PORT/$LDAPS_PORT with $(grep -c '^adding' "$d/ldapadd.log") entries in $(since "$t0") s (pid $(cat "$d/slapd.pid"))"
  cat > "$d/env" <<EOE
LDAP_URL=ldap://127.0.0.1:$LDAP_PORT
LDAPS_URL=ldaps://127.0.0.1:$LDAPS_PORT
LDAP_CA_FILE=$d/tls/ca.crt
LDAP_BASE=$BASE
LDAP_BIND_DN=$SVC_DN
LDAP_BIND_PW=$SVC_PW
LDAP_ADMIN_DN=$ADMIN_DN
LDAP_ADMIN_PW=$ADMIN_PW
EOE
}

stop() {
  local d pid; d=$(realpath -m "${1:?DIR}")
  [ -f "$d/slapd.pid" ] || { echo "slapd not running in $d"; return 0; }
  pid=$(cat "$d/slapd.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "slapd $pid did not exit" >&2; return 1; fi
  rm -f "$d/slapd.pid"; echo "slapd $pid stopped"
}

case "$cmd" in
  start) start "${2:-}" ;;
  stop) stop "${2:-}" ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
