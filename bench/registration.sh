#!/usr/bin/env bash
# bench/registration.sh: registration and search, meshpg against the
# hand-written PostgreSQL equivalent, measured side by side in one run on a
# throwaway cluster that preloads meshpg.
#
#   registration: per product, in one transaction as the domain's role,
#     meshpg:  register_product + document_product + publish
#     hand:    INSERT into a hand-made catalog (product row + its 10 column
#              rows read from pg_attribute) + 2 UPDATEs (contacts, publish)
#   search: median over 100 different one-word queries (after a warm-up),
#     meshpg:  meshpg.search(word)
#     hand:    ILIKE '%word%' over names, descriptions and column names
#   measured at BENCH_SMALL (default N/10) products and at N products.
#
# Environment: BENCH_PRODUCTS (default 5000), BENCH_SMALL (default N/10),
# BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
meshpg_clean_pg_env

N=${BENCH_PRODUCTS:-5000}
SMALL=${BENCH_SMALL:-$((N / 10))}
if [ "$SMALL" -lt 1 ] || [ "$SMALL" -ge "$N" ]; then
    meshpg_err "need 1 <= BENCH_SMALL < BENCH_PRODUCTS"
    exit 1
fi

trap meshpg_cluster_stop EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
# Both sides pay the same commit cost: none (this measures the work done).
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 256MB"

psql_bench() { meshpg_psql -d bench -v ON_ERROR_STOP=1 -q "$@"; }
now_ns() { date +%s%N; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "creating $N product tables of 10 columns in 20 domains"
psql_bench -v n="$N" -o /dev/null -f - <"$MESHPG_ROOT/bench/setup.sql"

# Registration scripts for products FROM..TO: one transaction per product,
# sent in one round trip (psql's \; joins the statements into one request).
gen_meshpg() {
    psql_bench -At -c "
SELECT format(\$f\$BEGIN \\; SET LOCAL ROLE %1\$I \\;
SELECT meshpg.register_product(%2\$L, %3\$L, %4\$L, description => %5\$L) \\;
SELECT meshpg.document_product(%6\$L, contacts => %7\$L) \\;
SELECT meshpg.publish(%6\$L, '1.0.0') \\;
COMMIT;\$f\$,
       domain || '_team', domain, name, format('%I.%I', domain, name), description,
       domain || '.' || name, '{' || domain || '-data@example.com}')
  FROM bench.spec WHERE i BETWEEN $1 AND $2 ORDER BY i"
}
gen_hw() {
    psql_bench -At -c "
SELECT format(\$f\$BEGIN \\; SET LOCAL ROLE %1\$I \\;
INSERT INTO hw.product (domain_id, name, relid, description, column_names)
SELECT d.id, %3\$L, %4\$L::regclass, %5\$L,
       (SELECT string_agg(attname, ' ' ORDER BY attnum) FROM pg_attribute
         WHERE attrelid = %4\$L::regclass AND attnum > 0 AND NOT attisdropped)
  FROM hw.domain d WHERE d.name = %2\$L \\;
INSERT INTO hw.product_column (product_id, name, type, position)
SELECT currval('hw.product_id_seq'), attname, format_type(atttypid, atttypmod), attnum
  FROM pg_attribute WHERE attrelid = %4\$L::regclass AND attnum > 0 AND NOT attisdropped \\;
UPDATE hw.product SET contacts = %7\$L, updated_at = now() WHERE id = currval('hw.product_id_seq') \\;
UPDATE hw.product SET state = 'published', version = '1.0.0', published_at = now()
 WHERE id = currval('hw.product_id_seq') \\;
COMMIT;\$f\$,
       domain || '_team', domain, name, format('%I.%I', domain, name), description,
       domain || '.' || name, '{' || domain || '-data@example.com}')
  FROM bench.spec WHERE i BETWEEN $1 AND $2 ORDER BY i"
}

# register KIND FROM TO: run the script, print elapsed microseconds.
register() {
    local file=$MESHPG_TMP/reg_$1_$2.sql t0 t1
    "gen_$1" "$2" "$3" >"$file"
    t0=$(now_ns)
    psql_bench -o /dev/null -f - <"$file"
    t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 ))
}

