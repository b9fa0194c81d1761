#!/usr/bin/env bash
# bench/citus.sh: meshpg on a three-node Citus cluster (a coordinator and two
# workers on this machine, 'citus,meshpg' preloaded), the consumer against
# the minimum and against hand-written PostgreSQL, side by side in one run
# on throwaway clusters.
#
# BENCH_ROWS rows (default 1,000,000) distributed by id over 32 shards, in
# three tables with the same rows: the product bench_dom.tx (email masked
# by tag, card by a partial mask, a row policy by region: the consumer,
# region = {EU}, sees one row in three), the raw copy raw.tx (no governance)
# and hw.tx, governed by hand (native row security, which Citus copies to
# the shards, behind a security_barrier view with masks in SQL).
#
#   C1 multi-shard aggregate over both masked columns, psql \timing, median
#      of BENCH_RUNS interleaved runs after a warm-up: the consumer on the
#      product, on the minimum (raw.tx with WHERE region = 'EU' and the
#      mask calls typed in) and on the hand-written view.  Target: product
#      / minimum <= 1.15.
#   C2 router point lookup by the distribution key, pgbench, BENCH_CLIENTS
#      clients, -M simple and -M prepared, each variant BENCH_SECONDS s,
#      interleaved, BENCH_REPEAT times: median TPS.  Target: product /
#      minimum >= 0.9.
#
# Needs Citus installed in our PostgreSQL (scripts/test.sh builds it from
# ../shared/vendor; so does this script when it is missing).
#   C3 the catalog re-sent on a large catalog: BENCH_CATALOG more products
#      (default 2000; 0 skips it), then meshpg.citus_sync() and one catalog
#      change (grant_access) timed, beside the same with the small catalog.
#
# Environment: BENCH_ROWS (1000000), BENCH_SECONDS (10), BENCH_REPEAT (2),
# BENCH_CLIENTS (2), BENCH_RUNS (5), BENCH_CATALOG (2000), BENCH_SKIP_BUILD=1 to use the meshpg
# already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-1000000}
SECS=${BENCH_SECONDS:-10}
REPEAT=${BENCH_REPEAT:-2}
CLIENTS=${BENCH_CLIENTS:-2}
RUNS=${BENCH_RUNS:-5}
for v in ROWS SECS REPEAT CLIENTS RUNS; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "BENCH_$v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done
[ "$ROWS" -ge 3 ] || { meshpg_err "need BENCH_ROWS >= 3"; exit 1; }
VISIBLE=$((ROWS / 3))       # EU rows: id % 3 = 0

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
if ! meshpg_ensure_citus; then
    meshpg_err "Citus is not installed in $("$MESHPG_PG_CONFIG" --pkglibdir) and could not be built"
    exit 1
fi

# --- three throwaway nodes, sockets in one directory ---
CTMP=$(mktemp -d "${TMPDIR:-/tmp}/meshpg-citus-XXXXXX")
chmod 755 "$CTMP"
if meshpg_is_root; then chown postgres: "$CTMP"; fi
NODES=(coord w1 w2)
declare -A PORT
stop_nodes() {
    local n
    for n in "${NODES[@]}"; do
        [ -f "$CTMP/$n/postmaster.pid" ] &&
            meshpg_run_as_pg "$MESHPG_PG_BIN/pg_ctl" -D "$CTMP/$n" -m fast -w stop >/dev/null 2>&1
    done
    rm -rf "$CTMP"
}
on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -f "$CTMP/coord.log" ]; then
        meshpg_err "failed (exit $rc); last lines of the coordinator's log:"
        tail -n 30 "$CTMP/coord.log" >&2 || true
    fi
    stop_nodes
}
trap on_exit EXIT

