#!/usr/bin/env bash
# The API as other people's tools see it (issue 14), run by .ci/run after
# the Go tests: lint http/openapi.yaml with Redocly (recommended rules: 0
# errors, at most 5 warnings) and Spectral (spectral:oas and the OWASP API
# Security 2023 ruleset: 0 errors); start a casebookd on loopback; generate
# TypeScript types from its served /openapi.json (openapi-typescript);
# type-check and run the README's first ten minutes with openapi-fetch
# (clients/typescript). Any disagreement between spec and client fails.
# Needs Go, Node >= 20.19 and npm (versions pinned in
# clients/typescript/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
client=$root/clients/typescript
bin=$client/node_modules/.bin
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true SCARF_ANALYTICS=false NO_UPDATE_NOTIFIER=1

echo "== npm ci (clients/typescript)"
(cd "$client" && npm ci --no-audit --no-fund --loglevel=error)

# verdict FILE TOOL MAXWARN: prints errors and warnings by rule from a
# linter's JSON report and fails past the allowed counts.
verdict() {
  node - "$1" "$2" "$3" <<'JS'
const [file, tool, maxWarn] = process.argv.slice(2);
const report = JSON.parse(require("fs").readFileSync(file, "utf8"));
// Redocly: {problems: [{ruleId, severity: "error"|"warn"}]}; Spectral: [{code, severity: 0|1|2|3}]
const items = Array.isArray(report) ? report.map((p) => ({ rule: p.code, sev: ["error", "warning", "info", "hint"][p.severity] }))
  : report.problems.map((p) => ({ rule: p.ruleId, sev: p.severity === "warn" ? "warning" : p.severity }));
const by = {};
for (const i of items) by[`${i.sev} ${i.rule}`] = (by[`${i.sev} ${i.rule}`] || 0) + 1;
const count = (s) => items.filter((i) => i.sev === s).length;
const errors = count("error"), warnings = count("warning");
console.log(`${tool}: ${errors} errors, ${warnings} warnings` + (Object.keys(by).length ? ":" : ""));
for (const k of Object.keys(by).sort()) console.log(`  ${k}: ${by[k]}`);
if (errors > 0 || warnings > Number(maxWarn)) { console.log(`${tool}: FAILED (allowed: 0 errors, ${maxWarn} warnings)`); process.exit(1); }
JS
}

echo "== Redocly lint (recommended)"
"$bin/redocly" lint --config http/redocly.yaml --format json http/openapi.yaml >"$work/redocly.json" 2>"$work/redocly.err" || true
[ -s "$work/redocly.json" ] || { cat "$work/redocly.err"; exit 1; }
verdict "$work/redocly.json" "Redocly $("$bin/redocly" --version 2>/dev/null | tail -1)" 5

echo "== Spectral lint (spectral:oas, OWASP API Security 2023)"
# The ruleset names the OWASP package, which lives in the client's node_modules.
NODE_PATH=$client/node_modules "$bin/spectral" lint http/openapi.yaml --ruleset http/.spectral.yaml \
  --format json --output "$work/spectral.json" --fail-severity error --quiet || true
[ -s "$work/spectral.json" ] || { echo "Spectral wrote no report"; exit 1; }
verdict "$work/spectral.json" "Spectral $("$bin/spectral" --version)" 1000000

echo "== casebookd on loopback"
go build -o "$work/casebookd" ./cmd/casebookd
investigator=tok-contract-investigator-$RANDOM$RANDOM
auditor=tok-contract-auditor-$RANDOM$RANDOM
analyst=tok-contract-analyst-$RANDOM$RANDOM
cat >"$work/tokens.csv" <<TOKENS
$investigator,officer.walkthrough,investigator,UKBA
$auditor,auditor.walkthrough,auditor,HMIC
$analyst,analyst.walkthrough,analyst,HO
TOKENS
"$work/casebookd" --addr 127.0.0.1:0 --data "$work/data" --tokens "$work/tokens.csv" 2>"$work/casebookd.log" &
server_pid=$!
url=
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*"msg":"casebookd listening","addr":"\([^"]*\)".*/\1/p' "$work/casebookd.log" | head -1)
  if [ -n "$addr" ]; then url=http://$addr; break; fi
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$url" ] || { echo "casebookd did not start:"; cat "$work/casebookd.log"; exit 1; }
echo "casebookd listening at $url"

echo "== openapi-typescript: types from the served $url/openapi.json"
"$bin/openapi-typescript" "$url/openapi.json" --output "$client/src/schema.d.ts" 2>&1 | tail -1

echo "== tsc: type-check and build the walkthrough against them"
(cd "$client" && "$bin/tsc" -p .)
echo "type-check: ok"

echo "== walkthrough (openapi-fetch): the README's first ten minutes"
CASEBOOK_URL=$url INVESTIGATOR_TOKEN=$investigator AUDITOR_TOKEN=$auditor ANALYST_TOKEN=$analyst \
  node "$client/dist/walk.js"