search() {   # KIND -> "median p90 hits"
    psql_bench -c 'ANALYZE meshpg.cat_domain, meshpg.cat_product, meshpg.cat_column,
                           hw.domain, hw.product, hw.product_column' >/dev/null
    psql_bench -At -F ' ' -c "SELECT round(median::numeric, 3), round(p90::numeric, 3),
                                     round(hits::numeric, 1)
                                FROM bench.search_ms('$1')"
}

meshpg_log "registering products 1..$SMALL"
us_m1=$(register meshpg 1 "$SMALL")
us_h1=$(register hw 1 "$SMALL")
meshpg_log "searching at $SMALL products"
res=$(search meshpg); read -r sm_m sm_m90 sm_mhits <<<"$res"
res=$(search hw);     read -r sm_h sm_h90 sm_hhits <<<"$res"

meshpg_log "registering products $((SMALL + 1))..$N"
us_h2=$(register hw $((SMALL + 1)) "$N")
us_m2=$(register meshpg $((SMALL + 1)) "$N")
meshpg_log "searching at $N products"
res=$(search meshpg); read -r lg_m lg_m90 lg_mhits <<<"$res"
res=$(search hw);     read -r lg_h lg_h90 lg_hhits <<<"$res"

counts=$(psql_bench -At -F ' ' -c "
    SELECT (SELECT count(*) FROM meshpg.products WHERE state = 'published'),
           (SELECT count(*) FROM hw.product WHERE state = 'published')")
read -r n_m n_h <<<"$counts"
if [ "$n_m" -ne "$N" ] || [ "$n_h" -ne "$N" ]; then
    meshpg_err "expected $N published products on each side, got meshpg $n_m, hand-written $n_h"
    exit 1
fi

row() {   # label meshpg hand
    awk -v l="$1" -v m="$2" -v h="$3" 'BEGIN {
        r = (h > 0) ? sprintf("%.2fx", m / h) : "-";
        printf "%-44s %10.3f %12.3f %8s\n", l, m, h, r }'
}
per() { awk -v us="$1" -v n="$2" 'BEGIN { printf "%.4f", us / 1000 / n }'; }

echo
echo "meshpg registration benchmark: $N products x 10 columns, 20 domains, 100 one-word searches"
echo "PostgreSQL $("$MESHPG_PG_BIN/postgres" --version | awk '{print $3}'), $(nproc) cores; one run, same cluster, same tables"
echo
printf '%-44s %10s %12s %8s\n' "" meshpg hand-written ratio
row "registration, ms/product (1..$SMALL)" "$(per "$us_m1" "$SMALL")" "$(per "$us_h1" "$SMALL")"
row "registration, ms/product ($((SMALL + 1))..$N)" \
    "$(per "$us_m2" $((N - SMALL)))" "$(per "$us_h2" $((N - SMALL)))"
row "registration, ms/product (all $N)" \
    "$(per $((us_m1 + us_m2)) "$N")" "$(per $((us_h1 + us_h2)) "$N")"
row "search median ms @ $SMALL products" "$sm_m" "$sm_h"
row "search p90 ms @ $SMALL products" "$sm_m90" "$sm_h90"
row "search median ms @ $N products" "$lg_m" "$lg_h"
row "search p90 ms @ $N products" "$lg_m90" "$lg_h90"
row "search median growth $SMALL -> $N (x)" \
    "$(awk -v a="$lg_m" -v b="$sm_m" 'BEGIN { print a / b }')" \
    "$(awk -v a="$lg_h" -v b="$sm_h" 'BEGIN { print a / b }')"
echo
echo "ratio = meshpg / hand-written (below 1: meshpg is faster)."
echo "Search returns at most 20 rows; mean rows per query: meshpg $sm_mhits / $lg_mhits," \
     "hand-written $sm_hhits / $lg_hhits (at $SMALL / $N products)."
echo "meshpg ranks (full-text index over ICU-folded text); the hand-written search scans with ILIKE and sorts by name."
