#!/usr/bin/env bash
# The one test command: what the README tells you to run and what CI runs.
# Static checks first (cheap), then every package's tests under the race
# detector. Tests that need a real KurrentDB skip unless
# CASEBOOK_KURRENTDB_URL is set; the KurrentDB backend's conformance suite
# always runs against an in-process protocol test double. The dashboard's
# browser test (cmd/casebookd/ui_browser_test.go) runs when Chromium and
# ui/web/node_modules are there (.ci/run installs both and requires it),
# and writes its screenshots to artifacts/ui-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change these files:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
# The end-to-end tests validate every request and answer against
# http/openapi.yaml and append their count here (apitest.Report).
CASEBOOK_CONTRACT_REPORT=$(mktemp)
export CASEBOOK_CONTRACT_REPORT
trap 'rm -f "$CASEBOOK_CONTRACT_REPORT"' EXIT
status=0
go test -race -count=1 -timeout 20m "$@" ./... || status=$?
cat "$CASEBOOK_CONTRACT_REPORT"
[ "$status" = 0 ] || exit "$status"

# The national-scale figures' script at a small size (20,000 events, well
# under a minute), so that it cannot rot; its figures are not judged here.
echo "== scripts/load/scale.sh (20,000 events)"
scale_log=$(mktemp)
EVENTS=20000 QUERIES=100 scripts/load/scale.sh >"$scale_log" 2>&1 || { tail -n 40 "$scale_log"; rm -f "$scale_log"; exit 1; }
tail -n 14 "$scale_log"
rm -f "$scale_log"
