#!/bin/sh
# Browser tests drive Debian's Chromium through playwright (never a downloaded browser build).
# Installs it when missing and we may (root with apt-get); otherwise says what to do.
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit $?
fi
echo "Chromium not found: install your distribution's chromium package (e.g. 'sudo apt-get install chromium')"
echo "or set FLEETWARD_CHROMIUM=/path/to/chromium; browser tests skip without it (and fail when CI is set)."
exit 1
