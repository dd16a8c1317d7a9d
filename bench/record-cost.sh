#!/usr/bin/env bash
# What recording writes costs: pgbench inserts into a partitioned table (compare.sh's insert-part:
# one single-row INSERT into events, LIST-partitioned by tenant, random tenant) through
#   direct        PostgreSQL
#   pgb-session   PgBouncer, session mode
#   qc-off        quietcut with sql.enabled=false (bytes passed through unparsed, nothing recorded)
#   qc-on         quietcut classifying every statement and recording per-partition writes
#   qc-base       (with BASELINE=<rev>) qc-on as of that commit, to show what later work costs
# in interleaved rounds of one run (../shared/bench/compare.sh). Prints the compare.sh table, the
# ratio qc-on / qc-off (goal: recording costs under 5%), and checks that qc-on recorded exactly
# one statement per pgbench transaction.
#
#   bash bench/record-cost.sh                       # ROUNDS=3 DURATION=10 CLIENTS=10
#   ROUNDS=5 DURATION=20 bash bench/record-cost.sh
#   BASELINE=1234a1c bash bench/record-cost.sh     # also qc-on as of that commit (qc-base)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
. "$SHARED/lib.sh"
# Ports of their own, so a run does not collide with other benchmarks on the box.
PG_PORT=${PG_PORT:-55532}
PGB_PORT=${PGB_PORT:-56532}
QC_ON_PORT=${QC_ON_PORT:-57532}
QC_OFF_PORT=${QC_OFF_PORT:-57533}
QC_BASE_PORT=${QC_BASE_PORT:-57534}
DB=bench
WORK=$(mktemp -d /tmp/qc-record-XXXX)
chmod 755 "$WORK"
OUT=${OUT:-$ROOT/bench/results/record-cost-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
PIDS=()
declare -A QC_PID=() CPU0=()
# CPU seconds (user + system) a process has used so far
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"; }
stop_quietcut() {
  # SIGTERM: graceful stop, which flushes the last history buckets
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_quietcut
  [ -n "${BASELINE:-}" ] && git -C "$ROOT" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
  "$SHARED/pgbouncer-down.sh" "$WORK/pgb" >/dev/null 2>&1 || true
  "$SHARED/pg-down.sh" "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql_direct() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

"$SHARED/pg-up.sh" "$WORK/pg" "$PG_PORT"
"$SHARED/pgbouncer-up.sh" "$WORK/pgb" "$PGB_PORT" "$PG_PORT" session

# The partitioned table must exist before quietcut loads its catalog (it does not see DDL that
# bypasses it until the next refresh), so the database is prepared here, as compare.sh would.
psql_direct -d postgres -c "CREATE DATABASE $DB"
psql_direct -d "$DB" <<'SQL'
SET client_min_messages = warning;
CREATE TABLE events (
  id         bigserial,
  tenant     int         NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  payload    text,
  PRIMARY KEY (tenant, id)
) PARTITION BY LIST (tenant);
DO $$ BEGIN
  FOR i IN 1..8 LOOP
    EXECUTE format('CREATE TABLE events_t%s PARTITION OF events FOR VALUES IN (%s)', i, i);
  END LOOP;
END $$;
SQL

(cd "$ROOT" && npm run build --silent)

start_quietcut() { # name port dist [env...]
  local name=$1 port=$2 dist=$3
  shift 3
  # The built dist/ (as users run it; tsx adds per-call wrappers that inflate JS costs), and the
  # pid is the node process itself, so its CPU time can be read below.
  env QUIETCUT_LOG_LEVEL=warn "$@" node "$dist/cli/main.js" start \
    --upstream "postgres://postgres@127.0.0.1:$PG_PORT/$DB" --listen "127.0.0.1:$port" --metrics 127.0.0.1:0 >"$OUT/$name.log" 2>&1 &
  PIDS+=($!)
  QC_PID[$name]=$!
  for _ in $(seq 1 100); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      CPU0[$name]=$(cpu_s "${QC_PID[$name]}") # start-up (transpile, parser, migrate) is not per INSERT
      return 0
    fi
    sleep 0.2
  done
  cat "$OUT/$name.log" >&2
  die "$name did not start"
}
start_quietcut qc-on "$QC_ON_PORT" "$ROOT/dist"
start_quietcut qc-off "$QC_OFF_PORT" "$ROOT/dist" QUIETCUT_SQL__ENABLED=false
QC_NAMES="qc-off qc-on"
BASE_TARGET=""
if [ -n "${BASELINE:-}" ]; then
  git -C "$ROOT" worktree add --detach "$WORK/base" "$BASELINE" >/dev/null
  ln -s "$ROOT/node_modules" "$WORK/base/node_modules"
  (cd "$WORK/base" && npm run build --silent)
  start_quietcut qc-base "$QC_BASE_PORT" "$WORK/base/dist"
  QC_NAMES="$QC_NAMES qc-base"
  BASE_TARGET=" qc-base=$QC_BASE_PORT"
fi

TARGETS="direct=$PG_PORT pgb-session=$PGB_PORT qc-off=$QC_OFF_PORT qc-on=$QC_ON_PORT$BASE_TARGET" \
WORKLOADS=insert-part INIT=0 \
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} CLIENTS=${CLIENTS:-10} OUTDIR="$OUT" \
  "$SHARED/compare.sh"

# CPU per transaction is far less sensitive to other load on the box than tps: each quietcut only
# serves its own rounds, so its CPU time over the transactions it served is its cost per INSERT.
declare -A CPU=()
for n in $QC_NAMES; do CPU[$n]=$(awk -v a="$(cpu_s "${QC_PID[$n]}")" -v b="${CPU0[$n]}" 'BEGIN { printf "%.2f", a - b }'); done
stop_quietcut
echo
for n in $QC_NAMES; do
  t=$(cat "$OUT"/raw/insert-part.$n.r*.log | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' | awk '{s+=$1} END{print s+0}')
  awk -v n="$n" -v c="${CPU[$n]}" -v t="$t" 'BEGIN { printf "%-7s CPU %7.2f s over %9d transactions: %6.1f us per INSERT\n", n, c, t, t ? 1e6 * c / t : 0 }'
done
# Per-round ratio: both targets ran back to back, so they saw similar background load.
awk -F, '$1=="insert-part" && $5=="ok" && $2=="qc-off"{off[$4]=$6} $1=="insert-part" && $5=="ok" && $2=="qc-on"{on[$4]=$6}
     END{ s = ""; for (r in on) if (off[r] > 0) { s = s sprintf(" r%s=%.3f", r, on[r]/off[r]) } print "per-round tps ratio on/off:" s }' "$OUT/runs.csv"
awk '$1=="insert-part" && $2=="qc-off"{off=$3} $1=="insert-part" && $2=="qc-on"{on=$3}
     END{ if (off > 0) printf "recording on / off (median tps): %.3f  (cost %.1f%%; goal < 5%%)\n", on/off, 100*(1-on/off) }' "$OUT/summary.txt"
if [ -n "${BASELINE:-}" ]; then
  awk -F, '$1=="insert-part" && $5=="ok" && $2=="qc-base"{b[$4]=$6} $1=="insert-part" && $5=="ok" && $2=="qc-on"{on[$4]=$6}
       END{ s = ""; for (r in on) if (b[r] > 0) { s = s sprintf(" r%s=%.3f", r, on[r]/b[r]) } print "per-round tps ratio on/base:" s }' "$OUT/runs.csv"
  awk -v rev="$BASELINE" '$1=="insert-part" && $2=="qc-base"{b=$3} $1=="insert-part" && $2=="qc-on"{on=$3}
       END{ if (b > 0) printf "qc-on / qc-base (median tps; qc-base is qc-on at %s): %.3f\n", rev, on/b }' "$OUT/summary.txt"
fi

# Every pgbench transaction is one INSERT: what qc-on recorded must equal what pgbench committed.
txns=$(cat "$OUT"/raw/insert-part.qc-on.r*.log | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' | awk '{s+=$1} END{print s+0}')
recorded=$(psql_direct -d "$DB" -Atc "SELECT coalesce(sum(statements), 0) FROM quietcut.write_minutes WHERE node LIKE '%:$QC_ON_PORT'")
offrec=$(psql_direct -d "$DB" -Atc "SELECT coalesce(sum(statements), 0) FROM quietcut.write_minutes WHERE node LIKE '%:$QC_OFF_PORT'")
echo "qc-on: pgbench transactions $txns, statements recorded $recorded ($( [[ $txns == "$recorded" ]] && echo exact || echo MISMATCH)); qc-off recorded $offrec"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
echo "results: $OUT"
