#!/usr/bin/env bash
# bench/history.sh: the cost of the access history on the point-lookup
# workload of bench/governance.sh (B1), beside pgaudit logging READ on the
# same table, measured side by side in one run on one throwaway cluster that
# preloads both meshpg and pgaudit.
#
# The product is bench_dom.customers of bench/governance_setup.sql (row
# policy + two masks for the consumer).  pgbench, BENCH_CLIENTS clients, as
# the consumer, -M prepared, SELECT id, email, card, region, amount ... WHERE
# id = :id.  Four variants, interleaved (each round starting one variant
# later), BENCH_REPEAT rounds of BENCH_SECONDS s each; each ratio is the
# median over the rounds of that round's ratio (the two variants of a round
# ran minutes apart at most, under the same load):
#   off      meshpg.history = off, pgaudit.log = none
#   capture  meshpg.history = on, nothing flushing during the run (the ring
#            is drained between runs, untimed): the cost on the query path.
#            It runs a fixed number of lookups that the ring holds (90% of
#            its slots) rather than BENCH_SECONDS, so that it drops none: a
#            dropped read costs less than a recorded one
#   history  meshpg.history = on, and meshpg's background worker moving the
#            captured reads into meshpg.cat_access_batch as they come
#            (meshpg.scheduler = on, worker_naptime 1 s, and the ring waking
#            it when half full): its CPU is part of the cost.  The worker
#            runs, idle, in the other variants too (but capture), so that
#            its start is no variant's cost
#   pgaudit  meshpg.history = off, pgaudit.log = 'read' (one log line per
#            statement, to the server log)
# pgaudit is loaded in every variant (with pgaudit.log = none it only runs
# its hooks), so each ratio isolates what is switched on.
#
# The machine has 2 cores and others may be using it: figures are noisy.
# The variants are interleaved so that drift hits them alike; read the
# ratios, not the absolute TPS.  Between runs (untimed) a CHECKPOINT and a
# sync write back what the last run left (pgaudit's log, the history's
# pages), so that it does not land in the next variant's run.  Beside TPS,
# each run reports the CPU time of all server processes per lookup, from
# /proc, including the flush of everything it captured: another process on
# the machine slows TPS far more than it changes that figure.
#
# Many short rounds beat a few long ones on a loaded machine: a burst of
# load spoils one round's ratio, not the median.
#
# Environment: BENCH_PAIRS (0) paired rounds, see below; BENCH_ROWS
# (default 100000), BENCH_SECONDS (5),
# BENCH_REPEAT (7), BENCH_CLIENTS (2), BENCH_SKIP_BUILD=1 to use the meshpg
# already installed; BENCH_VARIANTS to run some of the variants only (for
# example "off history"), and BENCH_RING for another ring size in slots
# (the default ring, 16384, with "off history": what a server as installed
# pays).

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-100000}
SECS=${BENCH_SECONDS:-5}
REPEAT=${BENCH_REPEAT:-7}
CLIENTS=${BENCH_CLIENTS:-2}
for v in ${BENCH_VARIANTS:-}; do
    case $v in
        off | capture | history | pgaudit) ;;
        *) meshpg_err "BENCH_VARIANTS: unknown variant '$v' (off, capture, history, pgaudit)"; exit 1 ;;
    esac
done
case ${BENCH_RING:-1048576} in
    '' | *[!0-9]*) meshpg_err "BENCH_RING must be a whole number of slots"; exit 1 ;;
esac
for v in ROWS SECS REPEAT CLIENTS; do
    case ${!v} in
        '' | *[!0-9]*) meshpg_err "BENCH_$v must be a whole number, not '${!v}'"; exit 1 ;;
    esac
done
if [ "$ROWS" -lt 3 ] || [ "$SECS" -lt 1 ] || [ "$REPEAT" -lt 1 ] || [ "$CLIENTS" -lt 1 ]; then
    meshpg_err "need BENCH_ROWS >= 3 and every other count >= 1"
    exit 1
fi
VISIBLE=$((ROWS / 3))

trap bench_on_exit EXIT

