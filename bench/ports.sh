#!/usr/bin/env bash
# bench/ports.sh: a governed output port (meshpg's decoding plugin) against
# wal2json, decoding the same changes side by side in one run on a
# throwaway cluster that preloads meshpg.
#
# The product: BENCH_ROWS rows (1,000,000 by default) of a table with a row
# policy (region, BENCH_VISIBLE percent of the rows in the consumer's
# region, 90 by default) and two masks (hash on the e-mail, partial on the
# card number), replica identity full (a port needs it to judge updates on
# the old row).  One UPDATE of every row, then both slots, created before
# it, decode the same WAL: the port's slot through meshpg's plugin (row
# policy on the old and the new row, masks, Debezium envelope), and a
# wal2json slot (format-version 2, one JSON per change, old and new row) as
# the reference an ungoverned stream costs.  Each variant is timed with
# pg_logical_slot_peek_changes over every change (peek leaves the changes
# there, so the runs repeat on the same WAL), BENCH_RUNS runs interleaved
# (A B A B ...), after a warm-up of each; medians.  Target: port throughput
# >= 0.8 x wal2json's (time ratio wal2json / port >= 0.8).
#
# wal2json must be installed in the PostgreSQL tree used (Debian package
# postgresql-15-wal2json; with a relocated tree, copy its wal2json.so into
# that tree's lib directory).
#
# The machine is shared: figures are noisy, hence medians of interleaved
# runs; read the ratio, not the times.
#
# B2, small transactions: BENCH_TXNS (20,000) transactions of one UPDATE of
# one row each, decoded the same way: what a port costs per transaction
# (its row is read again for each, its rules kept while the row is the
# same).
#
# Environment: BENCH_ROWS (1000000), BENCH_VISIBLE (90), BENCH_RUNS (3),
# BENCH_TXNS (20000), BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-1000000}
VISIBLE=${BENCH_VISIBLE:-90}
RUNS=${BENCH_RUNS:-3}
TXNS=${BENCH_TXNS:-20000}
for v in ROWS VISIBLE RUNS TXNS; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "BENCH_$v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done
if [ "$ROWS" -lt 1000 ] || [ "$RUNS" -lt 1 ] || [ "$VISIBLE" -gt 100 ]; then
    meshpg_err "need BENCH_ROWS >= 1000, BENCH_RUNS >= 1, BENCH_VISIBLE <= 100"
    exit 1
fi
LIBDIR=$("$MESHPG_PG_CONFIG" --pkglibdir)
if [ ! -f "$LIBDIR/wal2json.so" ]; then
    meshpg_err "wal2json is not installed in $LIBDIR (apt-get install postgresql-15-wal2json, then copy wal2json.so there)"
    exit 1
fi

trap bench_on_exit EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "wal_level = logical" "max_replication_slots = 4" "shared_buffers = 512MB" \
    "logical_decoding_work_mem = 256MB" "work_mem = 64MB" "jit = off"
# Debian's 15.20 and later decode only with the plugins the DBA lists.
if [ "$(meshpg_psql -d postgres -Atc "SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'")" = 1 ]; then
    meshpg_psql -d postgres -q -c "ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json, meshpg" \
        -c 'SELECT pg_reload_conf()' >/dev/null
fi

psql_b() { meshpg_psql -d postgres -v ON_ERROR_STOP=1 -q "$@"; }

meshpg_log "loading $ROWS rows ($VISIBLE% in the consumer's region)"
psql_b -o /dev/null -v rows="$ROWS" -v visible="$VISIBLE" <<'SQL'
CREATE ROLE bench_team;
CREATE ROLE bench_consumer LOGIN;
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('pay', 'bench_team');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_masking_policy('mask_email', tag => 'pii.email', mask => 'hash');
SELECT meshpg.create_row_policy('own_region', tag => 'geo.region',
       expression => 'value = ANY (meshpg.attribute(''region''))');
SELECT meshpg.set_attribute('bench_consumer', 'region', '{EU}');
SET ROLE bench_team;
CREATE TABLE pay.charges (id bigint PRIMARY KEY, email text NOT NULL, card text NOT NULL,
                          region text NOT NULL, amount numeric(12,2) NOT NULL,
                          created_at timestamptz NOT NULL);
INSERT INTO pay.charges
SELECT g, 'customer' || g || '@example.com', lpad((g::bigint * 7919)::text, 16, '4'),
       CASE WHEN g % 100 < :visible THEN 'EU' ELSE 'US' END,
       (g % 50000) / 100.0, '2026-01-01'::timestamptz + g * interval '1 second'
  FROM generate_series(1, :rows) g;
ALTER TABLE pay.charges REPLICA IDENTITY FULL;
SELECT meshpg.register_product('pay', 'charges', 'pay.charges', description => 'Card charges');
SELECT meshpg.tag_column('pay.charges', 'email', 'pii.email');
SELECT meshpg.tag_column('pay.charges', 'region', 'geo.region');
SELECT meshpg.publish('pay.charges', '1.0.0');
SELECT meshpg.grant_access('pay.charges', 'bench_consumer');
RESET ROLE;
SELECT meshpg.create_masking_policy('mask_card', product => 'pay.charges',
       column_name => 'card', mask => 'partial');
VACUUM ANALYZE pay.charges;
SQL
psql_b -o /dev/null -c "SELECT meshpg.create_output_port('pay.charges', 'bench_consumer', 'charges_stream')"
psql_b -o /dev/null -c "SELECT pg_create_logical_replication_slot('w2j', 'wal2json')"
PORT_SLOT=$(meshpg_psql -d postgres -Atc "SELECT slot_name FROM meshpg.output_ports WHERE name = 'charges_stream'")

meshpg_log "one UPDATE of all $ROWS rows"
psql_b -c "UPDATE pay.charges SET amount = amount + 1"

# run VARIANT: prints "<ms> <changes>"
PORT_Q="SELECT count(*) FROM pg_logical_slot_peek_changes('$PORT_SLOT', NULL, NULL)"
W2J_Q="SELECT count(*) FROM pg_logical_slot_peek_changes('w2j', NULL, NULL, 'format-version', '2')"
run() {
    local q
    case $1 in port) q=$PORT_Q ;; w2j) q=$W2J_Q ;; esac
    meshpg_psql -d postgres -At -v ON_ERROR_STOP=1 <<SQL | awk '/^Time:/ { t = $2 } /^[0-9]+$/ { n = $1 } END { print t, n }'
