#!/usr/bin/env bash
# Interleaved pgbench rounds against direct PostgreSQL, PgBouncer (session mode) and quietcut,
# all on this machine, using ../shared/bench. Prints the compare.sh table plus quietcut/PgBouncer.
#
#   bash bench/proxy-vs-pgbouncer.sh                 # ROUNDS=3 DURATION=10 CLIENTS=10
#   QC_ARGS="--config my.yaml" WORKLOADS="tpcb" bash bench/proxy-vs-pgbouncer.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
PG_PORT=${PG_PORT:-55432}
PGB_PORT=${PGB_PORT:-56432}
QC_PORT=${QC_PORT:-57432}
WORK=$(mktemp -d /tmp/qc-bench-XXXX)
chmod 755 "$WORK"
OUT=${OUT:-$ROOT/bench/results/proxy-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
QC_PID=""
cleanup() {
  [ -n "$QC_PID" ] && kill "$QC_PID" 2>/dev/null && wait "$QC_PID" 2>/dev/null || true
  "$SHARED/pgbouncer-down.sh" "$WORK/pgb" >/dev/null 2>&1 || true
  "$SHARED/pg-down.sh" "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$SHARED/pg-up.sh" "$WORK/pg" "$PG_PORT"
"$SHARED/pgbouncer-up.sh" "$WORK/pgb" "$PGB_PORT" "$PG_PORT" session
(cd "$ROOT" && npm run build --silent)
# quietcut keeps its history in the fronted database: create it before the proxy starts.
"${PGBIN:-/usr/lib/postgresql/15/bin}/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres bench 2>/dev/null || true
QUIETCUT_LOG_LEVEL=warn node "$ROOT/dist/cli/main.js" start --upstream "postgres://postgres@127.0.0.1:$PG_PORT/bench" \
  --listen "127.0.0.1:$QC_PORT" --metrics 127.0.0.1:0 ${QC_ARGS:-} >"$OUT/quietcut.log" 2>&1 &
QC_PID=$!
for _ in $(seq 1 50); do (echo >"/dev/tcp/127.0.0.1/$QC_PORT") 2>/dev/null && break; sleep 0.2; done
kill -0 "$QC_PID" 2>/dev/null || { cat "$OUT/quietcut.log" >&2; echo "quietcut did not start" >&2; exit 1; }

TARGETS="direct=$PG_PORT pgb-session=$PGB_PORT quietcut=$QC_PORT" \
WORKLOADS=${WORKLOADS:-"select-simple select-extended select-prepared tpcb"} \
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} CLIENTS=${CLIENTS:-10} OUTDIR="$OUT" \
  "$SHARED/compare.sh"

echo
echo "quietcut / pgb-session (median tps):"
awk '$2=="pgb-session"{p[$1]=$3} $2=="quietcut"{q[$1]=$3} END{for (w in q) if (p[w]>0) printf "  %-16s %.3f\n", w, q[w]/p[w]}' "$OUT/summary.txt"
echo "quietcut resident memory at the end: $(ps -o rss= -p "$QC_PID" 2>/dev/null | awk '{printf "%.1f MiB", $1/1024}')"
