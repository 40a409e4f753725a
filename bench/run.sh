#!/usr/bin/env bash
# Runs benchmarks side by side with their references: `bash bench/run.sh` (all) or `bash bench/run.sh matmul sae-forward`.
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE force slow kernels on some machines; they are unset here only, for both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in bench/*.bench.ts; do n=$(basename "$f" .bench.ts); names+=("$n"); done
fi
for n in "${names[@]}"; do
  echo "== bench: $n"
  node --import tsx "bench/$n.bench.ts"
done
