#!/usr/bin/env bash
# bench/retention.sh: a retention run deleting 10% of a product against the
# hand-written PostgreSQL equivalent, measured side by side in one run on a
# throwaway cluster that preloads meshpg, with a concurrent writer.
#
#   meshpg:  CALL meshpg.run_retention(product), a delete policy keeping
#            1 year; batches of 10,000 rows, each its own transaction
#   hand:    one plpgsql loop over the expired rows' ctids, 10,000 at a
#            time: DELETE ... WHERE ctid = ANY (batch); COMMIT
#   Both start from a fresh copy of the same table (every tenth row
#   expired, spread over the whole table) and alternate A B A B; the figure
#   is the median.  Target: meshpg / hand <= 1.5.
#   writer:  during every run, another session loops over short
#            transactions that insert a row and update an expired row (the
#            rows the run deletes).  Its longest lock wait comes from the
#            server log (log_lock_waits with deadlock_timeout = 10ms: every
#            wait longer than that is logged when the lock is acquired);
#            its longest statement is shown too (on a loaded machine it
#            includes waiting for a CPU).  Target: wait <= 200 ms for meshpg.
#
# Environment: BENCH_ROWS (default 5000000), BENCH_ROUNDS (default 2),
# BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

N=${BENCH_ROWS:-5000000}
ROUNDS=${BENCH_ROUNDS:-2}

trap bench_on_exit EXIT
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 512MB" "max_wal_size = 8GB" \
    "autovacuum = off" "log_lock_waits = on" "deadlock_timeout = 10ms"
psql_bench() { meshpg_psql -d bench -v ON_ERROR_STOP=1 -q "$@"; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "creating the template: $N rows, every tenth expired"
psql_bench -o /dev/null <<SQL
CREATE EXTENSION meshpg;
CREATE ROLE bench_team;
SELECT meshpg.create_domain('ops', 'bench_team');
CREATE TABLE public.template AS
SELECT i AS id, CASE WHEN i % 10 = 0 THEN now() - interval '2 years' ELSE now() END AS at,
       'payload ' || i AS payload
  FROM generate_series(1, $N) i;
CREATE TABLE public.stop (flag boolean);
-- the writer: short transactions until told to stop; the longest statement
CREATE PROCEDURE public.writer(tab regclass, INOUT longest_ms float8 DEFAULT 0,
                               INOUT pid int DEFAULT pg_backend_pid())
LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz;
    i int := 0;
BEGIN
    LOOP
        EXIT WHEN EXISTS (SELECT 1 FROM public.stop);
        i := i + 1;
        t0 := clock_timestamp();
        EXECUTE format('INSERT INTO %s VALUES (\$1, now(), \$2)', tab) USING -i, 'w';
        EXECUTE format('UPDATE %s SET payload = \$2 WHERE id = \$1', tab)
            USING (1 + (random() * ($N / 10 - 1))::int) * 10, 'w';
        longest_ms := greatest(longest_ms, extract(epoch FROM clock_timestamp() - t0) * 1000);
        COMMIT;
        PERFORM pg_sleep(0.005);
    END LOOP;
END
\$\$;
-- the hand-written reference
CREATE PROCEDURE public.hand_delete(tab regclass, cutoff timestamptz)
LANGUAGE plpgsql AS \$\$
DECLARE
    batch tid[];
BEGIN
    FOR batch IN EXECUTE format(
        'SELECT array_agg(ctid) FROM (SELECT ctid, (row_number() OVER () - 1) / 10000 AS b
                                         FROM %s WHERE at < \$1) s GROUP BY b', tab) USING cutoff
    LOOP
        EXECUTE format('DELETE FROM %s WHERE ctid = ANY (\$1) AND at < \$2', tab) USING batch, cutoff;
        COMMIT;
    END LOOP;
END
\$\$;
SQL

now_ms() { date +%s%3N; }
fresh() {
    psql_bench -o /dev/null <<SQL
DROP TABLE IF EXISTS ops.events;
SELECT meshpg.unregister_product('ops.events') FROM meshpg.products WHERE product = 'ops.events';
CREATE TABLE ops.events AS SELECT * FROM public.template;
ALTER TABLE ops.events ADD PRIMARY KEY (id);   -- the writer updates by key
ANALYZE ops.events;
TRUNCATE public.stop;
SQL
}
# run KIND: elapsed ms of the run, and the writer's longest statement
run() {
    local t0 t1 wfile=$MESHPG_TMP/writer.out
    fresh
    if [ "$1" = meshpg ]; then
        psql_bench -o /dev/null -c "SELECT meshpg.register_product('ops', 'events', 'ops.events');
            SELECT meshpg.create_retention_policy('events_1y', interval '1 year', 'at', product => 'ops.events');"
    fi
    local logpos
    logpos=$(wc -l <"$MESHPG_TMP/server.log")
    psql_bench -At -F ' ' -c "CALL public.writer('ops.events')" >"$wfile" &
    local wpid=$!
    sleep 0.5
    t0=$(now_ms)
    if [ "$1" = meshpg ]; then
        psql_bench -c "CALL meshpg.run_retention('ops.events')"
    else
        psql_bench -c "CALL public.hand_delete('ops.events', now() - interval '1 year')"
    fi
    t1=$(now_ms)
    psql_bench -c "INSERT INTO public.stop VALUES (true)"
    wait "$wpid"
    # rows the writer updated during the run may have moved past it: the
    # next run takes them; more than the writer could touch is a failure
    left=$(psql_bench -At -c "SELECT count(*) FROM ops.events WHERE at < now() - interval '1 year' AND payload <> 'w'")
    [ "$left" = 0 ] || { meshpg_err "$1 left $left expired rows the writer never touched"; exit 1; }
    read -r longest wpid <"$wfile"
    # the writer's lock waits, as the server logged them
    wmax=$(tail -n +"$((logpos + 1))" "$MESHPG_TMP/server.log" |
        sed -nE "s/.*process $wpid acquired .* after ([0-9.]+) ms.*/\1/p" | sort -g | tail -1)
    echo "$((t1 - t0)) ${wmax:-0} $longest"
}

declare -A ms wait stmt
for r in $(seq "$ROUNDS"); do
    for kind in meshpg hand; do
        read -r t w l < <(run "$kind")
        meshpg_log "round $r $kind: ${t} ms, writer's longest lock wait ${w} ms, longest statement ${l} ms"
        ms[$kind]+="$t " wait[$kind]+="$w " stmt[$kind]+="$l "
    done
done

echo
m=$(tr ' ' '\n' <<<"${ms[meshpg]}" | median)
h=$(tr ' ' '\n' <<<"${ms[hand]}" | median)
wm=$(tr ' ' '\n' <<<"${wait[meshpg]}" | sort -g | tail -1)
wh=$(tr ' ' '\n' <<<"${wait[hand]}" | sort -g | tail -1)
lm=$(tr ' ' '\n' <<<"${stmt[meshpg]}" | sort -g | tail -1)
lh=$(tr ' ' '\n' <<<"${stmt[hand]}" | sort -g | tail -1)
printf '%-8s %10s %26s %26s\n' "" "run (ms)" "writer's longest wait (ms)" "longest statement (ms)"
printf '%-8s %10s %26s %26s\n' meshpg "$m" "$wm" "$lm" hand "$h" "$wh" "$lh"
r=$(ratio "$m" "$h")
echo "deleting $((N / 10)) of $N rows: meshpg / hand = $r $(verdict "$r" "<=" 1.5)"
echo "longest lock wait of the writer under meshpg: $wm ms $(verdict "$wm" "<=" 200) (0: none over deadlock_timeout)"
