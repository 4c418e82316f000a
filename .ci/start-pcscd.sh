#!/usr/bin/env bash
# Start pcscd without systemd (detached, foreground mode), clearing a stale pid file
# left by a killed daemon, and wait until vpcd's reader shows.
set -euo pipefail
pidfile=/run/pcscd/pcscd.pid
if [ -f "$pidfile" ]; then
  pid=$(tr -d '\0' < "$pidfile" | head -n1)
  if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep pcscd >/dev/null \
     && ! grep ') Z' "/proc/$pid/stat" >/dev/null 2>&1; then
    exit 0
  fi
  rm -f "$pidfile" /run/pcscd/pcscd.comm
fi
setsid pcscd --foreground >/tmp/posterm-pcscd.log 2>&1 </dev/null &
for _ in $(seq 1 100); do
  if pcsc_scan -r 2>/dev/null | grep "Virtual PCD" >/dev/null; then exit 0; fi
  sleep 0.1
done
echo "pcscd did not show the vpcd reader" >&2
exit 1
