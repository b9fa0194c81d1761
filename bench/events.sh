#!/usr/bin/env bash
# bench/events.sh: what emitting mesh events (doc/events.md) costs the
# changes that emit them, and that a consumer's read pays nothing, measured
# side by side in one run on a throwaway cluster that preloads meshpg.
#
#   publish:       per statement, meshpg.publish of a published product (its
#                  next minor version: the interface, the contract, the
#                  search document, and one event)
#   grant_access:  per statement, meshpg.grant_access to one of 50 roles
#                  (the GRANTs, the catalog row, plan invalidation, one event)
#   read:          a consumer's SELECT of a governed product (a row policy
#                  and a mask), which runs no event code whatever the setting
#
# Each variant runs with meshpg.events on and off (a superuser setting made
# for this measure), in alternating rounds (on, off, on, off, ...), every
# statement its own transaction; the figure is the median of the rounds'
# per-statement CPU times of the backend (it runs the statements, the
# commits and the events' WAL messages and notifications), and the ratio
# on / off.  wal_level = logical, so an
# event also writes its decoding message (the worst case: with a lower
# wal_level no message is written).  Target: <= 1.03 for publish and
# grant_access; about 1.00 for the read.
#
# Environment: BENCH_ROUNDS (default 9), BENCH_OPS (statements per round,
# default 200), BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROUNDS=${BENCH_ROUNDS:-9}
OPS=${BENCH_OPS:-200}

trap bench_on_exit EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
# Both variants pay the same commit cost: none (this measures the work done).
meshpg_cluster_start "synchronous_commit = off" "wal_level = logical" "shared_buffers = 256MB"

psql_bench() { meshpg_psql -d bench -v ON_ERROR_STOP=1 -q "$@"; }
now_ns() { date +%s%N; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "setting up: 20 products, 50 consumers"
psql_bench -o /dev/null <<'SQL'
CREATE EXTENSION meshpg;
CREATE ROLE ev_team;
CREATE ROLE ev_reader LOGIN;
SELECT format('CREATE ROLE ev_consumer_%s', i) FROM generate_series(1, 50) i \gexec
SELECT meshpg.create_domain('shop', 'ev_team');
SELECT meshpg.create_tag('pii');
SELECT meshpg.create_masking_policy('pii_hash', 'hash', tag => 'pii');
SELECT meshpg.set_attribute('ev_reader', 'region', '{EU}');
SELECT format($f$CREATE TABLE shop.t%s (id int PRIMARY KEY, email text, region text, amount numeric);
INSERT INTO shop.t%s SELECT g, 'user' || g || '@example.com', CASE WHEN g %% 2 = 0 THEN 'EU' ELSE 'US' END, g
  FROM generate_series(1, 1000) g;
ALTER TABLE shop.t%s OWNER TO ev_team;
SELECT meshpg.register_product('shop', 't%s', 'shop.t%s', description => 'Table %s');
SELECT meshpg.publish('shop.t%s', '1.0.0');
SELECT meshpg.tag_column('shop.t%s', 'email', 'pii');$f$, i, i, i, i, i, i, i, i)
  FROM generate_series(1, 20) i \gexec
SELECT meshpg.create_row_policy('eu_only', 'region = ANY (meshpg.attribute(''region''))',
                                product => 'shop.t1');
SELECT meshpg.grant_access('shop.t1', 'ev_reader');
ANALYZE;
SQL

# scripts: OPS statements, each its own transaction, with events on or off,
# between two readings of the backend's own CPU time (/proc/self/schedstat:
# nanoseconds on a CPU), which the other users of a loaded machine disturb
# far less than the elapsed time
cpu_ns="SELECT split_part(pg_read_file('/proc/self/schedstat'), ' ', 1);"
gen() {   # KIND ON|OFF ROUND
    echo "SET meshpg.events = $2;"
    echo "$cpu_ns"
    echo '\o /dev/null'
    case $1 in
    publish) for ((k = 0; k < OPS; k++)); do
                 echo "SELECT meshpg.publish('shop.t$((k % 20 + 1))');"
             done ;;
    grant)   for ((k = 0; k < OPS; k++)); do
                 echo "SELECT meshpg.grant_access('shop.t$((k % 20 + 1))', 'ev_consumer_$(((k + $3) % 50 + 1))', purpose => 'round $3');"
             done ;;
    read)    echo "SET ROLE ev_reader;"
             for ((k = 0; k < OPS; k++)); do
                 echo "SELECT count(*), max(email) FROM shop.t1 WHERE amount > $((k % 100));"
             done
             echo "RESET ROLE;" ;;
    esac
    echo '\o'
    echo "$cpu_ns"
}
run() {   # KIND ON|OFF ROUND -> CPU microseconds per statement
    local file=$MESHPG_TMP/ev_$1_$2_$3.sql out
    gen "$1" "$2" "$3" | put "$file"
    out=$(psql_bench -At -f "$file")
    awk -v n="$OPS" 'NR == 1 { a = $1 } END { printf "%.2f\n", ($1 - a) / 1000 / n }' <<<"$out"
}

declare -A times
for kind in publish grant read; do
    run "$kind" on 0 >/dev/null    # warm-up
    run "$kind" off 0 >/dev/null
    for ((r = 1; r <= ROUNDS; r++)); do
        if ((r % 2)); then order="on off"; else order="off on"; fi
        for v in $order; do
            times[$kind.$v]+="$(run "$kind" "$v" "$r") "
        done
    done
    meshpg_log "$kind: on ${times[$kind.on]}| off ${times[$kind.off]}"
done

events=$(psql_bench -At -c "SELECT count(*) FROM meshpg.cat_event")

echo
echo "meshpg events benchmark: $ROUNDS rounds x $OPS statements per variant, alternating on/off"
echo "PostgreSQL $("$MESHPG_PG_BIN/postgres" --version | awk '{print $3}'), $(nproc) cores; wal_level = logical, synchronous_commit = off"
echo
printf '%-40s %12s %12s %8s %8s\n' "" "events on" "events off" ratio target
for kind in publish grant read; do
    on=$(tr ' ' '\n' <<<"${times[$kind.on]}" | median)
    off=$(tr ' ' '\n' <<<"${times[$kind.off]}" | median)
    r=$(ratio "$on" "$off")
    case $kind in
    publish) label="publish, backend CPU us/statement"; lim=1.03 ;;
    grant) label="grant_access, backend CPU us/statement"; lim=1.03 ;;
    read) label="consumer read, backend CPU us/statement"; lim=1.03 ;;
    esac
    printf '%-40s %12s %12s %8s %8s\n' "$label" "$on" "$off" "$r" "<= $lim $(verdict "$r" '<=' "$lim")"
done
echo
echo "ratio = events on / events off (medians of the rounds).  Events written: $events."
echo "A read runs no event code: the setting only shows that the figures are noise-level."