# pgaudit, for this benchmark only (not a dependency of meshpg).
MESHPG_PACKAGES+=(postgresql-15-pgaudit)
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
fi
# pgaudit is needed for its variant; without it (and without that variant
# asked for) the other variants run without pgaudit loaded at all.
AUDIT=1
if [ ! -f "$("$MESHPG_PG_CONFIG" --pkglibdir)/pgaudit.so" ]; then
    case " ${BENCH_VARIANTS:-off capture history pgaudit} " in
        *" pgaudit "*)
            meshpg_err "pgaudit is not installed for $MESHPG_PG_CONFIG"
            meshpg_err "install postgresql-15-pgaudit (or copy pgaudit.so and extension/pgaudit* into that tree),"
            meshpg_err "or leave the pgaudit variant out (BENCH_VARIANTS=\"off capture history\")"
            exit 1 ;;
    esac
    AUDIT=0
    meshpg_log "pgaudit is not installed: running without it"
fi
PRELOAD="meshpg, pgaudit"
[ "$AUDIT" = 1 ] || PRELOAD="meshpg"

# The largest ring (128 MB) by default: the capture variant must not drop.
RING=${BENCH_RING:-1048576}
meshpg_cluster_start "synchronous_commit = off" "shared_buffers = 512MB" "jit = off" \
    "max_connections = 50" "shared_preload_libraries = '$PRELOAD'" \
    "meshpg.history_buffer_size = $RING" \
    "meshpg.databases = 'bench'" "meshpg.worker_naptime = 1" "meshpg.scheduler = off"

psql_as() { local role=$1; shift; meshpg_psql -d bench -U "$role" -v ON_ERROR_STOP=1 -q "$@"; }

meshpg_psql -d postgres -q -c 'CREATE DATABASE bench'
meshpg_log "loading $ROWS rows (bench/governance_setup.sql)"
psql_as postgres -o /dev/null -v rows="$ROWS" -f - <"$MESHPG_ROOT/bench/governance_setup.sql"
[ "$AUDIT" = 0 ] || psql_as postgres -o /dev/null -c 'CREATE EXTENSION pgaudit' -c "ALTER SYSTEM SET pgaudit.log = 'none'" \
    -c 'SELECT pg_reload_conf()'
psql_as postgres -o /dev/null <<'SQL'
-- Drains the ring (between runs, untimed).
CREATE PROCEDURE public.bench_drain() LANGUAGE plpgsql AS $$
BEGIN
    WHILE meshpg.flush_access_history() > 0 LOOP
        COMMIT;
    END LOOP;
END $$;
SQL

printf '\\set id 3 * random(1, %d)\nSELECT id, email, card, region, amount FROM bench_dom.customers WHERE id = :id;\n' \
    "$VISIBLE" | put "$MESHPG_TMP/lookup.sql"

# variant NAME: settings for the consumer's new sessions
variant() {
    local history=off audit=none
    case $1 in
        history | capture) history=on ;;
        pgaudit) audit=read ;;
    esac
    psql_as postgres -c "ALTER ROLE bench_consumer SET meshpg.history = $history"
    [ "$AUDIT" = 0 ] || psql_as postgres -c "ALTER ROLE bench_consumer SET pgaudit.log = '$audit'"
}

# scheduler on|off: the background worker, and wait until it has started or stopped
scheduler() {
    local want=0
    [ "$1" = on ] && want=1
    psql_as postgres -c "ALTER SYSTEM SET meshpg.scheduler = $1" -c 'SELECT pg_reload_conf()' >/dev/null
    for _ in $(seq 100); do
        [ "$(psql_as postgres -At -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'meshpg worker'")" = "$want" ] && return 0
        sleep 0.1
    done
    meshpg_err "the meshpg worker did not turn $1"
    return 1
}

log_bytes() { meshpg_run_as_pg stat -c %s "$MESHPG_TMP/server.log"; }

# server_ticks: CPU clock ticks the server has used so far: the postmaster,
# its children that have exited (which it has waited for), and the live ones
server_ticks() {
    local pm
    pm=$(head -n 1 "$MESHPG_PGDATA/postmaster.pid")
    # without the command, fields 13-16 are utime, stime, cutime and cstime
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } | sed 's/^\([0-9]*\) (.*) /\1 /' |
        awk -v pm="$pm" '$1 == pm { t += $13 + $14 + $15 + $16 }
                         $3 == pm { t += $13 + $14 } END { print t }'
}
stats() { psql_as postgres -At -F ' ' -c 'SELECT captured, dropped, flushed FROM meshpg.access_history_stats'; }