for n in "${NODES[@]}"; do
    PORT[$n]=$(meshpg_free_port)
    meshpg_run_as_pg "$MESHPG_PG_BIN/initdb" -D "$CTMP/$n" -A trust -N --encoding=UTF8 --no-locale \
        >"$CTMP/initdb.log" 2>&1
    {
        echo "listen_addresses = ''"
        echo "port = ${PORT[$n]}"
        echo "unix_socket_directories = '$CTMP'"
        echo "shared_preload_libraries = 'citus,meshpg'"
        echo "citus.local_hostname = '$CTMP'"
        echo "citus.node_conninfo = 'sslmode=disable'"
        echo "max_prepared_transactions = 50"
        echo "max_connections = 100"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "shared_buffers = 256MB"
        echo "jit = off"
    } | meshpg_run_as_pg tee -a "$CTMP/$n/postgresql.conf" >/dev/null
    meshpg_run_as_pg "$MESHPG_PG_BIN/pg_ctl" -D "$CTMP/$n" -l "$CTMP/$n.log" -w -t 60 start >/dev/null
done
psql_on() {   # NODE ROLE ARGS...
    local node=$1 role=$2
    shift 2
    meshpg_run_as_pg "$MESHPG_PG_BIN/psql" -X -h "$CTMP" -p "${PORT[$node]}" -d postgres -U "$role" \
        -v ON_ERROR_STOP=1 -q "$@"
}
for n in "${NODES[@]}"; do psql_on "$n" postgres -c 'CREATE EXTENSION citus'; done
psql_on coord postgres -c "SELECT citus_set_coordinator_host('$CTMP', ${PORT[coord]})" >/dev/null
for n in w1 w2; do psql_on coord postgres -c "SELECT citus_add_node('$CTMP', ${PORT[$n]})" >/dev/null; done
psql_on coord postgres -c 'CREATE EXTENSION meshpg'

meshpg_log "loading $ROWS rows into the product, the raw copy and the hand-written copy (3 nodes)"
t0=$(date +%s)
psql_on coord postgres -o /dev/null -v rows="$ROWS" <<'SQL'
SET citus.shard_count = 32;
SET client_min_messages = warning;
CREATE ROLE bench_owner LOGIN;
CREATE ROLE bench_consumer LOGIN;
SELECT meshpg.create_domain('bench_dom', 'bench_owner', description => 'Benchmark');
SELECT meshpg.create_tag('email');
SELECT meshpg.create_tag('geo');
SELECT meshpg.create_masking_policy('bench_email', 'email', tag => 'email');
SELECT meshpg.create_row_policy('bench_region', 'value = ANY (meshpg.attribute(''region''))', tag => 'geo');
SELECT meshpg.set_attribute('bench_consumer', 'region', '{EU}');

CREATE SCHEMA raw;
CREATE SCHEMA hw;
GRANT USAGE ON SCHEMA raw, hw TO bench_consumer;
CREATE TABLE raw.tx (id bigint PRIMARY KEY, email text, card text, region text, amount numeric);
INSERT INTO raw.tx
SELECT g, 'user' || g || '@example.com', '4111-2222-3333-' || lpad((g % 10000)::text, 4, '0'),
       CASE g % 3 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' ELSE 'APAC' END, g % 1000
  FROM generate_series(1, :rows) g;
CREATE TABLE hw.tx (LIKE raw.tx INCLUDING ALL);
INSERT INTO hw.tx SELECT * FROM raw.tx;
SET ROLE bench_owner;
CREATE TABLE bench_dom.tx (id bigint PRIMARY KEY, email text, card text, region text, amount numeric);
RESET ROLE;
INSERT INTO bench_dom.tx SELECT * FROM raw.tx;
SELECT create_distributed_table('raw.tx', 'id');
SELECT create_distributed_table('hw.tx', 'id', colocate_with => 'raw.tx');
SET ROLE bench_owner;
SELECT create_distributed_table('bench_dom.tx', 'id');
SELECT truncate_local_data_after_distributing_table('bench_dom.tx');
RESET ROLE;
SELECT truncate_local_data_after_distributing_table('raw.tx');
SELECT truncate_local_data_after_distributing_table('hw.tx');

-- the product
SET ROLE bench_owner;
SELECT meshpg.register_product('bench_dom', 'tx', 'bench_dom.tx', description => 'Transactions');
SELECT meshpg.tag_column('bench_dom.tx', 'email', 'email');
SELECT meshpg.tag_column('bench_dom.tx', 'region', 'geo');
SELECT meshpg.create_masking_policy('bench_card', 'partial', product => 'bench_dom.tx',
       column_name => 'card', args => '{"keep_last": 4}');
