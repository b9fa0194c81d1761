#!/usr/bin/env bash
# bench/stats.sh: governed statistics (issue 15), measured side by side in one
# run on a throwaway cluster that preloads meshpg.
#
# The products: bench/governance_setup.sql's customers (BENCH_ROWS rows,
# the consumer sees EU, one in three, email and card masked) and
# bench/stats_setup.sql's star schema around it: a fact product sales
# (BENCH_FACT_ROWS rows) and a dimension product stores (1000 rows), each
# with the region row policy and a mask; the same rows in raw.*.  The
# governed statistics are refreshed once after loading.
#
#   B2 full-scan aggregate over both masked columns of customers: the
#      consumer on meshpg against the minimum (raw.customers with
#      region = 'EU' and the two mask calls typed in), BENCH_RUNS
#      interleaved runs after a warm-up: median ms and ratio (target <= 1.15).
#   B4 the star-schema query set, consumer on the products against the
#      minimum (the raw tables with every row filter and mask call typed
#      in): plans printed (their shapes must be the same), median ms of
#      BENCH_RUNS interleaved runs per query, the geometric mean of the
#      ratios (target <= 1.1).
#   R  refresh cost: meshpg.refresh_statistics(customers), five
#      specialisations, against a plain ANALYZE of it, interleaved
#      BENCH_REFRESH_RUNS times: median ms and ratio (target <= 3).
#
# Environment: BENCH_ROWS (default 1000000), BENCH_FACT_ROWS (2000000),
# BENCH_RUNS (5), BENCH_REFRESH_RUNS (3), BENCH_JIT (off),
# BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-1000000}
FACT=${BENCH_FACT_ROWS:-2000000}
RUNS=${BENCH_RUNS:-5}
RRUNS=${BENCH_REFRESH_RUNS:-3}
JIT=${BENCH_JIT:-off}
for v in ROWS FACT RUNS RRUNS; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "bench/stats.sh: $v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done
if [ "$ROWS" -lt 3000 ] || [ "$FACT" -lt 1000 ] || [ "$RUNS" -lt 1 ] || [ "$RRUNS" -lt 1 ]; then
    meshpg_err "need BENCH_ROWS >= 3000, BENCH_FACT_ROWS >= 1000 and runs >= 1"
    exit 1
fi

trap bench_on_exit EXIT
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 1GB" \
    "jit = $JIT" "max_connections = 50" "autovacuum = off"

