#!/usr/bin/env bash
# bench/slo.sh: meshpg.evaluate against the same checks run the way other
# tools run them, measured side by side in one run on a throwaway cluster
# that preloads meshpg.
#
# The product (bench/slo_setup.sql): BENCH_ROWS rows (5,000,000 by default)
# with ten SLOs: freshness by column and by last change, three
# completeness, three validity, uniqueness of the primary key, volume.
#
#   B1 ten SLOs: meshpg.evaluate (one pass; the last-change freshness and
#      the primary key's uniqueness scan nothing), against the ten checks as
#      ten separate queries (as Soda, Great Expectations or Snowflake's data
#      metric functions run them: max(col), count(*) FILTER, count(*) -
#      count(DISTINCT id), count(*)), and against a plain SELECT count(*).
#      Median of BENCH_RUNS interleaved runs (order rotated each run), after
#      a warm-up run.  Targets: evaluate <= 0.2 x separate, <= 3.5 x count(*).
#   B2 freshness by last change: meshpg.evaluate(product, slos =>
#      '{fresh_change}') on the 5M-row product and on a 1,000-row product,
#      median of BENCH_FRESH_RUNS; meshpg.last_change() too.  Target: <= 1 ms
#      at any size.
#   B3 the read gate: pgbench primary-key reads of the 1,001-row product
#      with meshpg.slo_gate off and warn (no breach; its freshness by last
#      change is judged live on every read), BENCH_GATE_SECONDS each,
#      interleaved twice.
#
# The machine is shared (2 cores, other builds and tests running): figures
# are noisy, hence medians of interleaved runs; read ratios, not times.
#
# Environment: BENCH_ROWS (5000000), BENCH_RUNS (5), BENCH_FRESH_RUNS (50),
# BENCH_GATE_SECONDS (5),
# BENCH_JIT (off), BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-5000000}
RUNS=${BENCH_RUNS:-5}
FRESH_RUNS=${BENCH_FRESH_RUNS:-50}
GATE_SECS=${BENCH_GATE_SECONDS:-5}
JIT=${BENCH_JIT:-off}
for v in ROWS RUNS FRESH_RUNS GATE_SECS; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "BENCH_$v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done
if [ "$ROWS" -lt 1000 ] || [ "$RUNS" -lt 1 ] || [ "$FRESH_RUNS" -lt 1 ] || [ "$GATE_SECS" -lt 1 ]; then
    meshpg_err "need BENCH_ROWS >= 1000 and every other count >= 1"
    exit 1
fi

trap bench_on_exit EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 1GB" "jit = $JIT"

psql_b() { meshpg_psql -d bench -v ON_ERROR_STOP=1 -q "$@"; }
# timings FILE: the "Time: N ms" lines of a psql run with \timing, in ms
timings() { sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' "$1"; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "loading $ROWS rows and declaring ten SLOs"
psql_b -o /dev/null -v rows="$ROWS" -f "$MESHPG_ROOT/bench/slo_setup.sql"
psql_b -o /dev/null <<'SQL'
SET ROLE bench_team;
CREATE TABLE sales.small AS SELECT * FROM sales.orders WHERE id BETWEEN 1 AND 1000;
RESET ROLE;
SELECT meshpg.register_product('sales', 'small', 'sales.small');
SELECT meshpg.declare_slo('sales.small', 'fresh_change', 'freshness', '{"max_age": "1 day"}');
SET ROLE bench_team;
INSERT INTO sales.small VALUES (-1, 1, 'late@example.com', 'paid', 1, now());
SQL

# The ten checks, one query each, as the other tools run them.
SEPARATE=(
    "SELECT max(paid_at) FROM sales.orders"
    "SELECT max(paid_at) FROM sales.orders"
    "SELECT count(*) FILTER (WHERE customer_id IS NOT NULL), count(*) FROM sales.orders"
    "SELECT count(*) FILTER (WHERE email IS NOT NULL), count(*) FROM sales.orders"
    "SELECT count(*) FILTER (WHERE amount IS NOT NULL AND paid_at IS NOT NULL AND status IS NOT NULL), count(*) FROM sales.orders"
    "SELECT count(*) FILTER (WHERE amount >= 0), count(*) FROM sales.orders"
    "SELECT count(*) FILTER (WHERE status IN ('new', 'paid', 'refunded')), count(*) FROM sales.orders"
    "SELECT count(*) FILTER (WHERE paid_at <= now()), count(*) FROM sales.orders"
    "SELECT count(*) - count(DISTINCT id) FROM sales.orders"
    "SELECT count(*) FROM sales.orders"
)
EVALUATE="SELECT count(*) FROM meshpg.evaluate('sales.orders')"
COUNT="SELECT count(*) FROM sales.orders"

meshpg_log "sanity: evaluate measures all ten, without error"
psql_b -At -c "SELECT slo, met, coalesce(error, '') FROM meshpg.evaluate('sales.orders') ORDER BY slo" |
    sed 's/^/    /'
bad=$(psql_b -At -c "SELECT count(*) FROM meshpg.evaluate('sales.orders') WHERE error IS NOT NULL")
[ "$bad" = 0 ] || { meshpg_err "evaluate reported $bad errors"; exit 1; }

# ---------------------------------------------------------------------------
# B1
# ---------------------------------------------------------------------------
meshpg_log "B1: $RUNS interleaved runs (after a warm-up) of count(*), evaluate, ten queries"
work=$(mktemp -d)
chmod 755 "$work"
declare -a T_COUNT=() T_EVAL=() T_SEP=()
for run in $(seq 0 "$RUNS"); do
    for k in 0 1 2; do
        variant=$(( (run + k) % 3 ))
        script="$work/run.sql"
        {
            echo '\timing on'
            echo '\o /dev/null'
            case $variant in
                0) echo "$COUNT;" ;;
                1) echo "$EVALUATE;" ;;
                2) printf '%s;\n' "${SEPARATE[@]}" ;;
            esac
        } >"$script"
        chmod 644 "$script"
        total=$(psql_b -f "$script" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' |
                awk '{ s += $1 } END { printf "%.3f", s }')
        [ "$run" -eq 0 ] && continue        # warm-up
        case $variant in
            0) T_COUNT+=("$total") ;;
            1) T_EVAL+=("$total") ;;
            2) T_SEP+=("$total") ;;
        esac
    done