SELECT meshpg.publish('bench_dom.tx');
SELECT meshpg.grant_access('bench_dom.tx', 'bench_consumer');
RESET ROLE;

-- the raw copy
GRANT SELECT ON raw.tx TO bench_consumer;

-- hand-written: native row security (Citus copies it to the shards) and a
-- security_barrier view with masks in plain SQL
ALTER TABLE hw.tx ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_region ON hw.tx FOR SELECT TO bench_consumer USING (region = 'EU');
GRANT SELECT ON hw.tx TO bench_consumer;
CREATE VIEW hw.tx_v WITH (security_barrier, security_invoker) AS
SELECT id, regexp_replace(email, '^[^@]*', '*****') AS email,
       repeat('*', greatest(length(card) - 4, 0)) || right(card, 4) AS card, region, amount
  FROM hw.tx;
GRANT SELECT ON hw.tx_v TO bench_consumer;
VACUUM ANALYZE;
SQL
meshpg_log "loaded in $(( $(date +%s) - t0 )) s"

COLS="id, email, card, region, amount"
MIN_COLS="id, meshpg.mask_email(email) AS email, meshpg.mask_partial(card, 0, 4, '*') AS card, region, amount"
AGG="count(*), sum(length(email)), max(card)"
MIN_AGG="count(*), sum(length(meshpg.mask_email(email))), max(meshpg.mask_partial(card, 0, 4, '*'))"
declare -A C1_SQL=(
    [meshpg]="SELECT $AGG FROM bench_dom.tx"
    [min]="SELECT $MIN_AGG FROM raw.tx WHERE region = 'EU'"
    [hw]="SELECT $AGG FROM hw.tx_v"
    [raw_eu]="SELECT $AGG FROM raw.tx WHERE region = 'EU'")
C1_NAMES=(meshpg min hw raw_eu)

# --- sanity: the same answer on every governed side ---
meshpg_log "checking what the consumer sees"
problems=()
for n in meshpg min hw; do
    got=$(psql_on coord bench_consumer -At -c "${C1_SQL[$n]}")
    printf '    %-8s count|sum(length(email))|max(card) = %s\n' "$n" "$got"
    [ "${got%%|*}" = "$VISIBLE" ] || problems+=("$n: the consumer counts ${got%%|*} rows, expected $VISIBLE")
    case $got in *user*@example.com* | *4111-2222*) problems+=("$n: a raw value reached the consumer") ;; esac
done
declare -A SEEN2
for n in meshpg min; do SEEN2[$n]=$(psql_on coord bench_consumer -At -c "${C1_SQL[$n]}"); done
[ "${SEEN2[meshpg]}" = "${SEEN2[min]}" ] || problems+=("meshpg and the minimum disagree: ${SEEN2[meshpg]} / ${SEEN2[min]}")
got=$(psql_on coord bench_consumer -At -c "SELECT $COLS FROM bench_dom.tx WHERE id = 3")
printf '    meshpg   id 3: %s\n' "$got"
case $got in *user3@* | *4111-2222*) problems+=("meshpg: id 3 not masked: $got") ;; esac
got=$(psql_on coord bench_consumer -At -c "SELECT count(*) FROM bench_dom.tx WHERE id = 1")
[ "$got" = 0 ] || problems+=("meshpg: the consumer reads a US row")
if [ ${#problems[@]} -gt 0 ]; then
    for p in "${problems[@]}"; do meshpg_err "$p"; done
    exit 1
fi
PLANS_OUT=$CTMP/plans.txt
{
    for n in meshpg min; do
        echo "--- ${C1_SQL[$n]}"
        psql_on coord bench_consumer -At -c "EXPLAIN (COSTS OFF) ${C1_SQL[$n]}"
    done
} >"$PLANS_OUT" 2>&1

# --- C1: multi-shard aggregate ---
C1_FILE=$CTMP/c1.sql
{
    echo '\timing on'
    for ((i = 0; i <= RUNS; i++)); do
        tag=run; [ "$i" -eq 0 ] && tag=warm
        for n in "${C1_NAMES[@]}"; do
            printf '\\echo @@ %s %s\n%s;\n' "$tag" "$n" "${C1_SQL[$n]}"
        done
    done
} | put "$C1_FILE"
meshpg_log "C1: multi-shard aggregate, $RUNS runs + 1 warm-up per variant"
psql_on coord bench_consumer -At -f - <"$C1_FILE" >"$CTMP/c1.out"
declare -A C1
for n in "${C1_NAMES[@]}"; do
    C1[$n]=$(awk -v n="$n" '/^@@ / { tag = $2; name = $3; next }
        /^Time: / { if (tag == "run" && name == n) print $2 }' "$CTMP/c1.out" | median)
done

# --- C2: router point lookup ---
for n in meshpg min hw raw; do
    case $n in
        meshpg) q="SELECT $COLS FROM bench_dom.tx WHERE id = :id" ;;
        min) q="SELECT $MIN_COLS FROM raw.tx WHERE region = \$\$EU\$\$ AND id = :id" ;;
        hw) q="SELECT $COLS FROM hw.tx_v WHERE id = :id" ;;
        raw) q="SELECT $COLS FROM raw.tx WHERE id = :id" ;;
    esac
    printf '\\set id 3 * random(1, %d)\n%s;\n' "$VISIBLE" "$q" | put "$CTMP/c2_$n.sql"
