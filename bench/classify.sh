#!/usr/bin/env bash
# bench/classify.sh: meshpg.classify over a 12-column product at several
# sizes with one sample size, measured side by side in one run on a
# throwaway cluster that preloads meshpg.
#
#   classify(product, sample_size => S): median wall time over BENCH_ROUNDS
#   rounds, the sizes interleaved (A B C A B C ...) so the load of the
#   machine falls on all of them alike.  Targets: at 1,000,000 rows and
#   S = 10,000, at most 1 s; flat in table size (largest / smallest <= 2).
#
# Environment: BENCH_SIZES (default "100000 1000000 5000000"),
# BENCH_SAMPLE (default 10000), BENCH_ROUNDS (default 5),
# BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

SIZES=${BENCH_SIZES:-100000 1000000 5000000}
SAMPLE=${BENCH_SAMPLE:-10000}
ROUNDS=${BENCH_ROUNDS:-5}

trap bench_on_exit EXIT
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 512MB" "max_wal_size = 4GB"
psql_bench() { meshpg_psql -d bench -v ON_ERROR_STOP=1 -q "$@"; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
psql_bench -c "CREATE EXTENSION meshpg; CREATE ROLE bench_team;
               SELECT meshpg.create_domain('crm', 'bench_team');" >/dev/null
for n in $SIZES; do
    meshpg_log "creating crm.people_$n: $n rows, 12 columns"
    psql_bench -o /dev/null <<SQL
CREATE TABLE crm.people_$n (
    id bigint, email text, phone text, card text, iban text, first_name text,
    city text, amount numeric, created_at timestamptz, date_of_birth date,
    client_ip inet, note text);
INSERT INTO crm.people_$n
SELECT i, 'user' || i || '@example.com', '+33 6 ' || lpad((i % 100000000)::text, 8, '0'),
       (ARRAY['4111111111111111', '5555555555554444', '378282246310005'])[1 + i % 3],
       (ARRAY['DE89370400440532013000', 'GB82WEST12345698765432'])[1 + i % 2],
       (ARRAY['Zoé', 'Jean', 'Ana'])[1 + i % 3], 'Lyon', i % 1000, now(),
       date '1950-01-01' + (i % 20000)::int, ('10.0.' || (i % 250) || '.1')::inet,
       'note ' || i
  FROM generate_series(1, $n) i;
ALTER TABLE crm.people_$n OWNER TO bench_team;
ANALYZE crm.people_$n;
SELECT meshpg.register_product('crm', 'people_$n', 'crm.people_$n');
SQL
done

# classify N: elapsed milliseconds of one classify call (suggestions refreshed)
classify_ms() {
    psql_bench -At <<SQL | tail -1
\\timing off
SELECT extract(epoch FROM clock_timestamp()) * 1000 AS t0 \\gset
SELECT count(*) FROM meshpg.classify('crm.people_$1', sample_size => $SAMPLE) \\gset c_
SELECT round(extract(epoch FROM clock_timestamp()) * 1000 - :t0);
SQL
}

declare -A times
for n in $SIZES; do classify_ms "$n" >/dev/null; done      # warm-up
for r in $(seq "$ROUNDS"); do
    for n in $SIZES; do times[$n]+="$(classify_ms "$n") "; done
done

echo
printf '%-12s %14s %10s\n' rows "classify (ms)" verdict
first= last=
for n in $SIZES; do
    m=$(tr ' ' '\n' <<<"${times[$n]}" | median)
    v=-
    [ "$n" = 1000000 ] && v=$(verdict "$m" "<=" 1000)
    printf '%-12s %14s %10s\n' "$n" "$m" "$v"
    [ -z "$first" ] && first=$m
    last=$m
done
flat=$(ratio "$last" "$first")
echo "flatness (largest / smallest size): $flat $(verdict "$flat" "<=" 2)"
echo "suggestions: $(psql_bench -At -c "SELECT count(*) FROM meshpg.classification_suggestions")"
