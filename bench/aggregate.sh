#!/usr/bin/env bash
# bench/aggregate.sh: the cost of an aggregation policy, measured side by
# side in one run on a throwaway cluster that preloads meshpg.
#
# The product bench_agg.trips: BENCH_ROWS rows of BENCH_CUSTOMERS customers
# (the entity key) over BENCH_CITIES cities, plus BENCH_SMALL small cities
# of a few rows each (folded away); the same rows sit in raw.trips, with no
# governance.  The consumer's aggregation policy: groups of at least 50
# distinct customers (min_group_size 50, entity_key customer).
#
#   A1 "SELECT city, count(*), sum(fare) FROM ... GROUP BY city" as the
#      consumer, on the product and on the raw table, BENCH_RUNS interleaved
#      runs after a warm-up of each: median wall time, ratio product / raw
#      (target <= 1.15).
#   A1b the same with the policy counting rows (no entity key).
#   A2 a row-level read of the product ("SELECT * ... WHERE id = 1") as the
#      consumer: refused at planning.  Measured BENCH_REFUSALS times inside
#      one PL/pgSQL loop (each EXECUTE parses, analyses, rewrites and plans,
#      and the error is caught in a subtransaction): the mean time per
#      refusal, an upper bound of the planning time (target < 1 ms); and
#      the planning time of the allowed A1 query (EXPLAIN SUMMARY), for
#      comparison.
#
# Environment: BENCH_ROWS (5000000), BENCH_CUSTOMERS (500000), BENCH_CITIES
# (200), BENCH_SMALL (20), BENCH_RUNS (7), BENCH_REFUSALS (2000), BENCH_JIT
# (off), BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-5000000}
CUSTOMERS=${BENCH_CUSTOMERS:-500000}
CITIES=${BENCH_CITIES:-200}
SMALL=${BENCH_SMALL:-20}
RUNS=${BENCH_RUNS:-7}
REFUSALS=${BENCH_REFUSALS:-2000}
JIT=${BENCH_JIT:-off}
for v in ROWS CUSTOMERS CITIES SMALL RUNS REFUSALS; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "BENCH_$v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done

trap bench_on_exit EXIT
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 1GB" "jit = $JIT" \
    "work_mem = 64MB"

psql_as() { local role=$1; shift; meshpg_psql -d bench -U "$role" -v ON_ERROR_STOP=1 -q "$@"; }
now_ns() { date +%s%N; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "loading $ROWS rows into the product and the raw copy"
psql_as postgres -o /dev/null -v rows="$ROWS" -v customers="$CUSTOMERS" -v cities="$CITIES" \
    -v small="$SMALL" -f - <<'SQL'
CREATE EXTENSION meshpg;
CREATE ROLE bench_owner LOGIN;
CREATE ROLE bench_consumer LOGIN;
SELECT meshpg.create_domain('bench_agg', 'bench_owner');
CREATE SCHEMA raw;
GRANT USAGE ON SCHEMA raw TO bench_consumer;
CREATE TABLE raw.trips (id bigint PRIMARY KEY, customer int, city text, fare int);
INSERT INTO raw.trips
SELECT g, ((g::bigint * 7919) % :customers)::int, 'city' || (g % :cities), (g % 97)::int
  FROM generate_series(1, :rows) g;
INSERT INTO raw.trips
SELECT :rows + g, :customers + g, 'small' || g, 5 FROM generate_series(1, :small) g;
GRANT SELECT ON raw.trips TO bench_consumer;
CREATE TABLE bench_agg.trips (LIKE raw.trips INCLUDING ALL);
INSERT INTO bench_agg.trips SELECT * FROM raw.trips;
ALTER TABLE bench_agg.trips OWNER TO bench_owner;
VACUUM ANALYZE raw.trips;
VACUUM ANALYZE bench_agg.trips;
SET ROLE bench_owner;
SELECT meshpg.register_product('bench_agg', 'trips', 'bench_agg.trips', description => 'Trips');
SELECT meshpg.publish('bench_agg.trips', '1.0.0');
SELECT meshpg.grant_access('bench_agg.trips', 'bench_consumer');
SELECT meshpg.create_aggregation_policy('trips_min50', 50, product => 'bench_agg.trips',
       entity_key => 'customer');
RESET ROLE;
SQL

Q="SELECT city, count(*), sum(fare) FROM %s GROUP BY city"
# Sanity: the product shows the big cities, folds the small ones away.
got=$(psql_as bench_consumer -At -c "$(printf "$Q" bench_agg.trips) ORDER BY 1" | wc -l)
raw=$(psql_as bench_consumer -At -c "$(printf "$Q" raw.trips) ORDER BY 1" | wc -l)
meshpg_log "groups: product $got, raw $raw (the $SMALL small cities folded, their remainder too small)"
if [ "$got" -ne "$CITIES" ] || [ "$raw" -ne $((CITIES + SMALL)) ]; then
    meshpg_err "unexpected groups"; exit 1
fi
PLANS_OUT=$MESHPG_TMP/plans.txt
{
    echo "--- consumer, product"; psql_as bench_consumer -At -c "EXPLAIN (COSTS OFF) $(printf "$Q" bench_agg.trips)"
    echo "--- consumer, raw"; psql_as bench_consumer -At -c "EXPLAIN (COSTS OFF) $(printf "$Q" raw.trips)"
} >"$PLANS_OUT"

# A1: interleaved runs, after a warm-up of each.
timed() {   # REL -> milliseconds
    local t0 t1
    t0=$(now_ns)
    psql_as bench_consumer -o /dev/null -c "$(printf "$Q" "$1")"
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 )) | awk '{ printf "%.1f\n", $1 / 1000 }'
}
timed bench_agg.trips >/dev/null
timed raw.trips >/dev/null
A=(); B=()
for ((i = 0; i < RUNS; i++)); do
    if ((i % 2 == 0)); then A+=("$(timed bench_agg.trips)"); B+=("$(timed raw.trips)")
    else B+=("$(timed raw.trips)"); A+=("$(timed bench_agg.trips)"); fi