done
pgbench_tps() {   # MODE NAME -> TPS
    local out=$CTMP/pgbench_$1_$2.out
    if ! meshpg_run_as_pg "$MESHPG_PG_BIN/pgbench" -h "$CTMP" -p "${PORT[coord]}" \
            -U bench_consumer -n -c "$CLIENTS" -j "$CLIENTS" -T "$SECS" -M "$1" \
            -f "$CTMP/c2_$2.sql" postgres >"$out" 2>&1; then
        cat "$out" >&2
        meshpg_err "pgbench failed: $2, -M $1"
        return 1
    fi
    if grep -q 'aborted\|number of failed transactions: [1-9]' "$out"; then
        cat "$out" >&2
        meshpg_err "pgbench: transactions failed: $2, -M $1"
        return 1
    fi
    awk '/^tps = / { print $3; exit }' "$out"
}
declare -A TPS C2
for mode in simple prepared; do
    for ((r = 1; r <= REPEAT; r++)); do
        for n in meshpg min hw raw; do
            meshpg_log "C2: -M $mode, run $r/$REPEAT, $n ($SECS s)"
            t=$(pgbench_tps "$mode" "$n")
            TPS[$mode,$n]="${TPS[$mode,$n]:-} $t"
            printf '    %s TPS\n' "$t"
        done
    done
done
for mode in simple prepared; do
    for n in meshpg min hw raw; do
        # shellcheck disable=SC2086
        C2[$mode,$n]=$(printf '%s\n' ${TPS[$mode,$n]} | median)
    done
done

