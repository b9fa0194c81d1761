#!/usr/bin/env bash
# bench/pit.sh: the cost of point-in-time recording (the governance-history
# triggers of sql/1.4/45-point-in-time.sql) on the catalog calls it records,
# and on reads, measured side by side in one run on a throwaway cluster that
# preloads meshpg.
#
# Two databases, set up alike: "rec" as installed, "norec" with the history
# triggers disabled (ALTER TABLE ... DISABLE TRIGGER, as the superuser: the
# comparison's only switch; meshpg itself has none).  Per round, in each
# database (the order alternating from round to round), one batch of
# BENCH_OPS calls each, one transaction per call:
#   grant     meshpg.grant_access(product, role_i, purpose)
#   revoke    meshpg.revoke_access(product, role_i)
#   tag       meshpg.tag_column(product, c_i, tag)
#   untag     meshpg.untag_column(product, c_i, tag)
#   policy    meshpg.create_row_policy(p_i, ...) + meshpg.drop_policy(p_i)
#             (two calls, both recorded)
#   read      SELECT ... FROM product WHERE id = i as a consumer holding a
#             grant (row policy and mask in force), in one transaction
# The calls run in a procedure (bench/pit.sh creates it), each followed by
# its COMMIT, timed server-side: no client round trip in the figures.
# The figures are medians over BENCH_ROUNDS rounds of each batch's time:
# server-side elapsed time, and the backend's CPU time read from
# /proc/self/stat (the verdict's figure: on a loaded machine wall time moves
# far more than CPU time, and the triggers' cost is CPU in the backend that
# writes the catalog).  The ratio is rec / norec.  Target: <= 1.05 for the recorded calls, and
# reads unchanged (the triggers are on catalog writes only; the ratio shows
# the machine's noise).
#
# Environment: BENCH_OPS (default 200), BENCH_ROUNDS (default 7),
# BENCH_SKIP_BUILD=1 to use the meshpg already installed.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

OPS=${BENCH_OPS:-200}
ROUNDS=${BENCH_ROUNDS:-7}

trap bench_on_exit EXIT

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 256MB"

now_ns() { date +%s%N; }

meshpg_psql -d postgres -v ON_ERROR_STOP=1 -q -o /dev/null -v ops="$OPS" -f - <<'SQL'
CREATE ROLE pit_team;
CREATE ROLE pit_reader;
SELECT format('CREATE ROLE pit_c%s', g) FROM generate_series(1, :ops) g \gexec
CREATE DATABASE rec;
CREATE DATABASE norec;
SQL

setup_db() {
    meshpg_psql -d "$1" -v ON_ERROR_STOP=1 -q -o /dev/null -v ops="$OPS" -f - <<'SQL'
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('pit', 'pit_team');
SELECT format('CREATE TABLE pit.wide (id int PRIMARY KEY, region text, email text, %s)',
              string_agg(format('c%s int', g), ', ')) FROM generate_series(1, :ops) g \gexec
INSERT INTO pit.wide (id, region, email) SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END,
       'u' || g || '@example.com' FROM generate_series(1, 1000) g;
ALTER TABLE pit.wide OWNER TO pit_team;
SELECT meshpg.register_product('pit', 'wide', 'pit.wide', description => 'Wide');
SELECT meshpg.publish('pit.wide');
SELECT meshpg.create_tag('pit.col');
SELECT meshpg.create_tag('pit.email');
SELECT meshpg.create_masking_policy('pit_mask', 'email', tag => 'pit.email');
SELECT meshpg.tag_column('pit.wide', 'email', 'pit.email');
SELECT meshpg.create_row_policy('pit_eu', 'region = ''EU''', product => 'pit.wide');
SELECT meshpg.grant_access('pit.wide', 'pit_reader', purpose => 'bench');
SQL
}
setup_db rec
setup_db norec
meshpg_psql -d norec -v ON_ERROR_STOP=1 -q -c "
ALTER TABLE meshpg.cat_grant DISABLE TRIGGER cat_grant_history;
ALTER TABLE meshpg.cat_column_tag DISABLE TRIGGER cat_column_tag_history;
ALTER TABLE meshpg.cat_tag DISABLE TRIGGER cat_tag_history;
ALTER TABLE meshpg.cat_attribute DISABLE TRIGGER cat_attribute_history;
ALTER TABLE meshpg.cat_policy DISABLE TRIGGER cat_policy_history;"
# (the setup itself was recorded in both)
setup_versions=$(meshpg_psql -d norec -At -c "SELECT count(*) FROM meshpg.cat_governance_history")

# Each batch runs server-side, in a procedure: one transaction per call
# (COMMIT after each), the time of the call and its commit summed from
# clock_timestamp(), so that client round trips add no noise.
for db in rec norec; do
    meshpg_psql -d "$db" -v ON_ERROR_STOP=1 -q -f - <<'SQL'
