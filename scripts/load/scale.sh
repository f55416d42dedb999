#!/usr/bin/env bash
# Reports at national scale (issue 15): generates a data set with
# `casebook demo --events N` (or takes one already generated) and measures,
# each figure beside a baseline measured in the same run:
#
#   generation rate          vs the store's own append rate for the same
#                               append shape (scalebench append)
#   rebuild of all read models  vs a bare scan of the log (database/sql)
#   casebook verify          vs the same bare scan
#   restart to ready, and to the summary answered at the head
#                            vs start to /healthz (the process listening)
#   reports with as_of, reports without, GET /v1/cases/{id}, a 100-event
#   history page: p50/p99 over QUERIES varied requests each, uncached (day
#   by day only over a year at most; the largest answer, seizures by day
#   over the whole log, is timed apart)
#                            vs GET /healthz in the same run
#   events.db and readmodels.db bytes per event
#   casebookd peak RSS under scripts/load/run.sh (RSS=1; needs wrk)
#
#   scripts/load/scale.sh                          # 20,000 events, quick (CI runs it)
#   EVENTS=1000000 RSS=1 scripts/load/scale.sh
#   DATA=/big/10m scripts/load/scale.sh            # a generated data directory: kept, its
#                                                  # read models rebuilt; the generation not timed
#
# Everything listens on loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."

EVENTS=${EVENTS:-20000}
QUERIES=${QUERIES:-200}
SEED=${SEED:-1}
DATA=${DATA:-}
RSS=${RSS:-0}
ADDR=127.0.0.1:${PORT:-28280}

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building"
go build -o "$work/casebook" ./cmd/casebook
go build -o "$work/casebookd" ./cmd/casebookd
go build -o "$work/scalebench" ./scripts/load/scalebench

