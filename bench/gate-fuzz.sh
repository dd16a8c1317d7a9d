#!/usr/bin/env bash
# The gate's differential fuzz test (test/gate-fuzz.test.ts) at a larger size, several seeds.
#
#   bash bench/gate-fuzz.sh                       # 3 runs of 50,000 statements
#   RUNS=10 FUZZ_STATEMENTS=100000 bash bench/gate-fuzz.sh
#   FUZZ_SEED=1234 RUNS=1 bash bench/gate-fuzz.sh # repeat a failing seed
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export FUZZ_STATEMENTS=${FUZZ_STATEMENTS:-50000}
for i in $(seq 1 "${RUNS:-3}"); do
  seed=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
  echo "run $i: seed $seed, $FUZZ_STATEMENTS statements"
  FUZZ_SEED=$seed FUZZ_TIMEOUT_MS=3600000 npx vitest run test/gate-fuzz.test.ts 2>&1 | grep -E 'gate fuzz|✓|×|FAIL|expected' || { echo "failed: seed $seed"; exit 1; }
done
