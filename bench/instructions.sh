#!/usr/bin/env bash
# bench/instructions.sh: what governance costs per point lookup, counted in
# CPU instructions (valgrind --tool=callgrind), so that the figure does not
# depend on how busy the machine is.  Complements bench/governance.sh's
# pgbench TPS, which a shared 2-core machine makes noisy.
#
# The world is bench/governance_setup.sql (BENCH_ROWS rows, default 30000).
# A single-user backend, as the consumer, runs BENCH_LOOKUPS point lookups
# of each variant, in one process per variant:
#   raw      SELECT ... FROM raw.customers WHERE id = $1
#   meshpg   SELECT ... FROM bench_dom.customers WHERE id = $1  (governed)
#   minimum  the raw table with the row policy's qual and the two mask calls
#            typed into the query: the least any implementation does
#   nohist   meshpg with the access history off (meshpg.history = off), so
#            meshpg / nohist is what recording each read costs: every run
#            ends by flushing the access history, so its capture and its
#            flush are both counted (and no run leaves entries for the next
#            one to load)
# first as PREPAREd statements (EXECUTE: the cached plan), then as plain
# statements (parsed and planned each time).  The instruction count of a run
# without lookups is subtracted, so the figures are per lookup.
#
# meshpg / minimum is the cost of meshpg's hooks, catalog cache and checks;
# minimum / raw is the cost of filtering and masking as such.

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
# shellcheck source=bench/lib.sh
. "$MESHPG_ROOT/bench/lib.sh"
meshpg_clean_pg_env

ROWS=${BENCH_ROWS:-30000}
N=${BENCH_LOOKUPS:-2000}
if [ "$ROWS" -lt 3 ] || [ "$N" -lt 1 ]; then
    meshpg_err "need BENCH_ROWS >= 3 and BENCH_LOOKUPS >= 1"
    exit 1
fi
command -v valgrind >/dev/null 2>&1 || MESHPG_PACKAGES+=(valgrind)

trap bench_on_exit EXIT
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    meshpg_install_deps
    meshpg_build >/dev/null
    meshpg_install >/dev/null
elif ! command -v valgrind >/dev/null 2>&1; then
    meshpg_install_deps
fi
meshpg_cluster_start
meshpg_psql -d postgres -q -c "CREATE DATABASE bench"
meshpg_psql -d bench -q -v ON_ERROR_STOP=1 -v rows="$ROWS" -o /dev/null \
    -f - <"$MESHPG_ROOT/bench/governance_setup.sql"
meshpg_run_as_pg "$MESHPG_PG_BIN/pg_ctl" -D "$MESHPG_PGDATA" -m fast -w stop >/dev/null

COLS="id, email, card, region, amount"
MIN_COLS="id, meshpg.mask_email(email) AS email, meshpg.mask_partial(card, 0, 4, '*') AS card, region, amount"
declare -A FROM=(
    [raw]="SELECT $COLS FROM raw.customers WHERE id ="
    [meshpg]="SELECT $COLS FROM bench_dom.customers WHERE id ="
    [minimum]="SELECT $MIN_COLS FROM raw.customers WHERE region = 'EU' AND id ="
    [nohist]="SELECT $COLS FROM bench_dom.customers WHERE id ="
)
# BENCH_VARIANTS, BENCH_MODES: some of them only (for a quick profile)
read -r -a VARIANTS <<<"${BENCH_VARIANTS:-raw meshpg minimum nohist}"
read -r -a MODES <<<"${BENCH_MODES:-prepared simple}"

# script MODE VARIANT COUNT: the statements a single-user backend reads
script() {
    local mode=$1 v=$2 count=$3 i
    [ "$v" = nohist ] && echo "SET meshpg.history = off;"
    echo "SET ROLE bench_consumer;"
    [ "$mode" = prepared ] && echo "PREPARE p(bigint) AS ${FROM[$v]} \$1;"
    for ((i = 1; i <= count; i++)); do
        if [ "$mode" = prepared ]; then
            echo "EXECUTE p($((3 * i)));"
        else
            echo "${FROM[$v]} $((3 * i));"
        fi
    done
    echo "RESET ROLE;"
    echo "SELECT meshpg.flush_access_history();"
}

