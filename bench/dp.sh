#!/usr/bin/env bash
# bench/dp.sh: the cost of a differential-privacy policy (issue 20), side by
# side in one run on a throwaway cluster that preloads meshpg.
#
# BENCH_ROWS rows (default 5,000,000) in two copies: the product
# bench_dp.visits, under a privacy policy for the reader (unit customer, 10
# rows per customer, at most 10 contributions: every row is kept; amount
# bounded to [0, 1000]), and raw.visits, the same rows with no governance.
# 50 cities.
#
#   D1 SELECT city, count(*), sum(amount), avg(amount) ... GROUP BY city,
#      psql \timing, median of BENCH_RUNS interleaved runs after a warm-up,
#      as the reader:
#        dp          the product (the rewrite: contribution bounding per
#                    customer, noisy aggregates, the group threshold; the
#                    budget spent at each run)
#        raw         the raw copy, the same query (the reference, the
#                    minimum: no governance at all)
#        raw_serial  the raw copy without parallel workers (the DP plan
#                    runs in the leader only: contribution bounding is one
#                    table per execution), to show where the time goes
#      Target: dp / raw <= 1.3.
#
# The machine is shared (2 cores): compare ratios within one run.
# Environment: BENCH_ROWS (5000000), BENCH_RUNS (5), BENCH_SKIP_BUILD=1 to
# use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-5000000}
RUNS=${BENCH_RUNS:-5}
for v in ROWS RUNS; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "BENCH_$v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done
if [ "$ROWS" -lt 1000 ] || [ "$RUNS" -lt 1 ]; then
    meshpg_err "need BENCH_ROWS >= 1000 and BENCH_RUNS >= 1"
    exit 1
fi

trap bench_on_exit EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 1GB" "jit = off"

