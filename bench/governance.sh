#!/usr/bin/env bash
# bench/governance.sh: the cost of row and column governance, meshpg against
# the raw table and against the hand-written PostgreSQL equivalent, measured
# side by side in one run on a throwaway cluster that preloads meshpg.
#
# The product (bench/governance_setup.sql): BENCH_ROWS rows, regions spread
# evenly over EU/US/APAC (EU when id % 3 = 0).  The consumer (attribute
# region = {EU}) sees one row in three through a tag-bound row policy, with
# email masked through a tag ('email') and card by a product-bound policy
# ('partial', keep_last 4).  The same rows sit in raw.customers (no
# governance) and in hw.customers, governed by hand: native RLS reading a
# mapping table, behind a security_barrier view with CASE masks.
#
#   B1 point lookup by primary key, pgbench, BENCH_CLIENTS clients, -M simple
#      and -M prepared, the consumer on raw / meshpg / the minimum (raw with
#      the same qual and mask calls typed in) / hand-written, each
#      variant BENCH_SECONDS s, interleaved, BENCH_REPEAT times: median TPS.
#   B2 full-scan aggregate over both masked columns, psql \timing, median of
#      BENCH_RUNS interleaved runs (after a warm-up run): the consumer on
#      raw (all rows, and the same rows: WHERE region = 'EU'), meshpg and
#      hand-written; the exempt domain owner on meshpg and raw (median of
#      BENCH_OWNER_RUNS: its target is within noise of 5 runs).
#   B3 planning time of a simple query as the consumer, median over
#      BENCH_PLANS interleaved EXPLAIN (SUMMARY ON) runs: meshpg and
#      hand-written minus raw (and meshpg minus raw with the row policy's
#      qual written by hand), with the benchmark product alone in the
#      catalog, then with BENCH_PRODUCTS more products and BENCH_POLICIES
#      more policies (bench/governance_catalog.sql).
#
# Environment: BENCH_ROWS (default 1000000), BENCH_SECONDS (15),
# BENCH_REPEAT (2), BENCH_CLIENTS (2), BENCH_RUNS (5), BENCH_OWNER_RUNS
# (3 x BENCH_RUNS), BENCH_PLANS (200),
# BENCH_PRODUCTS (5000), BENCH_POLICIES (500), BENCH_JIT (off),
# BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-1000000}
SECS=${BENCH_SECONDS:-15}
REPEAT=${BENCH_REPEAT:-2}
CLIENTS=${BENCH_CLIENTS:-2}
RUNS=${BENCH_RUNS:-5}
# The owner's scans are fast and its target tight (3%): more runs.
OWNER_RUNS=${BENCH_OWNER_RUNS:-$((3 * RUNS))}
PLANS=${BENCH_PLANS:-200}
PRODUCTS=${BENCH_PRODUCTS:-5000}
POLICIES=${BENCH_POLICIES:-500}
JIT=${BENCH_JIT:-off}
WARM=20             # B3: EXPLAIN runs per variant discarded before measuring

for v in ROWS SECS REPEAT CLIENTS RUNS OWNER_RUNS PLANS PRODUCTS POLICIES; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "BENCH_$v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done
if [ "$ROWS" -lt 3 ] || [ "$SECS" -lt 1 ] || [ "$REPEAT" -lt 1 ] || [ "$CLIENTS" -lt 1 ] ||
   [ "$RUNS" -lt 1 ] || [ "$OWNER_RUNS" -lt 1 ] || [ "$PLANS" -lt 1 ] || [ "$PRODUCTS" -lt 1 ] || [ "$POLICIES" -lt 1 ]; then
    meshpg_err "need BENCH_ROWS >= 3 and every other count >= 1"
    exit 1
fi
# one product-bound policy per product, and 5 products per tag
if [ $((POLICIES - POLICIES / 5)) -gt "$PRODUCTS" ] || [ $((5 * (POLICIES / 5))) -gt "$PRODUCTS" ]; then
    meshpg_err "BENCH_POLICIES too large for BENCH_PRODUCTS (need policies * 4/5 <= products)"
    exit 1
fi
VISIBLE=$((ROWS / 3))       # EU rows: id % 3 = 0

