#!/usr/bin/env bash
# A/B of two casebookd builds under the load of run.sh, alternated so that a
# shared, noisy machine treats both alike:
#
#   scripts/load/ab.sh OLD_BINARY NEW_BINARY            # 3 rounds, 8 s per measurement
#   ROUNDS=5 DURATION=10s scripts/load/ab.sh a b
#   EXTRA_ARGS_A="--max-requests 4096" scripts/load/ab.sh a b   # per-binary flags
#
# Each round starts each build on a fresh data directory, opens $CASES
# cases, warms up, then measures durable POST /v1/cases/{id}/events (the
# body of post.lua) and GET /v1/reports/summary with wrk. Prints every run
# and the medians, with B/A ratios. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
A=${1:?usage: ab.sh OLD_BINARY NEW_BINARY}
B=${2:?usage: ab.sh OLD_BINARY NEW_BINARY}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
CASES=${CASES:-64}
ADDR=127.0.0.1:${AB_PORT:-28090}
POST_SCRIPT=${POST_SCRIPT:-scripts/load/post.lua}

if ! command -v wrk >/dev/null; then
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

INV_TOKEN=ab-investigator-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
ANA_TOKEN=ab-analyst-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s,load.investigator,investigator,UKBA\n%s,load.analyst,analyst,HO\n' "$INV_TOKEN" "$ANA_TOKEN" >"$work/tokens.csv"
chmod 600 "$work/tokens.csv"

# measure LABEL BINARY EXTRA_ARGS: one round of one build.
measure() {
  local label=$1 bin=$2 extra=$3 data="$work/data-$1-$RANDOM"
  # One principal drives the load: its fair share is raised so that it is
  # checked on every request and refuses none (builds without per-caller
  # limits ignore these).
  # shellcheck disable=SC2086
  CASEBOOK_PRINCIPAL_MAX_REQUESTS=100000 CASEBOOK_PRINCIPAL_RATE=1000000000 CASEBOOK_PRINCIPAL_BURST=1000000000 \
    "$bin" --addr "$ADDR" --data "$data" --tokens "$work/tokens.csv" $extra 2>"$work/$label.log" &
  pid=$!
  for _ in $(seq 100); do curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  for i in $(seq "$CASES"); do
    curl -fsS -H "Authorization: Bearer $INV_TOKEN" -H 'Content-Type: application/json' \
      -d "{\"reference\":\"AB-$i\",\"title\":\"Load case $i\",\"crime_types\":[\"people_smuggling\"],\"location\":\"Calais\"}" \
      "http://$ADDR/v1/cases" | grep -o '"id":"[0-9a-f-]\{36\}"' | head -n1 | cut -d'"' -f4
  done >"$work/cases.txt"
  CASES_FILE="$work/cases.txt" TOKEN=$INV_TOKEN wrk -t"$THREADS" -c"$CONNS" -d2s -s "$POST_SCRIPT" "http://$ADDR" >/dev/null
  local post get
  CASES_FILE="$work/cases.txt" TOKEN=$INV_TOKEN wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$POST_SCRIPT" "http://$ADDR" >"$work/post.out"
  WRK_PATH=/v1/reports/summary TOKEN=$ANA_TOKEN wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s scripts/load/get.lua "http://$ADDR" >"$work/get.out"
  # A rate of refusals is no rate: any answer but 2xx fails the run.
  if grep -q "Non-2xx" "$work/post.out" "$work/get.out"; then
    echo "$label: non-2xx answers:" >&2
    grep -h "Non-2xx" "$work/post.out" "$work/get.out" >&2
    tail -3 "$work/$label.log" >&2
    exit 1
  fi
  post=$(awk '/Requests\/sec:/ {print $2}' "$work/post.out")
  get=$(awk '/Requests\/sec:/ {print $2}' "$work/get.out")
  local rss
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  rm -rf "$data"
  echo "$label $post $get $rss" | tee -a "$work/results"
}

echo "round label post_req/s get_summary_req/s peak_rss_kB"
for r in $(seq "$ROUNDS"); do
  printf '%s ' "$r"; measure A "$A" "${EXTRA_ARGS_A:-}"
  printf '%s ' "$r"; measure B "$B" "${EXTRA_ARGS_B:-}"
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for col in 2 3 4; do
  ma=$(awk -v c=$col '$1=="A" {print $c}' "$work/results" | median)
  mb=$(awk -v c=$col '$1=="B" {print $c}' "$work/results" | median)
  name=$(echo "post get rss" | cut -d' ' -f$((col - 1)))
  printf 'median %-5s A %10s  B %10s  B/A %s\n' "$name" "$ma" "$mb" "$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.3f", b / a}')"
done