run() {   # NAME -> "TPS server-µs-per-lookup"
    local out=$MESHPG_TMP/pgbench_$1.out length=(-T "$SECS") t0 t1
    [ "$1" != capture ] || length=(-t $((RING * 9 / 10 / CLIENTS)))
    variant "$1"
    # The worker runs in every variant but capture (which must not flush):
    # idle where nothing is captured, so that starting it, which costs a
    # short round on a loaded machine several per cent, is no variant's cost.
    if [ "$1" = capture ]; then scheduler off; else scheduler on; fi
    t0=$(server_ticks)
    if ! meshpg_run_as_pg "$MESHPG_PG_BIN/pgbench" -h "$MESHPG_TMP" -p "$MESHPG_PGPORT" \
            -U bench_consumer -n -c "$CLIENTS" -j "$CLIENTS" "${length[@]}" -M prepared \
            -f "$MESHPG_TMP/lookup.sql" bench >"$out" 2>&1; then
        cat "$out" >&2
        meshpg_err "pgbench failed: $1"
        return 1
    fi
    tm=$(server_ticks)
    psql_as postgres -c 'CALL public.bench_drain()'
    t1=$(server_ticks)
    # Untimed: what this run left for the disks (pgaudit's log, the history's
    # pages and WAL) is not written back during the next variant's run.
    psql_as postgres -c 'CHECKPOINT'
    sync
    # the drain is counted: every variant pays for flushing all it captured
    awk -v ticks=$((t1 - t0)) -v drain=$((t1 - tm)) -v hz="$(getconf CLK_TCK)" '
        /^number of transactions actually processed: / { n = $6 }
        /^tps = / { tps = $3 }
        END { printf "%s %.3f %.3f\n", tps, ticks / hz * 1e6 / n, drain / hz * 1e6 / n }' "$out"
}

# Sanity: the consumer's reads are recorded with the policies applied.
variant history
psql_as bench_consumer -o /dev/null -c 'SELECT email FROM bench_dom.customers WHERE id = 3'
psql_as postgres -o /dev/null -c 'SELECT meshpg.flush_access_history()'
recorded=$(psql_as postgres -At -c "SELECT columns::text || ' ' || masks::text || ' ' || row_policies::text
                                      FROM meshpg.access_history ORDER BY read_at DESC LIMIT 1")
meshpg_log "a recorded read: $recorded"
case $recorded in
    *email*mask*) ;;
    *) meshpg_err "the consumer's read was not recorded with its mask"; exit 1 ;;
esac

# --- paired rounds: history on and off at the same moment ---
# Interleaved runs still see different load when other work on the machine
# comes and goes within seconds.  In a paired round, two pgbench runs go at
# once, one as a consumer with history on, one as a twin consumer (same
# grant, same attribute) with history off, meshpg's worker flushing as it
# comes: both see the same load at every moment, so their ratio does not
# move with it.  The roles swap sides every round.  The flush worker's CPU
# is taken from both sides alike here; the sequential history / off ratio
# above charges it to history alone.  BENCH_PAIRS rounds (0: none).
PAIRS=${BENCH_PAIRS:-0}
case $PAIRS in '' | *[!0-9]*) meshpg_err "BENCH_PAIRS must be a whole number"; exit 1 ;; esac
declare -a PAIR_RATIOS=()
if [ "$PAIRS" -gt 0 ]; then
    psql_as postgres -o /dev/null <<'SQL'