trap bench_on_exit EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
# Everything fits in shared_buffers; no commit cost; JIT off by default, so
# that its compile time (the same on every side) does not blur the ratios.
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 1GB" \
    "jit = $JIT" "max_connections = 50"

# psql_as ROLE ARGS...: psql on the bench database as ROLE.
psql_as() { local role=$1; shift; meshpg_psql -d bench -U "$role" -v ON_ERROR_STOP=1 -q "$@"; }
now_ns() { date +%s%N; }

RELS=(raw.customers bench_dom.customers hw.customers_v)
NAMES=(raw meshpg hw)
COLS="id, email, card, region, amount"
MIN_COLS="id, meshpg.mask_email(email) AS email, meshpg.mask_partial(card, 0, 4, '*') AS card, region, amount"

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "loading $ROWS rows into the product, the raw copy and the hand-written copy"
t0=$(now_ns)
psql_as postgres -o /dev/null -v rows="$ROWS" -f - <"$MESHPG_ROOT/bench/governance_setup.sql"
meshpg_log "loaded in $(( ($(now_ns) - t0) / 1000000000 )) s"

# ---------------------------------------------------------------------------
# Sanity: the consumer sees the EU rows, masked, on both governed sides; the
# owner sees everything in clear.
# ---------------------------------------------------------------------------
sanity() {   # ROLE REL -> "count|email of id 3|card of id 3"
    psql_as "$1" -At -c "SELECT (SELECT count(*) FROM $2) || '|' ||
                                coalesce((SELECT email || '|' || card FROM $2 WHERE id = 3), '<none>|<none>')"
}
meshpg_log "checking what each reader sees"
declare -A SEEN
for role in bench_consumer bench_owner; do
    for rel in "${RELS[@]}"; do
        SEEN[$role,$rel]=$(sanity "$role" "$rel")
        printf '    %-15s %-20s count|email(id 3)|card(id 3) = %s\n' "$role" "$rel" "${SEEN[$role,$rel]}"
    done
