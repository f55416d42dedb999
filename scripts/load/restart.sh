#!/usr/bin/env bash
# Restart time on a large store: starts casebookd on DATA several times and
# reports how long until /readyz answers and until the summary report
# answers at min_position=HEAD (the read models caught up). The first run
# builds the read models if DATA has none; later runs show a restart.
#
#   scripts/load/restart.sh DATA_DIR [RUNS]
#
# A 1,000,000-event store for DATA_DIR is what the projections benchmark
# generates: CASEBOOK_BENCH_EVENTS=1000000 CASEBOOK_BENCH_DIR=/tmp/cbbench \
#   go test -run XXX -bench 'Rebuild$' -benchtime 1x ./projections/
#   → /tmp/cbbench/log-v2-1000000 (copy events.db into a fresh directory).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:?usage: restart.sh DATA_DIR [RUNS]}
runs=${2:-4}
addr=127.0.0.1:${PORT:-28181}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/casebookd" ./cmd/casebookd
token=restart-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s,restart.analyst,analyst,UKBA\n' "$token" >"$work/tokens.csv"
chmod 600 "$work/tokens.csv"
head=$(sqlite3 "file:$data/events.db?mode=ro" 'SELECT coalesce(max(position),0) FROM events' 2>/dev/null || echo 0)
echo "store: $data (head position $head)"
for run in $(seq 1 "$runs"); do
  start=$(date +%s.%N)
  "$work/casebookd" --data "$data" --tokens "$work/tokens.csv" --addr "$addr" --log-level warn 2>"$work/run$run.log" &
  pid=$!
  for _ in $(seq 1 6000); do curl -sf "http://$addr/readyz" >/dev/null && break; sleep 0.01; done
  ready=$(date +%s.%N)
  for _ in $(seq 1 6000); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://$addr/v1/reports/summary?min_position=$head")
    [ "$code" = 200 ] && break
    sleep 0.01
  done
  answered=$(date +%s.%N)
  printf 'run %d: ready in %.3f s; summary at the head in %.3f s\n' "$run" "$(echo "$ready - $start" | bc)" "$(echo "$answered - $start" | bc)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