CREATE ROLE bench_twin LOGIN;
SELECT meshpg.set_attribute('bench_twin', 'region', '{EU}');
SET ROLE bench_owner;
SELECT meshpg.grant_access('bench_dom.customers', 'bench_twin');
RESET ROLE;
SQL
    half=$(( CLIENTS / 2 > 0 ? CLIENTS / 2 : 1 ))
    scheduler on
    for ((r = 1; r <= PAIRS; r++)); do
        if [ $((r % 2)) = 1 ]; then on=bench_consumer off=bench_twin; else on=bench_twin off=bench_consumer; fi
        psql_as postgres -c "ALTER ROLE $on SET meshpg.history = on" -c "ALTER ROLE $off SET meshpg.history = off"
        for role in "$on" "$off"; do
            meshpg_run_as_pg "$MESHPG_PG_BIN/pgbench" -h "$MESHPG_TMP" -p "$MESHPG_PGPORT" \
                -U "$role" -n -c "$half" -j "$half" -T "$SECS" -M prepared \
                -f "$MESHPG_TMP/lookup.sql" bench >"$MESHPG_TMP/pair_$role.out" 2>&1 &
        done
        wait
        t_on=$(awk '/^tps = / { print $3 }' "$MESHPG_TMP/pair_$on.out")
        t_off=$(awk '/^tps = / { print $3 }' "$MESHPG_TMP/pair_$off.out")
        if [ -z "$t_on" ] || [ -z "$t_off" ]; then
            cat "$MESHPG_TMP/pair_$on.out" "$MESHPG_TMP/pair_$off.out" >&2
            meshpg_err "pgbench failed in paired round $r"
            exit 1
        fi
        PAIR_RATIOS+=("$(ratio "$t_on" "$t_off")")
        meshpg_log "pair $r/$PAIRS: history on ($on) $t_on TPS, off ($off) $t_off TPS, ratio ${PAIR_RATIOS[-1]}"
    done
    psql_as postgres -c 'CALL public.bench_drain()' -c "ALTER ROLE bench_twin RESET meshpg.history"
fi

