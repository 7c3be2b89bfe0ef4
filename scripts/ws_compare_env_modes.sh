#!/usr/bin/env bash
# Compare the gateway in mock and live mode; write the evidence and the Go/No-Go report.
#
#   scripts/ws_compare_env_modes.sh [--seconds N] [--out DIR] [--kis-devlp PATH]      # against real KIS
#   scripts/ws_compare_env_modes.sh --fakekis MOCK_SCENARIO LIVE_SCENARIO [...]       # offline, two fakekis
#
# Real KIS needs each environment's keys: KIS_MOCK_APP_KEY/KIS_MOCK_APP_SECRET and
# KIS_LIVE_APP_KEY/KIS_LIVE_APP_SECRET, or --kis-devlp ~/KIS/config/kis_devlp.yaml (KIS_APP_KEY/KIS_APP_SECRET
# serve both when nothing else is set). With --fakekis, each environment gets its own fakekis process; a
# scenario of "healthy" means no fault, anything else goes to `fakekis serve --scenario` (e.g. session-in-use).
#
# Python: $PYTHON, else the active virtualenv ($VIRTUAL_ENV), else this clone's .venv, else python3 on PATH;
# the first that has kis-harness installed. FAKEKIS_START_TIMEOUT (seconds, default 15) bounds the wait for
# each fakekis's ready line; a fakekis that exits before it is reported at once with its stderr.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

find_python() {
  local candidates=() c
  if [ -n "${PYTHON:-}" ]; then
    candidates=("$PYTHON")  # asked for by name: that one or none
  else
    [ -n "${VIRTUAL_ENV:-}" ] && candidates+=("$VIRTUAL_ENV/bin/python")
    candidates+=("$root/.venv/bin/python" "$(command -v python3 || true)")
  fi
  for c in "${candidates[@]}"; do
    [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import fakekis, gateway, uvicorn' 2>/dev/null && { echo "$c"; return 0; }
  done
  echo "ws_compare_env_modes.sh: error: no Python with kis-harness installed (tried: ${candidates[*]});" \
    "set PYTHON=/path/to/python, or in the clone: python3 -m venv .venv && .venv/bin/pip install -e ." >&2
  return 2
}

seconds=20 out=docs/evidence mock_scn="" live_scn="" use_fake=0 devlp=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --kis-devlp) devlp=(--kis-devlp "$2"); shift 2 ;;
    --fakekis) use_fake=1; mock_scn="$2"; live_scn="$3"; shift 3 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "ws_compare_env_modes.sh: error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
PY="$(find_python)" || exit 2
start_timeout="${FAKEKIS_START_TIMEOUT:-15}"
case "$start_timeout" in
  ''|*[!0-9]*|0) echo "ws_compare_env_modes.sh: error: FAKEKIS_START_TIMEOUT='$start_timeout' (allowed: whole seconds > 0)" >&2; exit 2 ;;
esac

args=(--seconds "$seconds" --out "$out" "${devlp[@]}")
if [ "$use_fake" = 1 ]; then
  tmp=$(mktemp -d)
  declare -A pid=()
  trap 'kill "${pid[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
  for mode in mock live; do
    scn=$([ "$mode" = mock ] && echo "$mock_scn" || echo "$live_scn")
    extra=()
    [ -n "$scn" ] && [ "$scn" != healthy ] && extra=(--scenario "$scn")
    "$PY" -m fakekis serve --env "$mode" --speed 1 "${extra[@]}" >"$tmp/$mode.json" 2>"$tmp/$mode.log" &
    pid[$mode]=$!
  done
  for mode in mock live; do
    deadline=$((SECONDS + start_timeout))
    until [ -s "$tmp/$mode.json" ]; do   # the ready line, bounded; a dead child is reported at once
      if ! kill -0 "${pid[$mode]}" 2>/dev/null; then
        wait "${pid[$mode]}" && rc=0 || rc=$?
        echo "ws_compare_env_modes.sh: error: fakekis ($mode) exited with status $rc before it was ready:" >&2
        sed 's/^/  /' "$tmp/$mode.log" | tail -20 >&2
        exit 1
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "ws_compare_env_modes.sh: error: fakekis ($mode) printed no ready line within ${start_timeout}s:" >&2
        sed 's/^/  /' "$tmp/$mode.log" | tail -20 >&2
        exit 1
      fi
      sleep 0.1
    done
    rest=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["rest_url"])' "$tmp/$mode.json")
    ws=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ws_url"])' "$tmp/$mode.json")
    args+=("--$mode-rest-url" "$rest" "--$mode-ws-url" "$ws")
  done
  # Two separate fakekis processes accept any key on first use: one shared demo pair is enough here.
  export KIS_APP_KEY="${KIS_APP_KEY:-PScompare000000000000000000000000000}" KIS_APP_SECRET="${KIS_APP_SECRET:-compare-secret}"
  export KIS_SYMBOLS="${KIS_SYMBOLS:-005930,000660}" GATEWAY_CLOCK_START="${GATEWAY_CLOCK_START:-2026-11-25T09:05:00+09:00}"
  export GATEWAY_TOKEN_DIR="${GATEWAY_TOKEN_DIR:-$tmp/tokens}"
fi
"$PY" -m gateway compare "${args[@]}"