psql_as() { local role=$1; shift; meshpg_psql -d bench -U "$role" -v ON_ERROR_STOP=1 -q "$@"; }
now_ns() { date +%s%N; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "loading $ROWS customers, $FACT sales, 1000 stores (products and raw copies)"
t0=$(now_ns)
psql_as postgres -o /dev/null -v rows="$ROWS" -f - <"$MESHPG_ROOT/bench/governance_setup.sql"
psql_as postgres -o /dev/null -v fact="$FACT" -f - <"$MESHPG_ROOT/bench/stats_setup.sql"
meshpg_log "loaded in $(( ($(now_ns) - t0) / 1000000000 )) s"
psql_as postgres -At -c "SELECT '    set ' || product || ': ' || readers || ' reader(s), ' ||
                                visible_rows || '/' || sample_rows || ' sampled rows visible'
                           FROM meshpg.statistic_sets ORDER BY product, readers DESC"

# The queries: NAME, the consumer's text, the minimum's text.
EMAIL="meshpg.mask_email(c.email)"
MANAGER="meshpg.mask_email(s.manager)"
CARD="meshpg.mask_partial(c.card, 0, 4, '*')"
Q_NAMES=(B2 Q1 Q2 Q3 Q4)
Q_GOV=(
"SELECT count(*), max(email), max(card) FROM bench_dom.customers"
"SELECT s.city, count(*), sum(f.amount) FROM bench_dom.sales f JOIN bench_dom.stores s ON s.id = f.store_id WHERE f.day >= date '2024-03-01' AND f.day < date '2024-03-08' GROUP BY s.city ORDER BY 2 DESC, 1 LIMIT 10"
"SELECT c.email, sum(f.amount) FROM bench_dom.sales f JOIN bench_dom.customers c ON c.id = f.customer_id JOIN bench_dom.stores s ON s.id = f.store_id WHERE s.kind = 'outlet' AND c.amount > 990 GROUP BY c.email ORDER BY 2 DESC LIMIT 10"
"SELECT s.manager, count(DISTINCT f.customer_id) FROM bench_dom.sales f JOIN bench_dom.stores s ON s.id = f.store_id WHERE f.amount > 990 GROUP BY s.manager ORDER BY 2 DESC, 1 LIMIT 10"
"SELECT count(*), max(c.card) FROM bench_dom.sales f JOIN bench_dom.customers c ON c.id = f.customer_id WHERE c.created_at < timestamptz '2024-01-03'"
)
Q_MIN=(
"SELECT count(*), max(meshpg.mask_email(email)), max(meshpg.mask_partial(card, 0, 4, '*')) FROM raw.customers WHERE region = 'EU'"
"SELECT s.city, count(*), sum(f.amount) FROM raw.sales f JOIN raw.stores s ON s.id = f.store_id WHERE f.region = 'EU' AND s.region = 'EU' AND f.day >= date '2024-03-01' AND f.day < date '2024-03-08' GROUP BY s.city ORDER BY 2 DESC, 1 LIMIT 10"
"SELECT $EMAIL, sum(f.amount) FROM raw.sales f JOIN raw.customers c ON c.id = f.customer_id JOIN raw.stores s ON s.id = f.store_id WHERE f.region = 'EU' AND c.region = 'EU' AND s.region = 'EU' AND s.kind = 'outlet' AND c.amount > 990 GROUP BY $EMAIL ORDER BY 2 DESC LIMIT 10"
"SELECT $MANAGER, count(DISTINCT f.customer_id) FROM raw.sales f JOIN raw.stores s ON s.id = f.store_id WHERE f.region = 'EU' AND s.region = 'EU' AND f.amount > 990 GROUP BY $MANAGER ORDER BY 2 DESC, 1 LIMIT 10"
"SELECT count(*), max($CARD) FROM raw.sales f JOIN raw.customers c ON c.id = f.customer_id WHERE f.region = 'EU' AND c.region = 'EU' AND c.created_at < timestamptz '2024-01-03'"
)

# shape: the plan's node types (the first line and the "->" lines), in
# order and depth, without relation, index and alias names, nor the
# details below each node (a filter's order of quals may differ).
shape() {
    psql_as bench_consumer -At -c "EXPLAIN (COSTS OFF) $1" |
        awk 'NR == 1 || /->  / { line = $0; sub(/->  /, "", line); ind = match(line, /[^ ]/);
                                 sub(/^ +/, "", line); sub(/ (on|using) .*/, "", line);
                                 sub(/  \(.*/, "", line); print ind ":" line }'
}
PLANS_OUT=$MESHPG_TMP/plans.txt
declare -A SAME
: >"$PLANS_OUT"
for i in "${!Q_NAMES[@]}"; do
    n=${Q_NAMES[$i]}
    {
        echo "--- $n consumer: ${Q_GOV[$i]}"
        psql_as bench_consumer -At -c "EXPLAIN ${Q_GOV[$i]}"
        echo "--- $n minimum: ${Q_MIN[$i]}"
        psql_as bench_consumer -At -c "EXPLAIN ${Q_MIN[$i]}"
    } >>"$PLANS_OUT" 2>&1
    if [ "$(shape "${Q_GOV[$i]}")" = "$(shape "${Q_MIN[$i]}")" ]; then SAME[$n]=same; else SAME[$n]=DIFFERENT; fi
    # the same answer
    a=$(psql_as bench_consumer -At -c "${Q_GOV[$i]}" | md5sum)
    b=$(psql_as bench_consumer -At -c "${Q_MIN[$i]}" | md5sum)
    if [ "$a" != "$b" ]; then
        meshpg_err "$n: the consumer's result differs from the minimum's"
        exit 1
    fi
done

# Timings: one consumer session, the variants interleaved, a warm-up first.
TFILE=$MESHPG_TMP/times.sql
{
    echo '\timing on'
    for ((r = 0; r <= RUNS; r++)); do
        tag=run; [ "$r" -eq 0 ] && tag=warm
        for i in "${!Q_NAMES[@]}"; do
            printf '\\echo @@ %s %s gov\n%s;\n' "$tag" "${Q_NAMES[$i]}" "${Q_GOV[$i]}"
            printf '\\echo @@ %s %s min\n%s;\n' "$tag" "${Q_NAMES[$i]}" "${Q_MIN[$i]}"
        done
    done
} | put "$TFILE"
meshpg_log "B2, B4: $RUNS runs + 1 warm-up of each query, consumer and minimum interleaved"
TIMES=$(psql_as bench_consumer -At -f - <"$TFILE" |
        awk '/^@@ / { tag = $2; q = $3; v = $4; next }
             /^Time: / && tag == "run" { print q, v, $2 }')
declare -A MS
for n in "${Q_NAMES[@]}"; do
    for v in gov min; do
        MS[$n,$v]=$(printf '%s\n' "$TIMES" | awk -v n="$n" -v v="$v" '$1 == n && $2 == v { print $3 }' | median)
    done
done

# R: refresh of customers' five specialisations against a plain ANALYZE.
meshpg_log "R: refresh_statistics against ANALYZE, $RRUNS runs each, interleaved"
RFILE=$MESHPG_TMP/refresh.sql
{
    echo '\timing on'
    for ((r = 1; r <= RRUNS; r++)); do
        printf '\\echo @@ analyze\nANALYZE bench_dom.customers;\n'
        printf "\\\\echo @@ refresh\nSELECT meshpg.refresh_statistics('bench_dom.customers');\n"
    done
} | put "$RFILE"
RT=$(psql_as postgres -At -f - <"$RFILE" | awk '/^@@ / { v = $2; next } /^Time: / { print v, $2 }')
R_AN=$(printf '%s\n' "$RT" | awk '$1 == "analyze" { print $2 }' | median)
R_RE=$(printf '%s\n' "$RT" | awk '$1 == "refresh" { print $2 }' | median)
NSPEC=$(psql_as postgres -At -c "SELECT count(*) FROM meshpg.statistic_sets WHERE product = 'bench_dom.customers'")

echo
cat "$PLANS_OUT"
echo
echo "bench/stats.sh: $ROWS customers, $FACT sales, 1000 stores; medians of $RUNS runs (ms)"
printf '%-4s %10s %10s %7s %-9s %s\n' query consumer minimum ratio plan target
B2R=$(ratio "${MS[B2,gov]}" "${MS[B2,min]}")
printf '%-4s %10s %10s %7s %-9s <= 1.15 %s\n' B2 "${MS[B2,gov]}" "${MS[B2,min]}" "$B2R" "${SAME[B2]}" "$(verdict "$B2R" '<=' 1.15)"
LOGSUM=0
for n in Q1 Q2 Q3 Q4; do
    r=$(ratio "${MS[$n,gov]}" "${MS[$n,min]}")
    printf '%-4s %10s %10s %7s %-9s\n' "$n" "${MS[$n,gov]}" "${MS[$n,min]}" "$r" "${SAME[$n]}"
    LOGSUM=$(awk -v s="$LOGSUM" -v r="$r" 'BEGIN { printf "%.6f", s + log(r) }')
done
GEO=$(awk -v s="$LOGSUM" 'BEGIN { printf "%.3f", exp(s / 4) }')
printf 'B4 geometric mean %s (<= 1.1: %s); plans the same shape: %s\n' "$GEO" "$(verdict "$GEO" '<=' 1.1)" \
    "$([ "${SAME[Q1]}${SAME[Q2]}${SAME[Q3]}${SAME[Q4]}" = samesamesamesame ] && echo ok || echo MISS)"
RR=$(ratio "$R_RE" "$R_AN")
printf 'R  refresh (%s specialisations) %s ms, ANALYZE %s ms: %s (<= 3: %s)\n' "$NSPEC" "$R_RE" "$R_AN" "$RR" "$(verdict "$RR" '<=' 3)"
