#!/usr/bin/env bash
# Interleaved pgbench rounds against direct PostgreSQL, PgBouncer (session mode) and quietcut,
# all on this machine, using ../shared/bench. Prints the compare.sh table plus quietcut/PgBouncer.
# The server has ssl = on (a throwaway self-signed certificate): the plain rows use TCP to it
# (quietcut with upstream.tls.mode disable), the -tls rows TLS on the server hop (PgBouncer
# server_tls_sslmode = require, quietcut upstream.tls.mode require); clients reach both plainly.
#
#   bash bench/proxy-vs-pgbouncer.sh                 # ROUNDS=3 DURATION=10 CLIENTS=10
#   QC_ARGS="--config my.yaml" WORKLOADS="tpcb" bash bench/proxy-vs-pgbouncer.sh
#   BASELINE=1234a1c bash bench/proxy-vs-pgbouncer.sh   # also quietcut as of that commit (qc-base):
#                                                        # what a change cost, in the same interleaved run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared/bench}
PG_PORT=${PG_PORT:-55432}
PGB_PORT=${PGB_PORT:-56432}
QC_PORT=${QC_PORT:-57432}
PGB_TLS_PORT=${PGB_TLS_PORT:-56433}
QC_TLS_PORT=${QC_TLS_PORT:-57433}
WORK=$(mktemp -d /tmp/qc-bench-XXXX)
chmod 755 "$WORK"
OUT=${OUT:-$ROOT/bench/results/proxy-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
QC_PID=""
QC_TLS_PID=""
QC_BASE_PID=""
QC_BASE_PORT=${QC_BASE_PORT:-57434}
cleanup() {
  [ -n "$QC_BASE_PID" ] && kill "$QC_BASE_PID" 2>/dev/null && wait "$QC_BASE_PID" 2>/dev/null || true
  [ -n "${BASELINE:-}" ] && git -C "$ROOT" worktree remove --force "$WORK/base" >/dev/null 2>&1 || true
  [ -n "$QC_PID" ] && kill "$QC_PID" 2>/dev/null && wait "$QC_PID" 2>/dev/null || true
  [ -n "$QC_TLS_PID" ] && kill "$QC_TLS_PID" 2>/dev/null && wait "$QC_TLS_PID" 2>/dev/null || true
  "$SHARED/pgbouncer-down.sh" "$WORK/pgb" >/dev/null 2>&1 || true
  "$SHARED/pgbouncer-down.sh" "$WORK/pgb-tls" >/dev/null 2>&1 || true
  "$SHARED/pg-down.sh" "$WORK/pg" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$SHARED/pg-up.sh" "$WORK/pg" "$PG_PORT"
PSQL=("${PGBIN:-/usr/lib/postgresql/15/bin}/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres)
# TLS on the server: a self-signed certificate the postgres user owns, switched on by a reload.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout "$WORK/pg/server.key" -out "$WORK/pg/server.crt" 2>/dev/null
chmod 600 "$WORK/pg/server.key"
if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$WORK/pg/server.key" "$WORK/pg/server.crt"; fi
"${PSQL[@]}" -p "$PG_PORT" -d postgres -c "ALTER SYSTEM SET ssl_cert_file = '$WORK/pg/server.crt'" -c "ALTER SYSTEM SET ssl_key_file = '$WORK/pg/server.key'" -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()"
"$SHARED/pgbouncer-up.sh" "$WORK/pgb" "$PGB_PORT" "$PG_PORT" session
"$SHARED/pgbouncer-up.sh" "$WORK/pgb-tls" "$PGB_TLS_PORT" "$PG_PORT" session
echo "server_tls_sslmode = require" >>"$WORK/pgb-tls/pgbouncer.ini"
"${PSQL[@]}" -p "$PGB_TLS_PORT" -d pgbouncer -c RELOAD
(cd "$ROOT" && npm run build --silent)
# quietcut keeps its history in the fronted database: create it before the proxy starts.
"${PGBIN:-/usr/lib/postgresql/15/bin}/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres bench 2>/dev/null || true
QUIETCUT_LOG_LEVEL=warn QUIETCUT_UPSTREAM__TLS__MODE=disable node "$ROOT/dist/cli/main.js" start --upstream "postgres://postgres@127.0.0.1:$PG_PORT/bench" \
  --listen "127.0.0.1:$QC_PORT" --metrics 127.0.0.1:0 ${QC_ARGS:-} >"$OUT/quietcut.log" 2>&1 &
QC_PID=$!
QUIETCUT_LOG_LEVEL=warn QUIETCUT_UPSTREAM__TLS__MODE=require QUIETCUT_NODE=bench-tls node "$ROOT/dist/cli/main.js" start --upstream "postgres://postgres@127.0.0.1:$PG_PORT/bench" \
  --listen "127.0.0.1:$QC_TLS_PORT" --metrics 127.0.0.1:0 ${QC_ARGS:-} >"$OUT/quietcut-tls.log" 2>&1 &
QC_TLS_PID=$!
PORTS=("$QC_PORT" "$QC_TLS_PORT")
BASE_TARGET=""
if [ -n "${BASELINE:-}" ]; then
  git -C "$ROOT" worktree add --detach "$WORK/base" "$BASELINE" >/dev/null
  ln -s "$ROOT/node_modules" "$WORK/base/node_modules"
  (cd "$WORK/base" && npm run build --silent)
  QUIETCUT_LOG_LEVEL=warn QUIETCUT_UPSTREAM__TLS__MODE=disable QUIETCUT_NODE=bench-base node "$WORK/base/dist/cli/main.js" start --upstream "postgres://postgres@127.0.0.1:$PG_PORT/bench" \
    --listen "127.0.0.1:$QC_BASE_PORT" --metrics 127.0.0.1:0 ${QC_ARGS:-} >"$OUT/quietcut-base.log" 2>&1 &
  QC_BASE_PID=$!
  PORTS+=("$QC_BASE_PORT")
  BASE_TARGET="qc-base=$QC_BASE_PORT"
fi
for port in "${PORTS[@]}"; do
  for _ in $(seq 1 100); do (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
done
kill -0 "$QC_PID" 2>/dev/null || { cat "$OUT/quietcut.log" >&2; echo "quietcut did not start" >&2; exit 1; }
kill -0 "$QC_TLS_PID" 2>/dev/null || { cat "$OUT/quietcut-tls.log" >&2; echo "quietcut (upstream TLS) did not start" >&2; exit 1; }

# what each target's server connection is: TLS for the -tls rows only
for t in "pgb-session=$PGB_PORT" "quietcut=$QC_PORT" "pgb-tls=$PGB_TLS_PORT" "quietcut-tls=$QC_TLS_PORT"; do
  echo "$t server hop TLS: $("${PSQL[@]}" -p "${t#*=}" -d bench -At -c 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')"
done

# CPU time (clock ticks) of a process and all its descendants: quietcut --workers runs several.
cpu_ticks() {
  local total=0 pid
  for pid in $(tree_pids "$1"); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
tree_pids() {
  echo "$1"
  local c
  for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do tree_pids "$c"; done
}
PGB_PID=$(cat "$WORK/pgb/pgbouncer.pid")
PGB_TLS_PID=$(cat "$WORK/pgb-tls/pgbouncer.pid")
declare -A CPU_PID=([pgb-session]=$PGB_PID [quietcut]=$QC_PID [pgb-tls]=$PGB_TLS_PID [quietcut-tls]=$QC_TLS_PID)
[ -n "$QC_BASE_PID" ] && CPU_PID[qc-base]=$QC_BASE_PID
declare -A CPU_BEFORE=()
for t in "${!CPU_PID[@]}"; do CPU_BEFORE[$t]=$(cpu_ticks "${CPU_PID[$t]}"); done

TARGETS="direct=$PG_PORT pgb-session=$PGB_PORT quietcut=$QC_PORT $BASE_TARGET pgb-tls=$PGB_TLS_PORT quietcut-tls=$QC_TLS_PORT" \
WORKLOADS=${WORKLOADS:-"select-simple select-extended select-prepared tpcb"} \
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-10} CLIENTS=${CLIENTS:-10} OUTDIR="$OUT" \
  "$SHARED/compare.sh"

echo
echo "quietcut / pgb-session (median tps):"
awk '$2=="pgb-session"{p[$1]=$3} $2=="quietcut"{q[$1]=$3} END{for (w in q) if (p[w]>0) printf "  %-16s %.3f\n", w, q[w]/p[w]}' "$OUT/summary.txt"
echo "quietcut-tls / pgb-tls (median tps; TLS on the server hop, server_tls_sslmode = require):"
awk '$2=="pgb-tls"{p[$1]=$3} $2=="quietcut-tls"{q[$1]=$3} END{for (w in q) if (p[w]>0) printf "  %-16s %.3f\n", w, q[w]/p[w]}' "$OUT/summary.txt"
if [ -n "${BASELINE:-}" ]; then
  echo "quietcut / qc-base (median tps; qc-base is quietcut at $BASELINE):"
  awk '$2=="qc-base"{p[$1]=$3} $2=="quietcut"{q[$1]=$3} END{for (w in q) if (p[w]>0) printf "  %-16s %.3f\n", w, q[w]/p[w]}' "$OUT/summary.txt"
fi
# Each proxy is busy only during its own runs (interleaved), so its CPU over the whole comparison
# divided by the transactions that went through it is its cost per transaction.
echo "CPU per transaction of each proxy process (user+system, all its processes; pgbench and PostgreSQL share the cores):"
TICK_US=$((1000000 / $(getconf CLK_TCK)))
for t in pgb-session quietcut ${QC_BASE_PID:+qc-base} pgb-tls quietcut-tls; do
  ticks=$(( $(cpu_ticks "${CPU_PID[$t]}") - ${CPU_BEFORE[$t]} ))
  tx=$(awk -F, -v t="$t" -v d="${DURATION:-10}" '$2==t && $5=="ok"{n += $6 * d} END{printf "%.0f", n}' "$OUT/runs.csv")
  [ "$tx" -gt 0 ] && awk -v t="$t" -v k="$ticks" -v u="$TICK_US" -v n="$tx" 'BEGIN{printf "  %-14s %6.1f µs/tx  (%d transactions)\n", t, k * u / n, n}'
done
echo "quietcut resident memory at the end: $(ps -o rss= -p "$QC_PID" 2>/dev/null | awk '{printf "%.1f MiB", $1/1024}')"