# field FILE KEY [FIGURE]: a number from scalebench's (or casebook's) JSON
# lines, in the line whose figure is FIGURE when given.
field() {
  local file=$1 key=$2 figure=${3:-}
  if [ -n "$figure" ]; then
    grep "\"figure\":\"$figure\"" "$file" | grep -o "\"$key\": *[0-9.e+-]*" | head -n1 | cut -d: -f2 | tr -d ' '
  else
    grep -o "\"$key\": *[0-9.e+-]*" "$file" | head -n1 | cut -d: -f2 | tr -d ' '
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
now() { date +%s.%N; } # GNU date
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
results=()
result() { results+=("$(printf '%-44s %-30s %-30s %s' "$1" "$2" "$3" "$4")"); }

if [ -z "$DATA" ]; then
  DATA=$work/data
  echo "== generating $EVENTS events (casebook demo --events $EVENTS --seed $SEED)"
  "$work/casebook" demo --events "$EVENTS" --seed "$SEED" --data "$DATA" --no-projections --json --quiet >"$work/gen.json"
  cat "$work/gen.json"; echo
  base_n=$((EVENTS < 200000 ? EVENTS : 200000))
  "$work/scalebench" append -n "$base_n" -dir "$work" | tee "$work/append.json"
  gen=$(field "$work/gen.json" events_per_second)
  app=$(field "$work/append.json" events_per_second)
  result "generation (casebook demo --events)" "$(printf '%.0f events/s' "$gen")" "$(printf 'store append %.0f events/s' "$app")" "$(ratio "$gen" "$app")×"
else
  echo "== data set: $DATA"
fi

echo "== bare scan of the log (twice: the second, with the page cache warm, is the baseline)"
"$work/scalebench" scan "$DATA/events.db" >/dev/null
"$work/scalebench" scan "$DATA/events.db" | tee "$work/scan.json"
head=$(field "$work/scan.json" events)
scan=$(field "$work/scan.json" events_per_second)

echo "== rebuild of every read model from scratch (casebook projections rebuild)"
rm -f "$DATA"/readmodels.db "$DATA"/readmodels.db-wal "$DATA"/readmodels.db-shm
t=$(now)
"$work/casebook" projections rebuild --data "$DATA" --quiet >/dev/null
secs=$(since "$t")
rate=$(awk -v n="$head" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
echo "$head events in $secs s"
result "rebuild of all read models" "$rate events/s ($secs s)" "bare scan $(printf '%.0f' "$scan") events/s" "$(ratio "$rate" "$scan")× (goal ≥ 250,000/s, ≥ 0.8×)"

echo "== casebook verify"
t=$(now)
"$work/casebook" verify --data "$DATA" --quiet >"$work/verify.txt" || { cat "$work/verify.txt"; echo "verify failed"; exit 1; }
secs=$(since "$t")
rate=$(awk -v n="$head" -v s="$secs" 'BEGIN { printf "%.0f", n / s }')
tail -n 3 "$work/verify.txt"
result "casebook verify of every chain" "$rate events/s ($secs s)" "bare scan $(printf '%.0f' "$scan") events/s" "$(ratio "$rate" "$scan")× (goal ≥ 0.8×)"

size() { local s=0 f; for f in "$@"; do [ -f "$f" ] && s=$((s + $(stat -c %s "$f"))); done; echo "$s"; }
ev_bytes=$(size "$DATA/events.db" "$DATA/events.db-wal")
rm_bytes=$(size "$DATA/readmodels.db" "$DATA/readmodels.db-wal")
result "events.db bytes per event" "$(awk -v b="$ev_bytes" -v n="$head" 'BEGIN { printf "%.0f", b / n }')" "$(awk -v b="$ev_bytes" 'BEGIN { printf "%.1f MB in all", b / 1e6 }')" ""
result "readmodels.db bytes per event" "$(awk -v b="$rm_bytes" -v n="$head" 'BEGIN { printf "%.0f", b / n }')" "$(awk -v b="$rm_bytes" 'BEGIN { printf "%.1f MB in all", b / 1e6 }')" ""

token() { printf '%s-%s' "$1" "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
ANA=$(token scale-analyst); AUD=$(token scale-auditor)
printf '%s,scale.analyst,analyst,UKBA\n%s,scale.auditor,auditor,UKBA\n' "$ANA" "$AUD" >"$work/tokens.csv"
chmod 600 "$work/tokens.csv"

echo "== restarts of casebookd (3; read models present)"
CASEBOOKD=("$work/casebookd" --addr "$ADDR" --data "$DATA" --tokens "$work/tokens.csv" --log-level warn)
"$work/scalebench" restart -addr "$ADDR" -token "$ANA" -head "$head" -runs 3 -- "${CASEBOOKD[@]}" 2>>"$work/casebookd.log" | tee "$work/restart.json"
secs3() { printf '%.3f s' "$1"; }
live=$(secs3 "$(field "$work/restart.json" healthz_seconds)")
result "restart to ready (median of 3)" "$(secs3 "$(field "$work/restart.json" ready_seconds)")" "to /healthz $live" "(goal ≤ 2 s)"
result "restart to the summary at the head" "$(secs3 "$(field "$work/restart.json" summary_at_head_seconds)")" "to /healthz $live" "(goal ≤ 2 s)"

"${CASEBOOKD[@]}" 2>>"$work/casebookd.log" &
pid=$!
"$work/scalebench" wait -addr "$ADDR" -path /readyz
# As the bare scan, the latencies are measured warm: the read models read
# once (in production they stay in the page cache), 50 requests of each
# kind sent first and not measured.
cat "$DATA"/readmodels.db >/dev/null
echo "== latency: $QUERIES varied requests of each kind, one at a time (after 50 of each, not measured)"
"$work/scalebench" latency -addr "$ADDR" -db "$DATA/events.db" -analyst "$ANA" -auditor "$AUD" -n "$QUERIES" -seed "$SEED" | tee "$work/latency.json"
hz=$(field "$work/latency.json" p99_ms healthz)
for k in report_as_of:"reports with as_of:≤ 50 ms at 10M" report:"reports without as_of:≤ 20 ms at 10M" \
  case:"GET /v1/cases/{id}:≤ 10 ms at 10M" history_page:"100-event history page:≤ 10 ms at 10M"; do
  fig=${k%%:*}; rest=${k#*:}; label=${rest%%:*}; goal=${rest#*:}
  p50=$(field "$work/latency.json" p50_ms "$fig"); p99=$(field "$work/latency.json" p99_ms "$fig")
  result "$label, p50 / p99" "$p50 / $p99 ms" "GET /healthz p99 $hz ms" "$(ratio "$p99" "$hz")× (goal p99 $goal)"
done
big_ms=$(field "$work/latency.json" ms largest_answer); big_b=$(field "$work/latency.json" bytes largest_answer)
result "largest answer: seizures by day, whole log" "$big_ms ms, $big_b bytes" "" "(not in the p99s)"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

if [ "$RSS" = 1 ]; then
  echo "== casebookd peak RSS under scripts/load/run.sh, on this data set"
  DATA_DIR="$DATA" scripts/load/run.sh | tee "$work/run.txt"
  rss=$(awk -F': ' '/peak RSS \(VmHWM\)/ {print $2}' "$work/run.txt")
  result "casebookd peak RSS under run.sh" "$rss" "" "(goal at 10M ≤ 1.2× at 1M)"
fi

echo
echo "== results: $head events ($(nproc) cores; $(date -u +%Y-%m-%d))"
printf '%-44s %-30s %-30s %s\n' figure value baseline ratio
printf '%s\n' "${results[@]}"
