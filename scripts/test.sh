#!/usr/bin/env bash
# Runs every test: sets up (scripts/setup.sh), checks types, API docs, the
# layer rule, lint and format, runs the unit tests with coverage (the pure
# layers held to thresholds) and the rest of the node-tap suite with the
# node-gyp build, then the binding and codec tests again with the cmake-js
# build. Ends with one line: `N passed, N failed, N skipped`.
# As root the privileged and e2e tests run (in private namespaces; e2e boots
# a test guest under TCG, built once into .cache/guest); otherwise they are
# reported as skipped, never as passed.
set -uo pipefail
cd "$(dirname "$0")/.."
NETFD_CMAKE=1 bash scripts/setup.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }

if [ "$(id -u)" = 0 ]; then
  # The e2e tests boot a tiny guest: build it once (cached in .cache/guest).
  bash scripts/guest-image.sh || { echo "0 passed, 1 failed, 0 skipped"; exit 1; }
else
  echo "netfd test: not root: privileged and e2e tests will be skipped"
fi

passed=0 failed=0 skipped=0 status=0
run_suite() {
  local label=$1; shift
  local log
  log=$(mktemp)
  echo "== $label"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # tap's closing summary: "# { total: N, pass: N, fail: N, skip: N, todo: N }"
  local summary
  summary=$(grep -E '^# \{ total: ' "$log" | tail -n 1)
  rm -f "$log"
  if [ -z "$summary" ]; then
    echo "netfd test: $label printed no summary"
    failed=$((failed + 1)); status=1; return
  fi
  local p f s
  p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
  s=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
  if [ "$rc" != 0 ]; then
    status=1
    [ "${f:-0}" = 0 ] && failed=$((failed + 1))
  fi
}

# tap only transpiles the tests; type-check them (and lib) once, as one test.
echo "== type check (tsc -p test/tsconfig.json)"
if npx --no-install tsc -p test/tsconfig.json; then echo "type check: pass"; passed=$((passed + 1)); else echo "type check: FAIL"; failed=$((failed + 1)); status=1; fi

# The API reference, from the doc comments of what the two entry points
# export (typedoc.json): every exported item documented, every type in a
# public signature exported, links valid; warnings fail. Written to docs/api.
echo "== API docs (typedoc: every export documented)"
if npx --no-install typedoc; then echo "API docs: pass (docs/api/index.html)"; passed=$((passed + 1)); else echo "API docs: FAIL"; failed=$((failed + 1)); status=1; fi

# The layer rule (ARCHITECTURE.md), lint and format: each one counted check.
check() {
  local label=$1; shift
  echo "== $label"
  if "$@"; then echo "$label: pass"; passed=$((passed + 1)); else echo "$label: FAIL"; failed=$((failed + 1)); status=1; fi
}
check "layers (dependency-cruiser)" npx --no-install depcruise lib --config .dependency-cruiser.cjs
check "lint (eslint)" npx --no-install eslint lib test bench scripts
check "format (prettier --check)" npx --no-install prettier --check lib test bench scripts eslint.config.mjs .dependency-cruiser.cjs

# Unit tests with coverage (test/coverage-map.js: each counts for its layer),
# then the pure layers held to their thresholds (scripts/coverage-check.js).
run_suite "unit tests (node-gyp build, with coverage)" npx --no-install tap --reporter=tap --no-disable-coverage --coverage-map=test/coverage-map.js --allow-incomplete-coverage --coverage-report=json-summary test/unit
check "coverage of the pure layers" node scripts/coverage-check.js .tap/report/coverage-summary.json
run_suite "native, privileged and e2e tests (node-gyp build)" npx --no-install tap --reporter=tap test/native test/privileged test/e2e
run_suite "binding and codec tests (cmake-js build)" env NETFD_NATIVE=build-cmake/Release/netfd.node npx --no-install tap --reporter=tap test/native test/unit/codec.ts

echo "$passed passed, $failed failed, $skipped skipped"
exit $status
