#!/usr/bin/env bash
# Abuse figures: issue 13's attacks replayed on two casebookd builds, one
# after the other, each on a fresh data directory, with default settings.
#
#   scripts/load/abuse.sh [BASE_BINARY]     # default: /tmp/base/casebookd
#
# Builds this tree's casebookd and scripts/load/abuse, then for each build
# runs the scenarios of scripts/load/abuse/main.go (methods, slowbody,
# minpos) and prints their lines. Everything listens on loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=${1:-/tmp/base/casebookd}
ADDR=127.0.0.1:${ABUSE_PORT:-28390}
SCENARIOS=${SCENARIOS:-methods slowbody minpos}

work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/casebookd" ./cmd/casebookd
go build -o "$work/abuse" ./scripts/load/abuse

tok() { echo "abuse-$1-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
ATTACKER=$(tok attacker) BYSTANDER=$(tok bystander) ANALYST=$(tok analyst)
printf '%s,inv.attacker,investigator,UKBA\n%s,inv.bystander,investigator,UKBA\n%s,ana.attacker,analyst,Home Office\n' \
  "$ATTACKER" "$BYSTANDER" "$ANALYST" >"$work/tokens.csv"
chmod 600 "$work/tokens.csv"

for build in "$BASE" "$work/casebookd"; do
  label=$([ "$build" = "$BASE" ] && echo "base ($BASE)" || echo "this tree")
  for scenario in $SCENARIOS; do
    rm -rf "$work/data"
    "$build" --addr "$ADDR" --data "$work/data" --tokens "$work/tokens.csv" --log-level warn 2>"$work/log" &
    pid=$!
    for _ in $(seq 100); do curl -fsS "http://$ADDR/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
    case_id=$(curl -fsS -H "Authorization: Bearer $ATTACKER" -H 'Content-Type: application/json' \
      -d '{"reference":"ABUSE-1","title":"Abuse","crime_types":["people_smuggling"],"location":"Calais"}' \
      "http://$ADDR/v1/cases" | grep -o '"id":"[0-9a-f-]\{36\}"' | head -n1 | cut -d'"' -f4)
    echo "== $label: $scenario"
    "$work/abuse" -url "http://$ADDR" -pid "$pid" -attacker "$ATTACKER" -bystander "$BYSTANDER" -analyst "$ANALYST" \
      -case "$case_id" "$scenario" || true
    echo "   log lines at ERROR: $(grep -c '"level":"ERROR"' "$work/log" || true)"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  done
done
