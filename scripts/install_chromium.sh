#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/browser), which drive it through
# Playwright at /usr/bin/chromium. Playwright's own browser download does not work here.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "rivers: the browser tests need Debian's chromium at /usr/bin/chromium;" \
       "install it with: apt-get install chromium" >&2
  exit 0  # the browser tests then fail with the same hint
fi
echo "rivers: installing Debian's chromium for the browser tests..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