done
problems=()
IFS='|' read -r c e k <<<"${SEEN[bench_consumer,bench_dom.customers]}"
[ "$c" = "$VISIBLE" ] || problems+=("meshpg: the consumer sees $c rows, expected $VISIBLE")
case $e in *user3@example.com* | '<none>') problems+=("meshpg: email not masked for the consumer: $e") ;; esac
case $k in *[0-9][0-9][0-9][0-9][0-9]* | '<none>') problems+=("meshpg: card not masked for the consumer: $k") ;; esac
IFS='|' read -r c e k <<<"${SEEN[bench_consumer,hw.customers_v]}"
[ "$c" = "$VISIBLE" ] || problems+=("hand-written: the consumer sees $c rows, expected $VISIBLE")
IFS='|' read -r c e k <<<"${SEEN[bench_owner,bench_dom.customers]}"
[ "$c" = "$ROWS" ] || problems+=("meshpg: the owner sees $c rows, expected $ROWS")
[ "$e" = user3@example.com ] || problems+=("meshpg: the owner's email is not in clear: $e")
if [ ${#problems[@]} -gt 0 ]; then
    for p in "${problems[@]}"; do meshpg_err "$p"; done
    exit 1
fi

# Plans of the governed queries, shown with the results.
PLANS_OUT=$MESHPG_TMP/plans.txt
B2_SQL="SELECT count(*), sum(length(email)), max(card) FROM"
{
    for rel in bench_dom.customers hw.customers_v; do
        echo "--- consumer: SELECT $COLS FROM $rel WHERE id = 3"
        psql_as bench_consumer -At -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT $COLS FROM $rel WHERE id = 3"
        echo "--- consumer: $B2_SQL $rel"
        psql_as bench_consumer -At -c "EXPLAIN (VERBOSE, COSTS OFF) $B2_SQL $rel"
    done
    echo "--- consumer: $B2_SQL raw.customers WHERE region = 'EU'"
    psql_as bench_consumer -At -c "EXPLAIN (COSTS OFF) $B2_SQL raw.customers WHERE region = 'EU'"
    echo "--- owner: $B2_SQL bench_dom.customers"
    psql_as bench_owner -At -c "EXPLAIN (VERBOSE, COSTS OFF) $B2_SQL bench_dom.customers"
} >"$PLANS_OUT" 2>&1

# ---------------------------------------------------------------------------
# B1: point lookups with pgbench.
# ---------------------------------------------------------------------------
for n in 0 1 2; do
    printf '\\set id 3 * random(1, %d)\nSELECT %s FROM %s WHERE id = :id;\n' \
        "$VISIBLE" "$COLS" "${RELS[$n]}" | put "$MESHPG_TMP/b1_${NAMES[$n]}.sql"
done
# The least any implementation must do: the raw table with the row policy's
# qual and the two mask calls written into the query by hand.  meshpg over
# this is the cost of governance itself; this over raw is the cost of
# filtering and masking, which no implementation avoids.
printf '\\set id 3 * random(1, %d)\nSELECT %s FROM raw.customers WHERE region = $$EU$$ AND id = :id;\n' \
    "$VISIBLE" "$MIN_COLS" | put "$MESHPG_TMP/b1_min.sql"

pgbench_tps() {   # MODE NAME -> TPS
    local out=$MESHPG_TMP/pgbench_$1_$2.out
    if ! meshpg_run_as_pg "$MESHPG_PG_BIN/pgbench" -h "$MESHPG_TMP" -p "$MESHPG_PGPORT" \
            -U bench_consumer -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -M "$1" \
            -f "$MESHPG_TMP/b1_$2.sql" bench >"$out" 2>&1; then
        cat "$out" >&2
        meshpg_err "pgbench failed: $2, -M $1"
        return 1
    fi
    awk '/^tps = / { print $3; exit }' "$out"
}

declare -A TPS
for mode in simple prepared; do
    for ((r = 1; r <= REPEAT; r++)); do
        for n in raw meshpg min hw; do
            meshpg_log "B1: -M $mode, run $r/$REPEAT, $n ($SECS s)"
            t=$(pgbench_tps "$mode" "$n")
            TPS[$mode,$n]="${TPS[$mode,$n]:-} $t"
            printf '    %s TPS\n' "$t"
        done
    done
done
declare -A B1
for mode in simple prepared; do
    for n in raw meshpg min hw; do
        # shellcheck disable=SC2086
        B1[$mode,$n]=$(printf '%s\n' ${TPS[$mode,$n]} | median)
    done
done

# ---------------------------------------------------------------------------
# B2: full-scan aggregate, one session per reader, variants interleaved.
# ---------------------------------------------------------------------------
B2_CONSUMER=(raw "raw.customers" raw_eu "raw.customers WHERE region = 'EU'"
             meshpg "bench_dom.customers" hw "hw.customers_v")
B2_OWNER=(owner_meshpg "bench_dom.customers" owner_raw "raw.customers")

b2_session() {   # ROLE RUNS NAME REL NAME REL ... -> lines "name ms"
    local role=$1 runs=$2 file out i k tag
    shift 2
    local args=("$@")
    file=$MESHPG_TMP/b2_$role.sql
    out=$MESHPG_TMP/b2_$role.out
    {
        printf '%s\n' '\timing on'
        for ((i = 0; i <= runs; i++)); do
            tag=run; [ "$i" -eq 0 ] && tag=warm
            for ((k = 0; k < ${#args[@]}; k += 2)); do
                printf '\\echo @@ %s %s\n%s %s;\n' "$tag" "${args[k]}" "$B2_SQL" "${args[k + 1]}"
            done
        done
    } | put "$file"
    psql_as "$role" -At -f - <"$file" >"$out"
    awk '/^@@ / { tag = $2; name = $3; next }
         /^Time: / { if (tag == "run") print name, $2; next }
         tag == "warm" { print "result", name, $0 }' "$out"
}

meshpg_log "B2: full-scan aggregate as the consumer, $RUNS runs + 1 warm-up per variant"
B2_C=$(b2_session bench_consumer "$RUNS" "${B2_CONSUMER[@]}")
meshpg_log "B2: full-scan aggregate as the owner, $OWNER_RUNS runs + 1 warm-up per variant"
B2_O=$(b2_session bench_owner "$OWNER_RUNS" "${B2_OWNER[@]}")
declare -A B2
for n in raw raw_eu meshpg hw owner_meshpg owner_raw; do
    B2[$n]=$(printf '%s\n%s\n' "$B2_C" "$B2_O" | awk -v n="$n" '$1 == n { print $2 }' | median)
done
B2_RESULTS=$(printf '%s\n%s\n' "$B2_C" "$B2_O" | awk '$1 == "result" { print "    " $2 ": " $3 }')
# same rows: the consumer's meshpg and hand-written results must equal raw_eu's count
for n in meshpg hw raw_eu; do
    c=$(printf '%s\n' "$B2_RESULTS" | awk -v n="$n:" '$1 == n { split($2, f, "|"); print f[1] }')
    if [ "$c" != "$VISIBLE" ]; then
        meshpg_err "B2: $n counted $c rows, expected $VISIBLE"
        exit 1
    fi
done

# ---------------------------------------------------------------------------
# B3: planning time, first with the benchmark product alone.  raw_q is the
# raw table with the qual the row policy adds (region = ANY ('{EU}')): the
# planner's own work on that qual, apart from meshpg's.
# ---------------------------------------------------------------------------
B3_NAMES=(raw raw_q meshpg hw)
B3_FROM=("raw.customers WHERE id = 42"
         "raw.customers WHERE id = 42 AND region = ANY ('{EU}')"
         "bench_dom.customers WHERE id = 42"
         "hw.customers_v WHERE id = 42")
B3_FILE=$MESHPG_TMP/b3.sql
{
    for ((i = 1; i <= WARM + PLANS; i++)); do
        tag=run; [ "$i" -le "$WARM" ] && tag=warm
        for n in "${!B3_NAMES[@]}"; do
            printf '\\echo @@ %s %s\n' "$tag" "${B3_NAMES[$n]}"
            echo "EXPLAIN (SUMMARY ON, COSTS OFF) SELECT $COLS FROM ${B3_FROM[$n]};"
        done
    done
} | put "$B3_FILE"

# plan_times -> "raw raw_q meshpg hw meshpg-raw meshpg-raw_q hw-raw" in us:
# medians of each variant, then medians of the differences paired by round
# (robust to drift: the rounds interleave the variants).
plan_times() {
    local out=$MESHPG_TMP/b3.out pairs=$MESHPG_TMP/b3.pairs n
    psql_as bench_consumer -At -f - <"$B3_FILE" >"$out"
    awk '/^@@ / { tag = $2; name = $3 }
         /Planning Time:/ && tag == "run" { print ++k[name], name, $3 * 1000 }' "$out" >"$pairs"
    {
        for n in "${B3_NAMES[@]}"; do
            awk -v n="$n" '$2 == n { print $3 }' "$pairs" | median
        done
        for d in meshpg:raw meshpg:raw_q hw:raw; do
            awk -v a="${d%%:*}" -v b="${d#*:}" '{ v[$1, $2] = $3; if ($1 > max) max = $1 }
                END { for (i = 1; i <= max; i++) if (((i, a) in v) && ((i, b) in v))
                          print v[i, a] - v[i, b] }' "$pairs" | median
        done
    } | paste -sd ' '
}

catalog_size() {
    psql_as postgres -At -F ' ' -c "SELECT (SELECT count(*) FROM meshpg.cat_product),
                                           (SELECT count(*) FROM meshpg.cat_policy),
                                           (SELECT count(*) FROM meshpg.cat_grant),
                                           (SELECT count(*) FROM meshpg.cat_column_tag)"
}

# Leave autovacuum nothing to do while B3 measures (here and after growing).
quiesce() { psql_as postgres -c 'VACUUM ANALYZE' -c 'CHECKPOINT'; }
quiesce
meshpg_log "B3: planning time, $PLANS runs per variant, catalog: the benchmark product alone"
read -r cat1_products cat1_policies cat1_grants cat1_tags <<<"$(catalog_size)"
read -r p1_raw p1_rawq p1_gov p1_hw d1 q1 h1 <<<"$(plan_times)"

# ---------------------------------------------------------------------------
# B3 again, with a grown catalog.
# ---------------------------------------------------------------------------
meshpg_log "B3: adding $PRODUCTS products in 20 domains and $POLICIES policies"
t0=$(now_ns)
psql_as postgres -o /dev/null -v products="$PRODUCTS" -v policies="$POLICIES" \
    -f - <"$MESHPG_ROOT/bench/governance_catalog.sql"
grow_s=$(( ($(now_ns) - t0) / 1000000000 ))
read -r cat2_products cat2_policies cat2_grants cat2_tags <<<"$(catalog_size)"
quiesce
meshpg_log "B3: planning time, $PLANS runs per variant, catalog: $cat2_products products, $cat2_policies policies"
read -r p2_raw p2_rawq p2_gov p2_hw d2 q2 h2 <<<"$(plan_times)"

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------
f1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
sub_() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }
line() { printf '  %-64s %12s %12s\n' "$@"; }
rline() { printf '  %-44s %-20s %12s %12s\n' "$@"; }

r_s=$(ratio "${B1[simple,meshpg]}" "${B1[simple,raw]}")
r_p=$(ratio "${B1[prepared,meshpg]}" "${B1[prepared,raw]}")
m_s=$(ratio "${B1[simple,meshpg]}" "${B1[simple,min]}")
m_p=$(ratio "${B1[prepared,meshpg]}" "${B1[prepared,min]}")
n_s=$(ratio "${B1[simple,min]}" "${B1[simple,raw]}")
n_p=$(ratio "${B1[prepared,min]}" "${B1[prepared,raw]}")
h_s=$(ratio "${B1[simple,hw]}" "${B1[simple,raw]}")
h_p=$(ratio "${B1[prepared,hw]}" "${B1[prepared,raw]}")
b2_gov_eu=$(ratio "${B2[meshpg]}" "${B2[raw_eu]}")
b2_gov_all=$(ratio "${B2[meshpg]}" "${B2[raw]}")
b2_hw_eu=$(ratio "${B2[hw]}" "${B2[raw_eu]}")
b2_hw_all=$(ratio "${B2[hw]}" "${B2[raw]}")
b2_owner=$(ratio "${B2[owner_meshpg]}" "${B2[owner_raw]}")

echo
echo "meshpg governance benchmark: $ROWS rows, $VISIBLE of them (region EU) visible to the consumer"
echo "PostgreSQL $("$MESHPG_PG_BIN/postgres" --version | awk '{print $3}'), $(nproc) cores," \
     "shared_buffers 1GB, jit $JIT; one run, same cluster, same rows in three tables"
echo
echo "B1 point lookup by primary key: pgbench, consumer, $CLIENTS clients, median TPS of $REPEAT x $SECS s (interleaved)"
line "" "-M simple" "-M prepared"
line "raw table (raw.customers)" "$(f1 "${B1[simple,raw]}")" "$(f1 "${B1[prepared,raw]}")"
line "meshpg product (bench_dom.customers)" "$(f1 "${B1[simple,meshpg]}")" "$(f1 "${B1[prepared,meshpg]}")"
line "raw table + the same qual and mask calls by hand (minimum)" "$(f1 "${B1[simple,min]}")" "$(f1 "${B1[prepared,min]}")"
line "hand-written RLS + security_barrier view (hw.customers_v)" "$(f1 "${B1[simple,hw]}")" "$(f1 "${B1[prepared,hw]}")"
rline "ratio meshpg / raw" "target >= 0.95" "$r_s $(verdict "$r_s" '>=' 0.95)" "$r_p $(verdict "$r_p" '>=' 0.95)"
rline "ratio meshpg / minimum" "(meshpg's own work)" "$m_s" "$m_p"
rline "ratio minimum / raw" "(filter + masks)" "$n_s" "$n_p"
rline "ratio hand-written / raw" "expected ~0.45/0.75" "$h_s" "$h_p"
echo
echo "B2 full-scan aggregate: $B2_SQL ..., median ms of $RUNS ($OWNER_RUNS for the owner; interleaved, after a warm-up)"
line "consumer, raw table, all $ROWS rows" "$(f1 "${B2[raw]}")" ""
line "consumer, raw table, WHERE region = 'EU' ($VISIBLE rows)" "$(f1 "${B2[raw_eu]}")" ""
line "consumer, meshpg product ($VISIBLE rows visible, masked)" "$(f1 "${B2[meshpg]}")" ""
line "consumer, hand-written view ($VISIBLE rows visible, masked)" "$(f1 "${B2[hw]}")" ""
line "owner, raw table" "$(f1 "${B2[owner_raw]}")" ""
line "owner, meshpg product (exempt: all rows, in clear)" "$(f1 "${B2[owner_meshpg]}")" ""
rline "ratio meshpg / raw same rows" "target <= 1.30" "$b2_gov_eu $(verdict "$b2_gov_eu" '<=' 1.30)" ""
rline "ratio meshpg / raw all rows" "(information)" "$b2_gov_all" ""
rline "ratio hand-written / raw same rows" "expected ~4.7" "$b2_hw_eu" ""
rline "ratio hand-written / raw all rows" "(information)" "$b2_hw_all" ""
rline "ratio owner: meshpg / raw" "target <= 1.03" "$b2_owner $(verdict "$b2_owner" '<=' 1.03)" ""
echo
echo "B3 planning time: EXPLAIN (SUMMARY ON) SELECT ... WHERE id = 42, consumer, median us of $PLANS (interleaved)"
line "" "small" "grown"
line "catalog: products / policies" "$cat1_products / $cat1_policies" "$cat2_products / $cat2_policies"
line "catalog: grants / column tags" "$cat1_grants / $cat1_tags" "$cat2_grants / $cat2_tags"
line "raw table" "$(f1 "$p1_raw")" "$(f1 "$p2_raw")"
line "raw table + the row policy's qual (region = ANY ('{EU}'))" "$(f1 "$p1_rawq")" "$(f1 "$p2_rawq")"
line "meshpg product" "$(f1 "$p1_gov")" "$(f1 "$p2_gov")"
line "hand-written view (RLS is added by the rewriter: not timed)" "$(f1 "$p1_hw")" "$(f1 "$p2_hw")"
d1=$(f1 "$d1"); d2=$(f1 "$d2"); q1=$(f1 "$q1"); q2=$(f1 "$q2"); h1=$(f1 "$h1"); h2=$(f1 "$h2")
growth=$(sub_ "$d2" "$d1")
rline "meshpg - raw, us" "target <= 10" "$d1 $(verdict "$d1" '<=' 10)" "$d2 $(verdict "$d2" '<=' 10)"
rline "meshpg - (raw + the same qual), us" "(meshpg's own work)" "$q1" "$q2"
rline "hand-written - raw, us" "(information)" "$h1" "$h2"
rline "growth of meshpg - raw with the catalog, us" "should be ~0" "" "$growth"
echo "  (growing the catalog took $grow_s s)"
echo
echo "What the ratios compare (all as the consumer unless said):"
echo "  B1 meshpg / raw: TPS of the governed product over TPS of the ungoverned copy; hand-written / raw likewise."
echo "     minimum: the raw table queried with the row policy's qual and the mask calls typed in, so"
echo "     meshpg / minimum is governance's own cost, minimum / raw the cost of filtering and masking."
echo "  B2 meshpg / raw same rows: the governed scan (row policy + 2 masks, $VISIBLE rows out) over the"
echo "     raw scan with WHERE region = 'EU' (same rows out, no masks); 'all rows': over the raw scan of all $ROWS."
echo "  B2 hand-written / raw: the RLS + CASE-mask view over the same two raw scans."
echo "  B2 owner: the domain owner (exempt from every policy) on the product over the owner on the raw copy."
echo "  B3: planning time on the product (or the view) minus on the raw table (median of the differences"
echo "     paired by round; the variant lines above are plain medians), before and after"
echo "     growing the catalog; the growth line is the difference of the two.  'raw + the same qual'"
echo "     plans the qual the row policy adds by hand, so the line against it leaves out planning that"
echo "     qual (selectivity estimation), which any row filter costs."
echo
echo "Results of the B2 warm-up runs (count|sum(length(email))|max(card)):"
printf '%s\n' "$B2_RESULTS"
echo
echo "Plans of the governed queries (consumer unless said):"
sed 's/^/    /' "$PLANS_OUT"