done
m_count=$(printf '%s\n' "${T_COUNT[@]}" | median)
m_eval=$(printf '%s\n' "${T_EVAL[@]}" | median)
m_sep=$(printf '%s\n' "${T_SEP[@]}" | median)
r_sep=$(ratio "$m_eval" "$m_sep")
r_count=$(ratio "$m_eval" "$m_count")
r_sep_count=$(ratio "$m_sep" "$m_count")

# ---------------------------------------------------------------------------
# B2
# ---------------------------------------------------------------------------
meshpg_log "B2: freshness by last change, $FRESH_RUNS runs each at $ROWS and 1001 rows"
fresh() {   # PRODUCT -> median ms of evaluate(product, slos => '{fresh_change}')
    {
        echo '\timing on'
        echo '\o /dev/null'
        for _ in $(seq "$FRESH_RUNS"); do
            echo "SELECT * FROM meshpg.evaluate('$1', slos => '{fresh_change}');"
        done
    } >"$work/fresh.sql"
    chmod 644 "$work/fresh.sql"
    psql_b -f "$work/fresh.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | median
}
lastchange() {
    {
        echo '\timing on'
        echo '\o /dev/null'
        for _ in $(seq "$FRESH_RUNS"); do echo "SELECT meshpg.last_change('$1');"; done
    } >"$work/lc.sql"
    chmod 644 "$work/lc.sql"
    psql_b -f "$work/lc.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | median
}
# ---------------------------------------------------------------------------
# B3
# ---------------------------------------------------------------------------
gate_tps() {   # GATE -> TPS of a primary-key read of sales.small, meshpg.slo_gate = GATE
    echo 'SELECT amount FROM sales.small WHERE id = 7;' >"$work/read.sql"
    chmod 644 "$work/read.sql"
    meshpg_run_as_pg env PGOPTIONS="-c meshpg.slo_gate=$1" "$MESHPG_PG_BIN/pgbench" -n -M prepared \
        -h "$MESHPG_TMP" -p "$MESHPG_PGPORT" -T "$GATE_SECS" -f "$work/read.sql" bench 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p'
}
meshpg_log "B3: the read gate, off and warn (no breach), pgbench $GATE_SECS s each, interleaved x2"
psql_b -c 'CREATE UNIQUE INDEX ON sales.small (id)' -o /dev/null
declare -a G_OFF=() G_WARN=()
for _ in 1 2; do
    G_OFF+=("$(gate_tps off)")
    G_WARN+=("$(gate_tps warn)")
done
g_off=$(printf '%s\n' "${G_OFF[@]}" | median)
g_warn=$(printf '%s\n' "${G_WARN[@]}" | median)

f_big=$(fresh sales.orders)
f_small=$(fresh sales.small)
l_big=$(lastchange sales.orders)
l_small=$(lastchange sales.small)
rm -rf "$work"

echo
echo "== B1: ten SLOs over $ROWS rows (median of $RUNS interleaved runs, ms) =="
printf '    %-40s %10s\n' "SELECT count(*)" "$m_count"
printf '    %-40s %10s\n' "ten separate queries" "$m_sep"
printf '    %-40s %10s\n' "meshpg.evaluate (one pass)" "$m_eval"
printf '    evaluate / separate queries = %s   (target <= 0.2: %s)\n' "$r_sep" "$(verdict "$r_sep" '<=' 0.2)"
printf '    evaluate / count(*)         = %s   (target <= 3.5: %s)\n' "$r_count" "$(verdict "$r_count" '<=' 3.5)"
printf '    separate queries / count(*) = %s\n' "$r_sep_count"
echo
echo "== B2: freshness by last change (median of $FRESH_RUNS, ms, psql round trip included) =="
printf '    evaluate, %-10s rows            %8s   (target <= 1 ms: %s)\n' "$ROWS" "$f_big" "$(verdict "$f_big" '<=' 1)"
printf '    evaluate, %-10s rows            %8s   (target <= 1 ms: %s)\n' 1001 "$f_small" "$(verdict "$f_small" '<=' 1)"
printf '    last_change(), %-10s rows       %8s\n' "$ROWS" "$l_big"
printf '    last_change(), %-10s rows       %8s\n' 1001 "$l_small"
echo
echo "== B3: SLO-gated reads, primary-key lookup on a product whose freshness is judged live (TPS, median of 2) =="
printf '    meshpg.slo_gate = off   %10s\n' "$g_off"
printf '    meshpg.slo_gate = warn  %10s   (warn / off = %s)\n' "$g_warn" "$(ratio "$g_warn" "$g_off")"
echo
echo "(shared 2-core machine, other work running: noisy; ratios from one interleaved run)"