declare -A TPS CPU DRAIN AUDIT_BYTES RTPS
read -r cap0 drop0 flushed0 <<<"$(stats)"
read -r -a VARIANTS <<<"${BENCH_VARIANTS:-off capture history pgaudit}"
for ((r = 1; r <= REPEAT; r++)); do
    # each round starts one variant later: no variant always follows another
    for ((k = 0; k < ${#VARIANTS[@]}; k++)); do
        n=${VARIANTS[(k + r - 1) % ${#VARIANTS[@]}]}
        if [ "$n" = capture ]; then
            meshpg_log "run $r/$REPEAT: $n ($((RING * 9 / 10)) lookups)"
        else
            meshpg_log "run $r/$REPEAT: $n ($SECS s)"
        fi
        b0=$(log_bytes)
        read -r t c d <<<"$(run "$n")"
        b1=$(log_bytes)
        TPS[$n]="${TPS[$n]:-} $t"
        RTPS[$n,$r]=$t
        CPU[$n]="${CPU[$n]:-} $c"
        DRAIN[$n]="${DRAIN[$n]:-} $d"
        [ "$n" != pgaudit ] || AUDIT_BYTES[$r]=$((b1 - b0))
        printf '    %s TPS, %s µs of server CPU per lookup (%s of it flushing after the run)\n' "$t" "$c" "$d"
    done
done
psql_as postgres -o /dev/null -c 'SELECT meshpg.flush_access_history()'
read -r cap1 drop1 flushed1 <<<"$(stats)"
read -r rows reads bytes <<<"$(psql_as postgres -At -F ' ' -c "SELECT count(*), coalesce(sum(reads), 0),
    pg_total_relation_size('meshpg.cat_access_batch') FROM meshpg.cat_access_batch")"
audit_lines=$(meshpg_run_as_pg grep -c 'AUDIT: SESSION' "$MESHPG_TMP/server.log" || true)

declare -A MED MEDCPU
for n in off capture history pgaudit; do
    # a variant left out of BENCH_VARIANTS has no figures ("nan")
    TPS[$n]=${TPS[$n]:-} CPU[$n]=${CPU[$n]:-} DRAIN[$n]=${DRAIN[$n]:-}
    # shellcheck disable=SC2086
    MED[$n]=$(printf '%s\n' ${TPS[$n]} | median)
    # shellcheck disable=SC2086
    MEDCPU[$n]=$(printf '%s\n' ${CPU[$n]} | median)
done
# shellcheck disable=SC2086
DRAIN_CAPTURE=$(printf '%s\n' ${DRAIN[capture]} | median)
# round_ratios A B: A / B of each round (the two ran next to each other,
# under the same load), one a line
round_ratios() {
    local r
    for ((r = 1; r <= REPEAT; r++)); do
        if [ -n "${RTPS[$1,$r]:-}" ] && [ -n "${RTPS[$2,$r]:-}" ]; then
            ratio "${RTPS[$1,$r]}" "${RTPS[$2,$r]}"
            echo
        fi
    done
    return 0
}
# The ratios are medians of the per-round ratios: on a loaded machine the
# load moves both variants of a round alike, and a round hit by a burst
# moves the median of ratios less than it moves the medians of TPS.
r_cap=$(round_ratios capture off | median)
r_hist=$(round_ratios history off | median)
r_audit=$(round_ratios pgaudit off | median)
r_vs=$(round_ratios history pgaudit | median)
for v in r_cap r_hist r_audit r_vs; do
    [ "${!v}" = nan ] || printf -v "$v" '%.3f' "${!v}"
done
# the ratio of the medians, as before, for comparison
m_cap=$(ratio "${MED[capture]}" "${MED[off]}")
m_hist=$(ratio "${MED[history]}" "${MED[off]}")
f1() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
line() { printf '  %-58s %14s %10s\n' "$@"; }

echo
echo "meshpg access history benchmark: point lookups on a governed product ($ROWS rows)"
echo "PostgreSQL $("$MESHPG_PG_BIN/postgres" --version | awk '{print $3}'), $(nproc) cores; pgbench -M prepared," \
     "$CLIENTS clients, median TPS of $REPEAT x $SECS s, variants interleaved"
echo "(noisy: a shared 2-core machine; compare the ratios)"
echo
line "variant" "median TPS" "runs"
line "off (history off, pgaudit.log none)" "$(f1 "${MED[off]}")" "${TPS[off]# }"
line "capture (history on, flushed after the run)" "$(f1 "${MED[capture]}")" "${TPS[capture]# }"
line "history on, flushed as it comes" "$(f1 "${MED[history]}")" "${TPS[history]# }"
line "pgaudit.log = read" "$(f1 "${MED[pgaudit]}")" "${TPS[pgaudit]# }"
echo
echo "Ratios: the median over rounds of each round's ratio (rounds: $REPEAT)"
line "capture / off: the query path (target >= 0.97)" "$r_cap $(verdict "$r_cap" '>=' 0.97)" \
    "$(round_ratios capture off | tr '\n' ' ')"
line "history / off: with the flush (target >= 0.97)" "$r_hist $(verdict "$r_hist" '>=' 0.97)" \
    "$(round_ratios history off | tr '\n' ' ')"
line "pgaudit / off" "$r_audit" ""
line "history / pgaudit (target >= 1.00: no more costly)" "$r_vs $(verdict "$r_vs" '>=' 1.00)" ""
line "(ratio of the median TPS: capture / off, history / off)" "$m_cap $m_hist" ""
if [ "$PAIRS" -gt 0 ]; then
    r_pair=$(printf '%s\n' "${PAIR_RATIOS[@]}" | median)
    [ "$r_pair" = nan ] || printf -v r_pair '%.3f' "$r_pair"
    echo "Paired rounds ($PAIRS x $SECS s, history on and off at the same moment, flush as it comes):"
    line "history on / off, median of the rounds (target >= 0.97)" "$r_pair $(verdict "$r_pair" '>=' 0.97)" \
        "${PAIR_RATIOS[*]}"
fi
echo
echo "Server CPU per lookup (all server processes, flushing included; less noisy than TPS):"
line "variant" "median µs" "runs"
for n in off capture history pgaudit; do
    line "$n" "$(awk -v v="${MEDCPU[$n]}" 'BEGIN { printf "%.3f", v }')" "${CPU[$n]# }"
done
line "  of which the flush after the capture run" "$(awk -v v="$DRAIN_CAPTURE" 'BEGIN { printf "%.3f", v }')" "${DRAIN[capture]# }"
line "ratio off / capture (as a TPS ratio would be)" "$(ratio "${MEDCPU[off]}" "${MEDCPU[capture]}")" ""
line "ratio off / history" "$(ratio "${MEDCPU[off]}" "${MEDCPU[history]}")" ""
line "ratio off / pgaudit" "$(ratio "${MEDCPU[off]}" "${MEDCPU[pgaudit]}")" ""
echo
echo "What each recorded:"
echo "  history: $((cap1 - cap0)) reads captured, $((drop1 - drop0)) dropped (ring full), $((flushed1 - flushed0)) flushed;"
echo "           $reads reads in $rows rows of meshpg.cat_access_batch ($(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1048576 }') MB), each read"
echo "           with role, session role, columns, masks and row policies applied, purpose,"
echo "           rows returned and query id"
echo "  pgaudit: $audit_lines log lines (statement text and relation, no columns, policies or purpose);"
echo "           $(printf '%s\n' "${AUDIT_BYTES[@]:-0}" | awk '{ s += $1 } END { printf "%.1f", s / 1048576 }') MB of server log"