# instructions MODE VARIANT COUNT: instructions of the whole backend
instructions() {
    local f=$MESHPG_TMP/cg_$1_$2_$3
    script "$1" "$2" "$3" >"$f.sql"
    chmod 644 "$f.sql"
    meshpg_run_as_pg valgrind --tool=callgrind --callgrind-out-file="$f.out" \
        "$MESHPG_PG_BIN/postgres" --single -D "$MESHPG_PGDATA" bench <"$f.sql" >"$f.log" 2>&1
    awk '/Collected :/ { print $NF }' "$f.log"
}

declare -A PER
for m in prepared simple; do for v in raw meshpg minimum nohist; do PER[$m,$v]=0; done; done
for mode in "${MODES[@]}"; do
    for v in "${VARIANTS[@]}"; do
        meshpg_log "callgrind: $mode, $v, $N lookups"
        base=$(instructions "$mode" "$v" 0)
        total=$(instructions "$mode" "$v" "$N")
        PER[$mode,$v]=$(( (total - base) / N ))
    done
done

echo
echo "Instructions per point lookup (callgrind, single-user backend, consumer, $ROWS rows, $N lookups)"
printf '  %-40s %12s %12s\n' "" "prepared" "simple"
for v in "${VARIANTS[@]}"; do
    printf '  %-40s %12s %12s\n' "$v" "${PER[prepared,$v]:-}" "${PER[simple,$v]:-}"
done
printf '  %-40s %12s %12s\n' "meshpg / minimum (governance itself)" \
    "$(ratio "${PER[prepared,meshpg]}" "${PER[prepared,minimum]}")" \
    "$(ratio "${PER[simple,meshpg]}" "${PER[simple,minimum]}")"
printf '  %-40s %12s %12s\n' "minimum / raw (filtering and masking)" \
    "$(ratio "${PER[prepared,minimum]}" "${PER[prepared,raw]}")" \
    "$(ratio "${PER[simple,minimum]}" "${PER[simple,raw]}")"
printf '  %-40s %12s %12s\n' "meshpg / raw" \
    "$(ratio "${PER[prepared,meshpg]}" "${PER[prepared,raw]}")" \
    "$(ratio "${PER[simple,meshpg]}" "${PER[simple,raw]}")"
printf '  %-40s %12s %12s\n' "meshpg / nohist (history: capture, flush)" \
    "$(ratio "${PER[prepared,meshpg]}" "${PER[prepared,nohist]}")" \
    "$(ratio "${PER[simple,meshpg]}" "${PER[simple,nohist]}")"
echo "  (instruction counts: lower is cheaper; the single-user backend prints each row, the same for all)"

# BENCH_PROFILE=1: where the governed prepared lookup spends them, by
# function of meshpg.so (inclusive, per lookup: the run without lookups
# subtracted, so setup and the catalog's first load drop out)
profile() {   # FILE -> "instructions function" lines of meshpg's functions
    callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
        awk '$1 ~ /^[0-9,]+$/ { for (i = 2; i <= NF; i++) if ($i ~ /\/src\/.*\.c:/) {
                 gsub(",", "", $1); sub(/.*\/src\//, "src/", $i); print $1, $i; next } }'
}
if [ "${BENCH_PROFILE:-0}" = 1 ]; then
    echo
    echo "Profile of meshpg, prepared (inclusive instructions per lookup, functions of meshpg.so):"
    profile "$MESHPG_TMP/cg_prepared_meshpg_0.out" >"$MESHPG_TMP/prof0"
    profile "$MESHPG_TMP/cg_prepared_meshpg_$N.out" >"$MESHPG_TMP/prof1"
    awk -v n="$N" 'FNR == NR { base[$2] = $1; next } { d = ($1 - base[$2]) / n; if (d >= 30) printf "  %10d  %s\n", d, $2 }' \
        "$MESHPG_TMP/prof0" "$MESHPG_TMP/prof1" | sort -rn | uniq | awk 'NR <= 40'
fi
