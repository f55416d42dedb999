#!/usr/bin/env bash
# Load test: casebookd against a bare gin handler, side by side in one run.
#
#   scripts/load/run.sh                 # 10 s per measurement, 64 connections, 2 wrk threads
#   DURATION=20s CONNS=128 scripts/load/run.sh
#   CASEBOOKD=/tmp/base/casebookd scripts/load/run.sh   # a prebuilt casebookd (A/B of builds)
#   DATA_DIR=/big/data scripts/load/run.sh   # casebookd on an existing data directory
#                                            # (scale.sh: RSS on a large store; the load appends to it)
#
# The load is one investigator (and one analyst) on CONNS connections, far
# above a principal's default share (32 requests at once, 100 a second):
# the script raises the per-principal limits through the environment
# (CASEBOOK_PRINCIPAL_*, which builds without them ignore) so that they are
# checked on every request but never refuse one — it measures what the
# limits cost, not what they refuse.
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
# With OIDC=1, casebookd also accepts OpenID Connect tokens of a test issuer
# (scripts/load/issuer: a loopback test double serving discovery and JWKS,
# RS256 keys, or ES256 with OIDC_ALG=ES256), and the POST and GET
# measurements are repeated with its tokens right after the static-token
# ones, in the same run, against the same server.
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
OIDC=${OIDC:-0}
OIDC_ALG=${OIDC_ALG:-RS256}
ISSUER_ADDR=127.0.0.1:${ISSUER_PORT:-28083}
for addr in "$CB_ADDR" "$BARE_ADDR" "$STORE_ADDR" "$ISSUER_ADDR"; do
  if (exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}") 2>/dev/null; then
    echo "something already listens on $addr; set CB_PORT / BARE_PORT / STORE_PORT / ISSUER_PORT" >&2
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
if [ -n "${CASEBOOKD:-}" ]; then
  cp "$CASEBOOKD" "$work/casebookd"
else
  go build -o "$work/casebookd" ./cmd/casebookd
fi
go build -o "$work/baseline" ./scripts/load/baseline
go build -o "$work/issuer" ./scripts/load/issuer

INV_TOKEN=load-investigator-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
ANA_TOKEN=load-analyst-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s,load.investigator,investigator,UKBA\n%s,load.analyst,analyst,HO\n' "$INV_TOKEN" "$ANA_TOKEN" >"$work/tokens.csv"

oidc_flags=()
if [ "$OIDC" = 1 ]; then
  "$work/issuer" -addr "$ISSUER_ADDR" -audience casebook-load -alg "$OIDC_ALG" -out "$work" \
    -token investigator=load.sso.investigator,investigator,UKBA -token analyst=load.sso.analyst,analyst,HO 2>"$work/issuer.log" &
  pids+=($!)
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://$ISSUER_ADDR/.well-known/openid-configuration" 2>/dev/null && break
    sleep 0.1
  done
  OIDC_INV_TOKEN=$(cat "$work/investigator.jwt")
  OIDC_ANA_TOKEN=$(cat "$work/analyst.jwt")
  oidc_flags=(--oidc-issuer "http://$ISSUER_ADDR" --oidc-audience casebook-load)
fi

# One principal drives the whole load: its fair share is raised so that it
# is checked on every request and refuses none (the build before the
# limits ignores these).
CASEBOOK_PRINCIPAL_MAX_REQUESTS=100000 CASEBOOK_PRINCIPAL_RATE=1000000000 CASEBOOK_PRINCIPAL_BURST=1000000000 \
  "$work/casebookd" --addr "$CB_ADDR" --data "${DATA_DIR:-$work/data}" --tokens "$work/tokens.csv" "${oidc_flags[@]}" --log-level "$LOG_LEVEL" 2>"$work/casebookd.log" &
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
if [ "$OIDC" = 1 ]; then
  TOKEN=$OIDC_INV_TOKEN run casebookd-post-oidc "http://$CB_ADDR" scripts/load/post.lua
fi

summary_status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ANA_TOKEN" "http://$CB_ADDR/v1/reports/summary")
if [ "$summary_status" = 200 ]; then
  echo "== GET /v1/reports/summary ($DURATION, $CONNS connections, $THREADS threads)"
  WRK_PATH=/v1/reports/summary TOKEN="" run bare-get "http://$BARE_ADDR" scripts/load/get.lua
  WRK_PATH=/v1/reports/summary TOKEN=$ANA_TOKEN run casebookd-get "http://$CB_ADDR" scripts/load/get.lua
  if [ "$OIDC" = 1 ]; then
    WRK_PATH=/v1/reports/summary TOKEN=$OIDC_ANA_TOKEN run casebookd-get-oidc "http://$CB_ADDR" scripts/load/get.lua
  fi
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
if [ -f "$work/casebookd-post-oidc" ]; then
  report "casebookd POST, OIDC $OIDC_ALG token" casebookd-post-oidc casebookd-post ""
fi
if [ -f "$work/casebookd-get" ]; then
  report "bare gin GET summary" bare-get "" ""
  report "casebookd GET /v1/reports/summary" casebookd-get bare-get 0.6
  if [ -f "$work/casebookd-get-oidc" ]; then
    report "casebookd GET summary, OIDC $OIDC_ALG" casebookd-get-oidc casebookd-get ""
  fi
fi
if [ "$OIDC" = 1 ]; then
  echo "(OIDC rows: ratio against the same route with a static token, same run)"
fi
read -r cbrate _ <"$work/casebookd-post"
read -r strate _ <"$work/store-post"
echo "casebookd POST / durable-SQLite yardstick: $(awk -v a="$cbrate" -v b="$strate" 'BEGIN {printf "%.2f", a / b}')"
echo "casebookd peak RSS (VmHWM): $hwm"
echo "durable appends acknowledged by casebookd's store during the run: ${events:-?}"
