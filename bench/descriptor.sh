#!/usr/bin/env bash
# bench/descriptor.sh: the issue's descriptor benchmark, on a throwaway
# cluster that preloads meshpg.
#
#   apply:    one descriptor of N products (10 columns each, documented,
#             2 tagged columns, 2 SLOs, one grant, published) applied from
#             empty, in one transaction;
#   re-apply: the same descriptor again: must change nothing (checked);
#   hand:     the same catalog state reached by the equivalent hand-written
#             meshpg calls (register, document, tag, declare_slo, publish,
#             grant) in one transaction, on a second domain with the same
#             tables.
#   Printed side by side, with ratios.  Re-apply and plan are run 3 times,
#   interleaved, and the median is printed.
#
# The machine is shared (2 cores, others compiling and testing): figures are
# noisy; compare ratios within one run, not across runs.
#
# Environment: BENCH_PRODUCTS (default 200), BENCH_SKIP_BUILD=1.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

N=${BENCH_PRODUCTS:-200}
trap bench_on_exit EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 128MB"

psql_bench() { meshpg_psql -d bench -v ON_ERROR_STOP=1 -q "$@"; }
now_ns() { date +%s%N; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "creating 2 x $N tables of 10 columns"
psql_bench -v n="$N" -o /dev/null -f - <<'SQL'
CREATE EXTENSION meshpg;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_team') THEN CREATE ROLE bench_team; END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_reader') THEN CREATE ROLE bench_reader; END IF;
END $$;
SELECT meshpg.create_domain('dsc', 'bench_team');
SELECT meshpg.create_domain('hand', 'bench_team');
SELECT meshpg.create_tag('bench.pii');
SELECT meshpg.create_tag('bench.region');
SET ROLE bench_team;
SELECT format('CREATE TABLE %I.p%s (id bigint NOT NULL, email text, region text, c4 int, c5 int, '
              'c6 text, c7 text, c8 numeric(10,2), c9 date, c10 timestamptz)', d, i)
  FROM generate_series(1, :n) i, unnest('{dsc,hand}'::text[]) d \gexec
RESET ROLE;
-- the descriptor: a YAML stream of N documents
CREATE TABLE descriptor AS
SELECT string_agg(format($y$apiVersion: v3.0.2
kind: DataContract
id: dsc.p%1$s
version: 1.0.0
status: active
description: {purpose: Product %1$s of the benchmark}
team: [{username: bench@example.com}]
schema:
  - name: p%1$s
    physicalName: p%1$s
    properties:
      - {name: id, physicalType: bigint, required: true, description: Key}
      - {name: email, physicalType: text, description: Email, tags: [bench.pii]}
      - {name: region, physicalType: text, description: Region, tags: [bench.region]}
      - {name: c4, physicalType: integer, description: Column 4}
      - {name: c5, physicalType: integer, description: Column 5}
      - {name: c6, physicalType: text, description: Column 6}
      - {name: c7, physicalType: text, description: Column 7}
      - {name: c8, physicalType: "numeric(10,2)", description: Column 8}
      - {name: c9, physicalType: date, description: Column 9}
      - {name: c10, physicalType: timestamp with time zone, description: Column 10}
roles: [{role: bench_reader, purpose: benchmark}]
slaProperties:
  - {name: fresh, kind: freshness, spec: {column: c10, max_age: 1 day}, schedule: 1 hour}
quality:
  - {name: emails, kind: completeness, spec: {columns: [email], min_ratio: 0.99}}
$y$, i), E'---\n' ORDER BY i) AS body
  FROM generate_series(1, :n) i;
GRANT SELECT ON descriptor TO bench_team;
SQL
bytes=$(psql_bench -At -c 'SELECT octet_length(body) FROM descriptor')
meshpg_log "descriptor: $N documents, $bytes bytes"

