#!/usr/bin/env bash
# Installs ClamAV's clamd for the rampart-av integration tests, without running any of its services.
# The tests start their own clamd (custom signature database, temp socket) and stop it again; the
# Debian services would only get in the way: clamav-daemon has no signatures here and
# clamav-freshclam would try the network, which CI does not have. Idempotent; safe to run twice.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

if [ ! -x /usr/sbin/clamd ]; then
  # Keep dpkg from starting services during the install (invoke-rc.d honours policy-rc.d).
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  $SUDO apt-get update -q >/dev/null
  rc=0
  $SUDO apt-get install -y -q --no-install-recommends clamav-daemon >/dev/null || rc=$?
  if [ -n "$added_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
  [ "$rc" -eq 0 ] || exit "$rc"
fi

# In case a service manager started them anyway (or an earlier install did): stop and disable.
for svc in clamav-freshclam clamav-daemon; do
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
for pidfile in /run/clamav/freshclam.pid /run/clamav/clamd.pid; do
  if [ -s "$pidfile" ]; then $SUDO kill "$(cat "$pidfile")" 2>/dev/null || true; fi
done

/usr/sbin/clamd --version