-- CPU time of this backend so far, in clock ticks (utime + stime)
CREATE FUNCTION public.pit_cpu() RETURNS bigint LANGUAGE sql AS $f$
SELECT (f[14])::bigint + (f[15])::bigint
  FROM (SELECT string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ') AS f0) s,
       LATERAL (SELECT ARRAY['pid', 'comm'] || f0 AS f) a
$f$;
CREATE PROCEDURE public.pit_batch(kind text, n int, INOUT us bigint DEFAULT 0, INOUT ticks bigint DEFAULT 0)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    total interval := '0';
    c0 bigint := public.pit_cpu();
BEGIN
    IF kind = 'read' THEN
        SET LOCAL ROLE pit_reader;
    END IF;
    FOR i IN 1..n LOOP
        t0 := clock_timestamp();
        CASE kind
        WHEN 'grant' THEN
            PERFORM meshpg.grant_access('pit.wide', ('pit_c' || i)::regrole, purpose => 'p' || i);
        WHEN 'revoke' THEN
            PERFORM meshpg.revoke_access('pit.wide', ('pit_c' || i)::regrole);
        WHEN 'tag' THEN
            PERFORM meshpg.tag_column('pit.wide', 'c' || i, 'pit.col');
        WHEN 'untag' THEN
            PERFORM meshpg.untag_column('pit.wide', 'c' || i, 'pit.col');
        WHEN 'policy' THEN
            PERFORM meshpg.create_row_policy('pit_p' || i, 'id > ' || i, product => 'pit.wide');
            COMMIT;
            PERFORM meshpg.drop_policy('pit_p' || i);
        WHEN 'read' THEN
            PERFORM id, region, email FROM pit.wide WHERE id = (i * 7) % 1000 + 1;
        END CASE;
        IF kind <> 'read' THEN
            COMMIT;
        END IF;
        total := total + (clock_timestamp() - t0);
    END LOOP;
    us := (extract(epoch FROM total) * 1000000)::bigint;
    IF kind = 'read' THEN
        RESET ROLE;
    END IF;
    ticks := public.pit_cpu() - c0;
END
$$;
SQL
done

W=$MESHPG_TMP/pit
mkdir -p "$W"
KINDS="grant revoke tag untag policy read"
run_batch() {   # DB KIND -> "wall_us cpu_ticks"
    meshpg_psql -d "$1" -v ON_ERROR_STOP=1 -At -F ' ' -c "CALL public.pit_batch('$2', $OPS)"
}

# warm-up, untimed
for db in rec norec; do
    for k in $KINDS; do run_batch "$db" "$k" >/dev/null; done
done

meshpg_log "$ROUNDS rounds of $OPS calls per kind, rec and norec alternating"
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="rec norec"; else order="norec rec"; fi
    for k in $KINDS; do
        for db in $order; do
            read -r us ticks <<<"$(run_batch "$db" "$k")"
            echo "$us" >>"$W/$db.$k"
            echo "$ticks" >>"$W/$db.$k.cpu"
        done
    done
done

versions=$(meshpg_psql -d rec -At -c "SELECT count(*) FROM meshpg.cat_governance_history")
none=$(meshpg_psql -d norec -At -c "SELECT count(*) FROM meshpg.cat_governance_history")
if [ "$none" -ne "$setup_versions" ] || [ "$versions" -lt $((ROUNDS * OPS)) ]; then
    meshpg_err "expected history in rec only: rec $versions versions, norec $none"
    exit 1
fi

HZ=$(getconf CLK_TCK)
printf '\n%-8s %12s %12s %10s %12s %12s %10s %8s %s\n' kind "rec us" "norec us" "wall" \
    "rec cpu us" "norec cpu us" "cpu" target verdict
for k in $KINDS; do
    per=$OPS
    [ "$k" = policy ] && per=$((OPS * 2))
    m_rec=$(median <"$W/rec.$k")
    m_no=$(median <"$W/norec.$k")
    c_rec=$(median <"$W/rec.$k.cpu")
    c_no=$(median <"$W/norec.$k.cpu")
    ra=$(ratio "$m_rec" "$m_no")
    rc=$(ratio "$c_rec" "$c_no")
    printf '%-8s %12.1f %12.1f %10s %12.1f %12.1f %10s %8s %s\n' "$k" \
        "$(awk -v a="$m_rec" -v n="$per" 'BEGIN { print a / n }')" \
        "$(awk -v a="$m_no" -v n="$per" 'BEGIN { print a / n }')" "$ra" \
        "$(awk -v a="$c_rec" -v n="$per" -v hz="$HZ" 'BEGIN { print a * 1000000 / hz / n }')" \
        "$(awk -v a="$c_no" -v n="$per" -v hz="$HZ" 'BEGIN { print a * 1000000 / hz / n }')" "$rc" \
        "<= 1.05" "$(verdict "$rc" "<=" 1.05)"
done
echo "(per call; wall: server-side elapsed, cpu: the backend's CPU time from /proc, the verdict's"
echo " figure, as the machine's load moves wall time far more than CPU time; medians of $ROUNDS"
echo " rounds; history versions recorded in rec: $versions)"