# --- C3: the catalog re-sent on a large catalog ---
# BENCH_CATALOG products (small tables that exist on every node, so the
# workers keep every product and its policies), registered with the
# catalog's triggers off (session_replication_role = replica: no send per
# registration while building), then sent once.  Timed, each a median of
# BENCH_RUNS: meshpg.citus_sync() (one whole send), and one catalog change
# that a domain team makes (grant_access, one statement), at this size and,
# for comparison, before the products were added.
catalog_change_ms() {   # -> median ms of RUNS grant/revoke pairs, one statement each
    local f=$CTMP/c3_change.sql i
    {
        echo '\timing on'
        for ((i = 0; i < RUNS; i++)); do
            echo "\\echo @@ grant"
            echo "SELECT meshpg.grant_access('bench_dom.tx', 'bench_c3');"
            echo "\\echo @@ revoke"
            echo "SELECT meshpg.revoke_access('bench_dom.tx', 'bench_c3');"
        done
    } | put "$f"
    psql_on coord bench_owner -At -o /dev/null -f - <"$f" >"$CTMP/c3_change.out" 2>&1 ||
        { cat "$CTMP/c3_change.out" >&2; return 1; }
    awk '/^@@ grant/ { t = 1; next } /^@@/ { t = 0; next } /^Time: / && t { print $2 }' "$CTMP/c3_change.out" | median
}
sync_ms() {   # -> median ms of RUNS meshpg.citus_sync()
    local i
    { echo '\timing on'; for ((i = 0; i < RUNS; i++)); do echo 'SELECT meshpg.citus_sync();'; done; } |
        put "$CTMP/c3_sync.sql"
    psql_on coord postgres -At -o /dev/null -f - <"$CTMP/c3_sync.sql" >"$CTMP/c3_sync.out" 2>&1 ||
        { cat "$CTMP/c3_sync.out" >&2; return 1; }
    awk '/^Time: / { print $2 }' "$CTMP/c3_sync.out" | median
}
CATALOG=${BENCH_CATALOG:-2000}
case $CATALOG in '' | *[!0-9]*) meshpg_err "BENCH_CATALOG must be a whole number"; exit 1 ;; esac
if [ "$CATALOG" -gt 0 ]; then
    psql_on coord postgres -c 'CREATE ROLE bench_c3 LOGIN'
    C3_SMALL_N=$(psql_on coord postgres -At -c 'SELECT count(*) FROM meshpg.cat_product')
    meshpg_log "C3: catalog sends with $C3_SMALL_N products"
    C3_SMALL_SYNC=$(sync_ms)
    C3_SMALL_CHANGE=$(catalog_change_ms)
    meshpg_log "C3: adding $CATALOG products (tables on every node, registered without sending)"
    t0=$(date +%s)
    # the domain makes its schema (on the coordinator); the tables are made
    # on every node, owned by the domain's owner, without Citus
    psql_on coord postgres -o /dev/null \
        -c "SELECT meshpg.create_domain('bench_c3', 'bench_owner', description => 'Catalog size benchmark')"
    for n in "${NODES[@]}"; do
        psql_on "$n" postgres -o /dev/null -v n="$CATALOG" <<'SQL'
SET citus.enable_ddl_propagation = off;
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS bench_c3;
SELECT format('CREATE TABLE IF NOT EXISTS bench_c3.t%s (id bigint, email text, region text)', g)
  FROM generate_series(1, :n) g \gexec
SELECT format('ALTER TABLE bench_c3.t%s OWNER TO bench_owner', g) FROM generate_series(1, :n) g \gexec
SQL
    done
    psql_on coord postgres -o /dev/null -v n="$CATALOG" <<'SQL'
SET client_min_messages = warning;
SET session_replication_role = replica;
SET ROLE bench_owner;
SELECT meshpg.register_product('bench_c3', 't' || g, 'bench_c3.t' || g, description => 'Product ' || g)
  FROM generate_series(1, :n) g;
SELECT meshpg.tag_column('bench_c3.t' || g, 'email', 'email') FROM generate_series(1, :n) g;
SELECT meshpg.tag_column('bench_c3.t' || g, 'region', 'geo') FROM generate_series(1, :n) g;
SELECT meshpg.publish('bench_c3.t' || g) FROM generate_series(1, :n) g;
SELECT meshpg.grant_access('bench_c3.t' || g, 'bench_consumer') FROM generate_series(1, :n) g;
RESET ROLE;
RESET session_replication_role;
SELECT meshpg.citus_sync();
SQL
    meshpg_log "C3: added in $(( $(date +%s) - t0 )) s"
    C3_N=$(psql_on coord postgres -At -c 'SELECT count(*) FROM meshpg.cat_product')
    C3_W=$(psql_on w1 postgres -At -c 'SELECT count(*) FROM meshpg.cat_product')
    [ "$C3_W" = "$C3_N" ] || { meshpg_err "C3: worker w1 knows $C3_W products of $C3_N"; exit 1; }
    C3_BYTES=$(psql_on coord postgres -At -c 'SELECT length(meshpg._citus_catalog_payload()::text)')
    meshpg_log "C3: catalog sends with $C3_N products ($C3_BYTES bytes)"
    C3_SYNC=$(sync_ms)
    C3_CHANGE=$(catalog_change_ms)
    # still governed at that size
    got=$(psql_on w1 bench_consumer -At -c 'SELECT count(*), min(email) FROM bench_dom.tx WHERE id = 3')
    case $got in 1\|\*\*\*\*\*@example.com) ;; *) meshpg_err "C3: the consumer on w1 got '$got'"; exit 1 ;; esac
fi

