#!/usr/bin/env bash
# Compare the gateway in mock and live mode with the same keys; write the evidence and the Go/No-Go report.
#
#   scripts/ws_compare_env_modes.sh [--seconds N] [--out DIR]                     # against real KIS
#   scripts/ws_compare_env_modes.sh --fakekis MOCK_SCENARIO LIVE_SCENARIO [...]   # offline, two fakekis
#
# Real KIS needs KIS_APP_KEY and KIS_APP_SECRET in the environment (KIS_SYMBOLS optional). With --fakekis,
# each environment gets its own fakekis process; a scenario of "healthy" means no fault, anything else
# is passed to `fakekis serve --scenario` (e.g. session-in-use, approval-rejected, market-closed).
set -euo pipefail
PY="${PYTHON:-python3}"
seconds=20 out=docs/evidence mock_scn="" live_scn="" use_fake=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --fakekis) use_fake=1; mock_scn="$2"; live_scn="$3"; shift 3 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "ws_compare_env_modes.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

args=(--seconds "$seconds" --out "$out")
if [ "$use_fake" = 1 ]; then
  tmp=$(mktemp -d)
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
  for mode in mock live; do
    scn=$([ "$mode" = mock ] && echo "$mock_scn" || echo "$live_scn")
    extra=()
    [ -n "$scn" ] && [ "$scn" != healthy ] && extra=(--scenario "$scn")
    "$PY" -m fakekis serve --env "$mode" --speed 1 "${extra[@]}" >"$tmp/$mode.json" 2>"$tmp/$mode.log" &
    pids+=($!)
  done
  for mode in mock live; do
    for _ in $(seq 1 150); do [ -s "$tmp/$mode.json" ] && break; sleep 0.1; done   # the ready line, bounded
    [ -s "$tmp/$mode.json" ] || { echo "fakekis ($mode) did not start: $(tail -3 "$tmp/$mode.log")" >&2; exit 1; }
    rest=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["rest_url"])' "$tmp/$mode.json")
    ws=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ws_url"])' "$tmp/$mode.json")
    args+=("--$mode-rest-url" "$rest" "--$mode-ws-url" "$ws")
  done
  export KIS_APP_KEY="${KIS_APP_KEY:-PScompare000000000000000000000000000}" KIS_APP_SECRET="${KIS_APP_SECRET:-compare-secret}"
  export KIS_SYMBOLS="${KIS_SYMBOLS:-005930,000660}" GATEWAY_CLOCK_START="${GATEWAY_CLOCK_START:-2026-11-25T09:05:00+09:00}"
  export GATEWAY_TOKEN_DIR="${GATEWAY_TOKEN_DIR:-$tmp/tokens}"
fi
"$PY" -m gateway compare "${args[@]}"