done
MA=$(printf '%s\n' "${A[@]}" | median)
MB=$(printf '%s\n' "${B[@]}" | median)
R1=$(ratio "$MA" "$MB")

# A1b: the same with groups counted in rows (no entity key): the count
# the rewrite needs is the query's own count(*), computed once.
psql_as bench_owner -o /dev/null -c "SELECT meshpg.drop_policy('trips_min50')" \
    -c "SELECT meshpg.create_aggregation_policy('trips_min50', 50, product => 'bench_agg.trips')"
timed bench_agg.trips >/dev/null
C=(); D=()
for ((i = 0; i < RUNS; i++)); do
    if ((i % 2 == 0)); then C+=("$(timed bench_agg.trips)"); D+=("$(timed raw.trips)")
    else D+=("$(timed raw.trips)"); C+=("$(timed bench_agg.trips)"); fi
done
MC=$(printf '%s\n' "${C[@]}" | median)
MD=$(printf '%s\n' "${D[@]}" | median)
R2=$(ratio "$MC" "$MD")

# A2: refusals at planning.
REFUSE_MS=$(psql_as bench_consumer -At -c "
DO \$\$
DECLARE t0 timestamptz; n int := 0;
BEGIN
  t0 := clock_timestamp();
  FOR i IN 1..$REFUSALS LOOP
    BEGIN
      EXECUTE 'SELECT * FROM bench_agg.trips WHERE id = 1';
    EXCEPTION WHEN insufficient_privilege THEN n := n + 1;
    END;
  END LOOP;
  IF n <> $REFUSALS THEN RAISE EXCEPTION 'only % of % refused', n, $REFUSALS; END IF;
  RAISE NOTICE '%', round((extract(epoch FROM clock_timestamp() - t0) * 1000 / $REFUSALS)::numeric, 4);
END \$\$;" 2>&1 | sed -n 's/.*NOTICE: *//p')
PLAN_MS=$(for i in 1 2 3 4 5; do psql_as bench_consumer -At -c "EXPLAIN (SUMMARY ON, COSTS OFF) $(printf "$Q" bench_agg.trips)" |
          sed -n 's/Planning Time: \([0-9.]*\) ms/\1/p'; done | median)

echo
echo "aggregation policy benchmark: $ROWS rows, $CUSTOMERS customers, $CITIES cities (+$SMALL small), min group 50 customers"
printf '  A1 GROUP BY city, median of %d: product %s ms, raw %s ms, ratio %s (target <= 1.15: %s)\n' \
    "$RUNS" "$MA" "$MB" "$R1" "$(verdict "$R1" '<=' 1.15)"
printf '     runs product: %s\n     runs raw:     %s\n' "${A[*]}" "${B[*]}"
printf '  A1b the same, groups counted in rows (no entity key), median of %d: product %s ms, raw %s ms, ratio %s\n' \
    "$RUNS" "$MC" "$MD" "$R2"
printf '  A2 row-level read refused at planning: %s ms per refusal, %d refusals (target < 1 ms: %s)\n' \
    "$REFUSE_MS" "$REFUSALS" "$(verdict "$REFUSE_MS" '<=' 1)"
printf '     planning time of the allowed A1 query (median of 5): %s ms\n' "$PLAN_MS"
echo "  plans:"; sed 's/^/    /' "$PLANS_OUT"