# --- report ---
f1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
line() { printf '  %-66s %12s %12s\n' "$@"; }
rline() { printf '  %-44s %-22s %12s %12s\n' "$@"; }
c1_min=$(ratio "${C1[meshpg]}" "${C1[min]}")
c1_hw=$(ratio "${C1[hw]}" "${C1[min]}")
c1_raw=$(ratio "${C1[min]}" "${C1[raw_eu]}")
c2_s=$(ratio "${C2[simple,meshpg]}" "${C2[simple,min]}")
c2_p=$(ratio "${C2[prepared,meshpg]}" "${C2[prepared,min]}")
h2_s=$(ratio "${C2[simple,hw]}" "${C2[simple,min]}")
h2_p=$(ratio "${C2[prepared,hw]}" "${C2[prepared,min]}")
r2_s=$(ratio "${C2[simple,meshpg]}" "${C2[simple,raw]}")
r2_p=$(ratio "${C2[prepared,meshpg]}" "${C2[prepared,raw]}")

echo
echo "meshpg on Citus: $ROWS rows in 32 shards on a coordinator and 2 workers (one machine, $(nproc) cores);"
echo "the consumer (region EU) sees $VISIBLE rows, email and card masked; one run, same rows in three tables"
echo
echo "C1 multi-shard aggregate ($AGG), consumer, median ms of $RUNS (interleaved, after a warm-up)"
line "meshpg product (bench_dom.tx)" "$(f1 "${C1[meshpg]}")" ""
line "minimum: raw.tx WHERE region = 'EU' with the mask calls typed in" "$(f1 "${C1[min]}")" ""
line "hand-written: row security + security_barrier view (hw.tx_v)" "$(f1 "${C1[hw]}")" ""
line "raw.tx WHERE region = 'EU', no masks" "$(f1 "${C1[raw_eu]}")" ""
rline "ratio meshpg / minimum" "target <= 1.15" "$c1_min $(verdict "$c1_min" '<=' 1.15)" ""
rline "ratio hand-written / minimum" "(information)" "$c1_hw" ""
rline "ratio minimum / raw same rows" "(the masks' cost)" "$c1_raw" ""
echo
echo "C2 router point lookup by distribution key (WHERE id = :id), pgbench, $CLIENTS clients, median TPS of $REPEAT x $SECS s"
line "" "-M simple" "-M prepared"
line "meshpg product" "$(f1 "${C2[simple,meshpg]}")" "$(f1 "${C2[prepared,meshpg]}")"
line "minimum: raw.tx with the qual and mask calls typed in" "$(f1 "${C2[simple,min]}")" "$(f1 "${C2[prepared,min]}")"
line "hand-written view" "$(f1 "${C2[simple,hw]}")" "$(f1 "${C2[prepared,hw]}")"
line "raw.tx" "$(f1 "${C2[simple,raw]}")" "$(f1 "${C2[prepared,raw]}")"
rline "ratio meshpg / minimum" "target >= 0.9" "$c2_s $(verdict "$c2_s" '>=' 0.9)" "$c2_p $(verdict "$c2_p" '>=' 0.9)"
rline "ratio hand-written / minimum" "(information)" "$h2_s" "$h2_p"
rline "ratio meshpg / raw" "(information)" "$r2_s" "$r2_p"
echo
if [ "$CATALOG" -gt 0 ]; then
    echo "C3 the governance catalog re-sent to the workers, median ms of $RUNS (2 workers)"
    line "" "$C3_SMALL_N products" "$C3_N products"
    line "meshpg.citus_sync(): the whole catalog, once" "$(f1 "$C3_SMALL_SYNC")" "$(f1 "$C3_SYNC")"
    line "one catalog change (grant_access, which sends it)" "$(f1 "$C3_SMALL_CHANGE")" "$(f1 "$C3_CHANGE")"
    line "payload at $C3_N products (bytes)" "" "$C3_BYTES"
    echo
fi
echo "Where the work is done: the coordinator routes; each worker masks and filters its shards for the"
echo "consumer (meshpg's planner hook there), so the minimum's typed-in filter and mask calls and the"
echo "product run the same expressions on the same nodes."
echo
echo "Plans (consumer):"
sed 's/^/    /' "$PLANS_OUT"
