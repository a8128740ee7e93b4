# scripts/lib.sh — shared by scripts/run and scripts/test: install missing Debian packages.
# Sourced, not executed.

# Build: bindgen (libxml, xmlsec crates) needs libclang; libxmlsec1 and OpenSSL headers.
BUILD_PACKAGES=(pkg-config libclang-dev libxml2-dev libxmlsec1-dev libssl-dev)
# Tests: the xmlsec1 command, OneLogin's python3-saml (Debian: python3-onelogin-saml2),
# OpenLDAP's slapd and client tools, openssl and ss for the directory script.
# Samba as an Active Directory DC for the AD tests. PostgreSQL (server and psql) for
# the replica tests. Chromium, its WebDriver and Selenium for the browser test.
TEST_PACKAGES=(xmlsec1 python3 python3-onelogin-saml2 python3-xmlsec python3-lxml slapd ldap-utils openssl iproute2
               samba samba-ad-dc samba-ad-provision samba-dsdb-modules winbind ldb-tools
               postgresql postgresql-client chromium chromium-driver python3-selenium python3-venv)

# cfn-lint (PyPI), the CloudFormation linter the StackSet and CloudFormation templates
# are checked with; pinned, in a virtual environment under target/.
CFN_LINT_VERSION=1.58.0

# Installs cfn-lint into target/cfn-lint (once) and prints its path.
ensure_cfn_lint() {
  local venv=target/cfn-lint
  if ! "$venv/bin/cfn-lint" --version 2>/dev/null | grep -q "$CFN_LINT_VERSION"; then
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "cfn-lint==$CFN_LINT_VERSION" >&2
  fi
  echo "$PWD/$venv/bin/cfn-lint"
}

missing_packages() {
  local p out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p")
  done
  echo "${out[@]:-}"
}

ensure_packages() {
  local missing
  missing=$(missing_packages "$@")
  [ -z "$missing" ] && return 0
  echo "installing: $missing" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # slapd: "omit configuration", so the package creates no system directory and its
  # init script has nothing to start (no system slapd on :389).
  echo "slapd slapd/no_configuration boolean true" | $sudo debconf-set-selections
  $sudo apt-get update -q >/dev/null
  # shellcheck disable=SC2086
  $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
}

# Samba's maintainer scripts may start smbd/nmbd/winbind on hosts with an init system;
# the tests run their own DC, so stop any system one (they would hold the AD ports).
stop_system_samba() {
  local svc
  for svc in smbd nmbd winbind samba-ad-dc; do
    if [ -x "/etc/init.d/$svc" ] && /etc/init.d/"$svc" status >/dev/null 2>&1; then
      /etc/init.d/"$svc" stop >/dev/null 2>&1 || true
    fi
  done
}
