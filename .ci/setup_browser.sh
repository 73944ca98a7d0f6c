#!/usr/bin/env bash
# Installs what the browser integration test (tests/integration/test_dashboard_browser.py) needs from
# Debian's packages: Chromium (driven by Playwright for Python with executable_path=/usr/bin/chromium;
# `playwright install` is never used) and CJK fonts so Chinese text renders instead of boxes.
# Idempotent: installs only what is missing. Needs root.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || missing+=(fonts-noto-cjk)
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup_browser: chromium and fonts-noto-cjk already installed"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "setup_browser: need root to apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}"
/usr/bin/chromium --version