# the hand-written equivalent: the calls apply makes, written out
psql_bench -At -v n="$N" -o "$MESHPG_TMP/hand.sql" -c "
SELECT 'BEGIN;' UNION ALL
SELECT format(\$f\$SELECT meshpg.register_product('hand', 'p%1\$s', 'hand.p%1\$s', 'Product %1\$s of the benchmark', '1.0.0', '{bench@example.com}');
SELECT meshpg.document_column('hand.p%1\$s', c, 'Column') FROM unnest('{id,email,region,c4,c5,c6,c7,c8,c9,c10}'::text[]) c;
SELECT meshpg.tag_column('hand.p%1\$s', 'email', 'bench.pii');
SELECT meshpg.tag_column('hand.p%1\$s', 'region', 'bench.region');
SELECT meshpg.declare_slo('hand.p%1\$s', 'fresh', 'freshness', '{\"column\": \"c10\", \"max_age\": \"1 day\"}', schedule => '1 hour');
SELECT meshpg.declare_slo('hand.p%1\$s', 'emails', 'completeness', '{\"columns\": [\"email\"], \"min_ratio\": 0.99}');
SELECT meshpg.publish('hand.p%1\$s', '1.0.0');
SELECT meshpg.grant_access('hand.p%1\$s', 'bench_reader', 'benchmark');\$f\$, i)
  FROM generate_series(1, $N) i
UNION ALL SELECT 'COMMIT;'"
if (( bytes > 1024 * 1024 )); then
    meshpg_psql -d postgres -q -c "ALTER SYSTEM SET meshpg.descriptor_max_size = '64MB'" -c 'SELECT pg_reload_conf()'
fi

apply_sql="SET ROLE bench_team; SELECT count(*) AS changes FROM meshpg.apply((SELECT body FROM descriptor));"
plan_sql="SET ROLE bench_team; SELECT count(*) AS changes FROM meshpg.plan((SELECT body FROM descriptor));"

t0=$(now_ns); first=$(psql_bench -At -c "$apply_sql"); t1=$(now_ns)
apply_ms=$(ms "$t0" "$t1")
t0=$(now_ns); psql_bench -o /dev/null -c "SET ROLE bench_team" -f "$MESHPG_TMP/hand.sql"; t1=$(now_ns)
hand_ms=$(ms "$t0" "$t1")

reapply=() plan=()
for _ in 1 2 3; do
    t0=$(now_ns); changes=$(psql_bench -At -c "$apply_sql"); t1=$(now_ns)
    [ "$changes" = 0 ] || { meshpg_err "re-apply changed $changes things"; exit 1; }
    reapply+=("$(ms "$t0" "$t1")")
    t0=$(now_ns); changes=$(psql_bench -At -c "$plan_sql"); t1=$(now_ns)
    [ "$changes" = 0 ] || { meshpg_err "plan after apply found $changes changes"; exit 1; }
    plan+=("$(ms "$t0" "$t1")")
done
reapply_ms=$(printf '%s\n' "${reapply[@]}" | median)
plan_ms=$(printf '%s\n' "${plan[@]}" | median)
# both sides reached the same catalog
same=$(psql_bench -At -c "
SELECT (SELECT count(*) FROM meshpg.products WHERE domain = 'dsc' AND state = 'published')
     = (SELECT count(*) FROM meshpg.products WHERE domain = 'hand' AND state = 'published')
   AND (SELECT count(*) FROM meshpg.column_tags WHERE product LIKE 'dsc.%')
     = (SELECT count(*) FROM meshpg.column_tags WHERE product LIKE 'hand.%')
   AND (SELECT count(*) FROM meshpg.slos WHERE product LIKE 'dsc.%')
     = (SELECT count(*) FROM meshpg.slos WHERE product LIKE 'hand.%')")

printf '\n%-44s %10s\n' "descriptor of $N products ($bytes bytes)" "ms"
printf '%-44s %10s   (%s changes)\n' "apply from empty (one transaction)" "$apply_ms" "$first"
printf '%-44s %10s\n' "hand-written meshpg calls, same result" "$hand_ms"
printf '%-44s %10s   (median of 3, 0 changes)\n' "re-apply unchanged" "$reapply_ms"
printf '%-44s %10s   (median of 3)\n' "plan unchanged" "$plan_ms"
printf '%-44s %10s\n' "same catalog on both sides" "$same"
awk -v a="$apply_ms" -v h="$hand_ms" -v r="$reapply_ms" 'BEGIN {
    printf "ratio apply / hand-written:     %.2f\n", a / (h > 0 ? h : 1);
    printf "ratio re-apply / apply:         %.2f\n", r / (a > 0 ? a : 1) }'
echo "(shared 2-core machine: figures are noisy)"
