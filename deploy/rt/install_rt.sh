#!/usr/bin/env bash
# Install Request Tracker 5 (Debian bookworm packages: request-tracker5 + SQLite + standalone server)
# without any prompt. Skips apt entirely when the packages are already installed.
#
#   deploy/rt/install_rt.sh            # install if missing
#   RT_APT_UPDATE=1 deploy/rt/install_rt.sh   # force `apt-get update` first even if installed (CI)
#
# The Debian package creates its own SQLite DB under /var/lib/dbconfig-common; setup_rt.sh never uses
# it (every instance keeps its DB under its own RT_STATE_DIR) but the package install needs one.
set -euo pipefail

PACKAGES=(request-tracker5 rt5-db-sqlite rt5-standalone w3m)
LOG="${RT_APT_LOG:-/tmp/feedback-rt-apt.log}"
# Wait for another apt/dpkg run (a colleague's install, unattended-upgrades) instead of failing at once.
APT=(apt-get -o DPkg::Lock::Timeout="${RT_APT_LOCK_TIMEOUT:-300}")

installed() {
  local p
  for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = "installed" ] || return 1
  done
}

if [ "${RT_APT_UPDATE:-0}" = "1" ]; then
  "${APT[@]}" update -qq
fi

if installed; then
  echo "install_rt: ${PACKAGES[*]} already installed, skipping apt"
  exit 0
fi

if [ "$(id -u)" != "0" ]; then
  echo "install_rt: RT is not installed and installing it needs root (apt-get)" >&2
  exit 1
fi

# Answers for debconf + dbconfig-common, so the install asks nothing. The values for the web URL only
# end up in Debian's 50-debconf.pm; setup_rt.sh overrides them per instance.
debconf-set-selections <<'PRESEED'
request-tracker5 request-tracker5/rtname string feedback-rt.local
request-tracker5 request-tracker5/organization string feedback-rt.local
request-tracker5 request-tracker5/correspondaddress string rt@localhost
request-tracker5 request-tracker5/commentaddress string rt-comment@localhost
request-tracker5 request-tracker5/webbaseurl string http://127.0.0.1:8085
request-tracker5 request-tracker5/webpath string /rt
request-tracker5 request-tracker5/handle-siteconfig-permissions boolean true
request-tracker5 request-tracker5/install-cronjobs boolean false
request-tracker5 request-tracker5/initial-root-password password unused-root-password
request-tracker5 request-tracker5/dbconfig-install boolean true
request-tracker5 request-tracker5/database-type select sqlite3
PRESEED

echo "install_rt: apt-get install ${PACKAGES[*]} (log: $LOG)"
if [ "${RT_APT_UPDATE:-0}" != "1" ]; then
  "${APT[@]}" update -qq
fi
if ! DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -q --no-install-recommends "${PACKAGES[@]}" >"$LOG" 2>&1; then
  tail -n 40 "$LOG" >&2
  echo "install_rt: apt-get install failed (full log: $LOG)" >&2
  exit 1
fi
echo "install_rt: done"
