#!/usr/bin/env bash
# Load test: casebookd against a bare gin handler, side by side in one run.
#
#   scripts/load/run.sh                 # 10 s per measurement, 64 connections, 2 wrk threads
#   DURATION=20s CONNS=128 scripts/load/run.sh
#   DATA_DIR=/big/data scripts/load/run.sh   # casebookd on an existing data directory
#                                            # (scale.sh: RSS on a large store; the load appends to it)
#
# Measures, with wrk (installed from Debian's packages if missing):
#   1. durable POST /v1/cases/{id}/events spread over 64 cases (casebookd,
#      default configuration: embedded SQLite store, info-level request logs
#      written to a file) vs the bare handler decoding the same JSON and
#      answering 201 — goal ≥ 0.5×;
#      and, as a yardstick of the storage engine itself, the same bare
#      handler appending each event durably to the embedded SQLite store
#      (baseline -store: no auth, rules, hash chain, read models or logs);
#   2. GET /v1/reports/summary vs the bare handler answering a small JSON —
#      goal ≥ 0.6× (skipped if casebookd does not serve the route);
# with p50/p99 latencies, and casebookd's peak RSS (VmHWM).
# Everything listens on loopback only; wrk shares the machine's cores.
set -euo pipefail
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
CASES=${CASES:-64}
LOG_LEVEL=${LOG_LEVEL:-info}
CB_ADDR=127.0.0.1:${CB_PORT:-28080}
BARE_ADDR=127.0.0.1:${BARE_PORT:-28081}
STORE_ADDR=127.0.0.1:${STORE_PORT:-28082}
for addr in "$CB_ADDR" "$BARE_ADDR" "$STORE_ADDR"; do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
    echo "something already listens on $addr; set CB_PORT / BARE_PORT / STORE_PORT" >&2
    exit 1
  fi
done

if ! command -v wrk >/dev/null; then
  echo "== installing wrk"
  apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
go build -o "$work/casebookd" ./cmd/casebookd
go build -o "$work/baseline" ./scripts/load/baseline

INV_TOKEN=load-investigator-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
ANA_TOKEN=load-analyst-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s,load.investigator,investigator,UKBA\n%s,load.analyst,analyst,Home Office\n' "$INV_TOKEN" "$ANA_TOKEN" >"$work/tokens.csv"

"$work/casebookd" --addr "$CB_ADDR" --data "${DATA_DIR:-$work/data}" --tokens "$work/tokens.csv" --log-level "$LOG_LEVEL" 2>"$work/casebookd.log" &
CB_PID=$!
pids+=("$CB_PID")
"$work/baseline" -addr "$BARE_ADDR" &
pids+=($!)
"$work/baseline" -addr "$STORE_ADDR" -store "$work/yardstick.db" &
pids+=($!)

for _ in $(seq 100); do
  curl -fsS "http://$CB_ADDR/readyz" >/dev/null 2>&1 && curl -fsS -o /dev/null "http://$BARE_ADDR/v1/reports/summary" 2>/dev/null &&
    curl -fsS -o /dev/null "http://$STORE_ADDR/v1/reports/summary" 2>/dev/null && break
  sleep 0.1
done

echo "== opening $CASES cases"
for i in $(seq "$CASES"); do
  curl -fsS -H "Authorization: Bearer $INV_TOKEN" -H 'Content-Type: application/json' \
    -d "{\"reference\":\"LOAD-$i\",\"title\":\"Load case $i\",\"crime_types\":[\"people_smuggling\"],\"location\":\"Calais\"}" \
    "http://$CB_ADDR/v1/cases" | grep -o '"id":"[0-9a-f-]\{36\}"' | head -n1 | cut -d'"' -f4
done >"$work/cases.txt"
[ "$(wc -l <"$work/cases.txt")" -eq "$CASES" ] || { echo "could not open the cases"; cat "$work/casebookd.log" | tail -5; exit 1; }

# run NAME URL SCRIPT: one wrk measurement; prints wrk's output and keeps
# rate, p50 and p99 in $work/NAME.
run() {
  local name=$1 url=$2 script=$3
  echo "-- $name"
  CASES_FILE="$work/cases.txt" TOKEN="${TOKEN:-}" WRK_PATH="${WRK_PATH:-}" \
    wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$script" "$url" | tee "$work/$name.out"
  awk '/Requests\/sec:/ {r=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /Non-2xx/ {e=$NF}
       END {printf "%s %s %s %s\n", r, p50, p99, (e == "" ? 0 : e)}' "$work/$name.out" >"$work/$name"
}

echo "== POST /v1/cases/{id}/events over $CASES cases ($DURATION, $CONNS connections, $THREADS threads)"
TOKEN=$INV_TOKEN run warmup "http://$CB_ADDR" scripts/load/post.lua >/dev/null
TOKEN="" run bare-post "http://$BARE_ADDR" scripts/load/post.lua
TOKEN="" run store-post "http://$STORE_ADDR" scripts/load/post.lua
TOKEN=$INV_TOKEN run casebookd-post "http://$CB_ADDR" scripts/load/post.lua

summary_status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ANA_TOKEN" "http://$CB_ADDR/v1/reports/summary")
if [ "$summary_status" = 200 ]; then
  echo "== GET /v1/reports/summary ($DURATION, $CONNS connections, $THREADS threads)"
  WRK_PATH=/v1/reports/summary TOKEN="" run bare-get "http://$BARE_ADDR" scripts/load/get.lua
  WRK_PATH=/v1/reports/summary TOKEN=$ANA_TOKEN run casebookd-get "http://$CB_ADDR" scripts/load/get.lua
else
  echo "== GET /v1/reports/summary: casebookd answers $summary_status; skipped"
fi

hwm=$(awk '/VmHWM/ {print $2, $3}' "/proc/$CB_PID/status")
events=$(curl -fsS -H "Authorization: Bearer $INV_TOKEN" "http://$CB_ADDR/metrics" |
  awk '/^casebook_store_append_duration_seconds_count\{outcome="ok"\}/ {print $2}')

echo
echo "== results"
printf '%-34s %12s %10s %10s %9s %8s\n' measurement "req/s" p50 p99 non-2xx ratio
report() {
  local label=$1 name=$2 base=$3 goal=$4
  read -r rate p50 p99 errs <"$work/$name"
  local ratio="-"
  if [ -n "$base" ]; then
    read -r brate _ <"$work/$base"
    ratio=$(awk -v a="$rate" -v b="$brate" 'BEGIN {printf "%.2f", a / b}')
    if [ -n "$goal" ]; then ratio="$ratio (goal ≥ $goal)"; fi
  fi
  printf '%-34s %12s %10s %10s %9s %8s\n' "$label" "$rate" "$p50" "$p99" "$errs" "$ratio"
}
report "bare gin POST" bare-post "" ""
report "bare gin + durable SQLite append" store-post bare-post ""
report "casebookd POST (durable)" casebookd-post bare-post 0.5
if [ -f "$work/casebookd-get" ]; then
  report "bare gin GET summary" bare-get "" ""
  report "casebookd GET /v1/reports/summary" casebookd-get bare-get 0.6
fi
read -r cbrate _ <"$work/casebookd-post"
read -r strate _ <"$work/store-post"
echo "casebookd POST / durable-SQLite yardstick: $(awk -v a="$cbrate" -v b="$strate" 'BEGIN {printf "%.2f", a / b}')"
echo "casebookd peak RSS (VmHWM): $hwm"
echo "durable appends acknowledged by casebookd's store during the run: ${events:-?}"
