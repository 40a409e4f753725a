#!/usr/bin/env bash
# Runs the type check and the whole node:test suite (no installs; scripts/test.sh does those first).
set -euo pipefail
cd "$(dirname "$0")/.."
node node_modules/typescript/bin/tsc -p tsconfig.json --noEmit
# tslab compiles the library again, non-strict, when a notebook imports it: it must pass there too.
node node_modules/typescript/bin/tsc -p tsconfig.tslab.json
# Import rules of src/ (no cycles, layers point down; .dependency-cruiser.cjs).
bash scripts/deps.sh
shopt -s globstar nullglob
exec node --import tsx --test --test-concurrency=1 ${TEST_FILES:-test/**/*.test.ts}