\timing on
$q;
SQL
}

# measure LABEL COUNT: warm-up, then RUNS interleaved runs; sets port_ms,
# w2j_ms and prints the lines of the result
measure() {
    local label=$1 count=$2 i v ms order port_n w2j_n
    meshpg_log "$label: warm-up"
    read -r _ port_n < <(run port)
    read -r _ w2j_n < <(run w2j)
    meshpg_log "port: $port_n documents (the consumer's view); wal2json: $w2j_n documents (every change, with begin/commit)"
    : >"$MESHPG_TMP/port.ms"; : >"$MESHPG_TMP/w2j.ms"
    for i in $(seq 1 "$RUNS"); do
        if [ $((i % 2)) -eq 1 ]; then order="port w2j"; else order="w2j port"; fi
        for v in $order; do
            read -r ms _ < <(run "$v")
            echo "$ms" >>"$MESHPG_TMP/$v.ms"
            meshpg_log "run $i $v: $ms ms"
        done
    done
    port_ms=$(median <"$MESHPG_TMP/port.ms")
    w2j_ms=$(median <"$MESHPG_TMP/w2j.ms")
    local port_rate w2j_rate r
    port_rate=$(awk -v n="$count" -v ms="$port_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    w2j_rate=$(awk -v n="$count" -v ms="$w2j_ms" 'BEGIN { printf "%.0f", n / (ms / 1000) }')
    r=$(ratio "$w2j_ms" "$port_ms")
    {
        echo
        echo "$label, medians of $RUNS interleaved runs:"
        printf '  %-34s %10s ms  %10s changes/s\n' "meshpg port (governed)" "$port_ms" "$port_rate"
        printf '  %-34s %10s ms  %10s changes/s\n' "wal2json (format-version 2, raw)" "$w2j_ms" "$w2j_rate"
        printf '  port throughput / wal2json: %s   (target >= 0.8: %s)\n' "$r" "$(verdict "$r" '>=' 0.8)"
    } >>"$MESHPG_TMP/report"
}
: >"$MESHPG_TMP/report"

measure "B1 one UPDATE of $ROWS rows (row policy, two masks; $VISIBLE% in view)" "$ROWS"

# B2: consume B1's changes, then many small transactions
meshpg_log "B2: $TXNS transactions of one row each"
psql_b -o /dev/null -c "SELECT count(*) FROM pg_logical_slot_get_changes('$PORT_SLOT', NULL, NULL)" \
    -c "SELECT count(*) FROM pg_logical_slot_get_changes('w2j', NULL, NULL, 'format-version', '2')"
psql_b -o /dev/null -v txns="$TXNS" -v rows="$ROWS" <<'SQL'
CREATE PROCEDURE pg_temp.small(n int, nrows int) LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..n LOOP
        UPDATE pay.charges SET amount = amount + 1 WHERE id = 1 + (i::bigint * 7919) % nrows;
        COMMIT;
    END LOOP;
END $$;
CALL pg_temp.small(:txns, :rows);
SQL
measure "B2 $TXNS transactions of one UPDATE each" "$TXNS"

cat "$MESHPG_TMP/report"