psql_as() { local role=$1; shift; meshpg_psql -d bench -U "$role" -v ON_ERROR_STOP=1 -q "$@"; }
now_ns() { date +%s%N; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "loading $ROWS rows into the product and the raw copy"
t0=$(now_ns)
psql_as postgres -o /dev/null -v rows="$ROWS" -f - <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION meshpg;
CREATE ROLE bench_owner LOGIN;
CREATE ROLE bench_reader LOGIN;
CREATE UNLOGGED TABLE public.src AS
SELECT g::bigint AS id, (g / 10)::int AS customer, 'city_' || (g % 50) AS city,
       ((g * 37) % 1000)::int AS amount
  FROM generate_series(1, :rows) g;
SELECT meshpg.create_domain('bench_dp', 'bench_owner');
SET ROLE bench_owner;
CREATE TABLE bench_dp.visits (id bigint PRIMARY KEY, customer int NOT NULL,
                              city text NOT NULL, amount int NOT NULL);
RESET ROLE;
INSERT INTO bench_dp.visits SELECT * FROM public.src ORDER BY id;
CREATE SCHEMA raw;
CREATE TABLE raw.visits (LIKE bench_dp.visits INCLUDING ALL);
INSERT INTO raw.visits SELECT * FROM public.src ORDER BY id;
GRANT USAGE ON SCHEMA raw TO PUBLIC;
GRANT SELECT ON raw.visits TO PUBLIC;
DROP TABLE public.src;
SET ROLE bench_owner;
SELECT meshpg.register_product('bench_dp', 'visits', 'bench_dp.visits', description => 'Visits');
SELECT meshpg.publish('bench_dp.visits', '1.0.0');
SELECT meshpg.grant_access('bench_dp.visits', 'bench_reader');
SELECT meshpg.create_privacy_policy('visits_dp', 'bench_dp.visits', 'customer',
    epsilon => 1, delta => 1e-6, max_contributions => 10,
    bounds => '{"amount": [0, 1000]}', budget_epsilon => 1000000);
RESET ROLE;
VACUUM ANALYZE bench_dp.visits, raw.visits;
CHECKPOINT;
SQL
meshpg_log "loaded in $(( ($(now_ns) - t0) / 1000000000 )) s"

Q="SELECT city, count(*), sum(amount), avg(amount) FROM"
G="GROUP BY city"
NAMES=(dp raw raw_serial)
SQLS=("$Q bench_dp.visits $G"
      "$Q raw.visits $G"
      "SET max_parallel_workers_per_gather = 0; $Q raw.visits $G; RESET max_parallel_workers_per_gather")

# The plans, and a sanity check: the reader gets 50 noisy groups from the
# product, the same 50 groups as the raw copy, near its counts.
PLANS_OUT=$MESHPG_TMP/plans.txt
{
    echo "--- reader: $Q bench_dp.visits $G"
    psql_as bench_reader -At -c "EXPLAIN (COSTS OFF) $Q bench_dp.visits $G"
    echo "--- reader: $Q raw.visits $G"
    psql_as bench_reader -At -c "EXPLAIN (COSTS OFF) $Q raw.visits $G"
} >"$PLANS_OUT" 2>&1
psql_as bench_reader -At -c "CREATE TEMP TABLE d AS $Q bench_dp.visits $G;
                              CREATE TEMP TABLE r AS $Q raw.visits $G;
                              SELECT count(*), count(*) FILTER (WHERE abs(d.count - r.count) < 1000)
                                FROM d JOIN r USING (city)" >"$MESHPG_TMP/sanity.txt"
IFS='|' read -r groups near <"$MESHPG_TMP/sanity.txt"
if [ "$groups" != 50 ] || [ "$near" != 50 ]; then
    meshpg_err "sanity: $groups groups matched the raw copy, $near of them near its counts (expected 50, 50)"
    cat "$PLANS_OUT" >&2
    exit 1
fi

# D1: interleaved, one session, after a warm-up round.
FILE=$MESHPG_TMP/d1.sql
{
    printf '%s\n' '\timing on'
    for ((i = 0; i <= RUNS; i++)); do
        tag=run; [ "$i" -eq 0 ] && tag=warm
        for n in "${!NAMES[@]}"; do
            printf '\\echo @@ %s %s\n%s;\n' "$tag" "${NAMES[$n]}" "${SQLS[$n]}"
        done
    done
} | put "$FILE"
meshpg_log "D1: GROUP BY city over $ROWS rows, $RUNS runs + 1 warm-up per variant, interleaved"
psql_as bench_reader -At -f - <"$FILE" >"$MESHPG_TMP/d1.out"
# the timing of the query itself: for raw_serial, the SELECT between SET and RESET
TIMES=$(awk '/^@@ / { tag = $2; name = $3; k = 0; next }
             /^Time: / { k++; if (tag == "run" && (name != "raw_serial" || k == 2)) print name, $2 }' \
        "$MESHPG_TMP/d1.out")
declare -A MS
for n in "${NAMES[@]}"; do
    MS[$n]=$(printf '%s\n' "$TIMES" | awk -v n="$n" '$1 == n { print $2 }' | median)
done
spent=$(psql_as postgres -At -c "SELECT count(*) FROM meshpg.privacy_spends WHERE reader = 'bench_reader'")

r_raw=$(ratio "${MS[dp]}" "${MS[raw]}")
r_serial=$(ratio "${MS[dp]}" "${MS[raw_serial]}")
echo
echo "meshpg differential privacy, $ROWS rows, 50 groups, median of $RUNS runs (ms)"
printf '  %-58s %12s\n' "dp (product, reader under the privacy policy)" "${MS[dp]}"
printf '  %-58s %12s\n' "raw (the same query on the raw copy)" "${MS[raw]}"
printf '  %-58s %12s\n' "raw_serial (raw copy, no parallel workers)" "${MS[raw_serial]}"
printf '  %-58s %12s   target <= 1.3: %s\n' "dp / raw" "$r_raw" "$(verdict "$r_raw" '<=' 1.3)"
printf '  %-58s %12s\n' "dp / raw_serial" "$r_serial"
printf '  %-58s %12s\n' "budget spends recorded for the reader" "$spent"
echo
echo "plans:"
sed 's/^/  /' "$PLANS_OUT"
