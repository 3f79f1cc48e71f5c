#!/usr/bin/env bash
# Starts pcscd with vsmartcard's vpcd reader driver in the background, for the BSIM tests
# and demos (bsim-and-signers.md §4, "What worked here"). Idempotent: if pcscd already
# answers on its socket, nothing is started. Returns once the socket is up.
#
#   signer/bsim/scripts/pcscd-up.sh          # start (or reuse) pcscd
#   signer/bsim/scripts/pcscd-up.sh down     # stop the pcscd this script started
#
# Needs (Debian): pcscd vsmartcard-vpcd libpcsclite-dev pkg-config; run as root (pcscd
# creates /run/pcscd). In Debian's default vpcd config pcscd *listens* on 0.0.0.0:35963
# (reader "Virtual PCD 00 00") and :35964; a virtual card (bsim-card serve) connects to it.
# Environment: CFXLIGHT_PCSCD_LOG (default /tmp/cfxlight-pcscd.log),
#              CFXLIGHT_PCSCD_PID (default /tmp/cfxlight-pcscd.pid).
set -euo pipefail

log=${CFXLIGHT_PCSCD_LOG:-/tmp/cfxlight-pcscd.log}
pidfile=${CFXLIGHT_PCSCD_PID:-/tmp/cfxlight-pcscd.pid}
sock=/run/pcscd/pcscd.comm

running() {
  [[ -S $sock ]] && pgrep -x pcscd >/dev/null 2>&1
}

if [[ ${1:-up} == down ]]; then
  if [[ -f $pidfile ]]; then
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
      # pcscd can take over a second to exit on SIGTERM (§4 pitfall 6): wait for it.
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
  fi
  exit 0
fi

if running; then
  echo "pcscd-up: pcscd already running ($sock)"
  exit 0
fi

for f in /usr/sbin/pcscd /usr/lib/pcsc/drivers/serial/libifdvpcd.so /etc/reader.conf.d/vpcd; do
  [[ -e $f ]] || { echo "pcscd-up: $f missing: apt-get install -y pcscd vsmartcard-vpcd" >&2; exit 1; }
done

# -f: stay in the foreground of its own process (we background it; its pid is ours to
# stop). No -a/-d: APDU logging would write VERIFY's PIN into the log. setsid + no
# stdin: it outlives this script and never holds a caller's terminal or pipes open.
setsid /usr/sbin/pcscd -f </dev/null >"$log" 2>&1 &
echo $! >"$pidfile"

for _ in $(seq 1 100); do
  # The socket appears first; the vpcd listener right after (checked when ss exists).
  if [[ -S $sock ]] && { ! command -v ss >/dev/null || ss -ltn | grep -q ':35963 '; }; then
    echo "pcscd-up: pcscd started (pid $(cat "$pidfile"), log $log)"
    exit 0
  fi
  if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "pcscd-up: pcscd exited; log $log:" >&2; tail -20 "$log" >&2; exit 1
  fi
  sleep 0.05
done
echo "pcscd-up: pcscd did not come up within 5 s; log $log" >&2
exit 1
