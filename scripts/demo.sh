#!/usr/bin/env bash
# scripts/demo.sh: from nothing to a running data mesh.  Installs what is
# missing (apt), builds and installs meshpg, starts a throwaway cluster that
# preloads it, runs scripts/demo.sql, draws the mesh map, then stops the
# cluster and removes it, whatever happens.
#
# The terminal shows numbered steps with one status line each; everything
# the steps print (apt, the compiler, the server) goes to the log file, and
# the walkthrough (every statement of scripts/demo.sql with its result) to
# the transcript file.  On a failure the end of the log is shown.
#
#   MESHPG_DEMO_KEEP=1     leave the cluster running at the end and print how
#                          to connect to it and how to stop it
#   MESHPG_DEMO_VERBOSE=1  print the walkthrough on the terminal as well
#   MESHPG_DEMO_LOG        the log file (default ./meshpg-demo.log)
#   MESHPG_DEMO_OUT        the transcript (default ./meshpg-demo.out)
#   MESHPG_DEMO_MAP        the mesh map, the lineage of every product drawn
#                          as SVG (default ./meshpg-mesh-map.svg; graphviz
#                          is installed if missing)

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
meshpg_clean_pg_env

LOG=${MESHPG_DEMO_LOG:-$PWD/meshpg-demo.log}
OUT=${MESHPG_DEMO_OUT:-$PWD/meshpg-demo.out}
MAP=${MESHPG_DEMO_MAP:-$PWD/meshpg-mesh-map.svg}
: >"$LOG"
: >"$OUT"
STEPS=8
step_no=0

# step TITLE COMMAND...: runs COMMAND with its output in the log, and
# prints "[n/8] TITLE ... ok (Ns)", or the end of the log and stops.
step() {
    local title=$1 start rc
    shift
    step_no=$((step_no + 1))
    printf '[%d/%d] %-44s ' "$step_no" "$STEPS" "$title"
    echo "==== [$step_no/$STEPS] $title" >>"$LOG"
    start=$SECONDS
    rc=0
    "$@" >>"$LOG" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "FAILED"
        echo "---- last lines of $LOG:"
        tail -n 30 "$LOG"
        echo "---- the whole log: $LOG"
        exit "$rc"
    fi
    echo "ok ($((SECONDS - start))s)"
}

cleanup() {
    if [ "${MESHPG_DEMO_KEEP:-0}" = 1 ] && [ -n "${MESHPG_TMP:-}" ] &&
        [ -f "$MESHPG_PGDATA/postmaster.pid" ]; then
        local who=
        meshpg_is_root && who="runuser -u postgres -- "
        echo
        echo "The cluster is still running (MESHPG_DEMO_KEEP=1).  Connect to it with:"
        echo "    ${who}$MESHPG_PG_BIN/psql -h $MESHPG_TMP -p $MESHPG_PGPORT -d demo"
        echo "  and try, for example:"
        echo "    SELECT product, state, version, description FROM meshpg.products;"
        echo "    SET ROLE analyst_eu; SELECT * FROM meshpg.search('tasks');"
        echo "Stop and remove it with:"
        echo "    ${who}$MESHPG_PG_BIN/pg_ctl -D $MESHPG_PGDATA stop && rm -rf $MESHPG_TMP"
        return
    fi
    meshpg_cluster_stop >>"$LOG" 2>&1 || true
}
trap cleanup EXIT

run_walkthrough() {
    meshpg_psql -d postgres -q -c 'CREATE DATABASE demo'
    # The file goes through stdin: the `postgres` user may not be able to
    # read the work tree.
    meshpg_psql -d demo -v ON_ERROR_STOP=1 -v dotfile="$MESHPG_TMP/mesh.dot" -a -f - \
        <"$MESHPG_ROOT/scripts/demo.sql" >"$OUT" 2>&1 || {
        echo "the walkthrough stopped; its end:"
        tail -n 30 "$OUT"
        return 1
    }
}

# Debian's PostgreSQL 15.20 and later decode only with the output plugins
# output_plugin_libraries lists (older servers do not know the setting).
allow_port_plugin() {
    if [ "$(meshpg_psql -d postgres -Atc "SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'")" = 1 ]; then
        meshpg_psql -d postgres -q -c 'ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, meshpg' \
            -c 'SELECT pg_reload_conf()' >/dev/null
    fi
}

# The mesh map: graphviz only for the demo, so it is not in MESHPG_PACKAGES.
draw_map() {
    if ! command -v dot >/dev/null 2>&1; then
        meshpg_log "installing graphviz for the mesh map"
        meshpg_as_root apt-get update -q
        meshpg_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends graphviz
    fi
    meshpg_run_as_pg cat "$MESHPG_TMP/mesh.dot" | dot -Tsvg -o "$MAP"
}

echo "meshpg demo: a small data mesh for a marketplace, in a throwaway cluster"
echo "(the full log is $LOG)"
step "install missing packages (apt)" meshpg_install_deps
step "build meshpg" meshpg_build
step "install meshpg into PostgreSQL" meshpg_install
# logical decoding for the output port of the walkthrough's last part
step "start a cluster that preloads meshpg" meshpg_cluster_start "wal_level = logical"
step "let meshpg's plugin decode (output ports)" allow_port_plugin
step "run the walkthrough (scripts/demo.sql)" run_walkthrough
step "draw the mesh map (graphviz)" draw_map
step "check the map" test -s "$MAP"

echo
echo "Done.  What happened, statement by statement: $OUT"
echo "  (domains and products created, policies defined, what a consumer sees,"
echo "   who read what, and the lineage between products)"
echo "The mesh map, every product and what it is built from: $MAP"
echo "  (open it in a web browser)"
if [ "${MESHPG_DEMO_VERBOSE:-0}" = 1 ]; then
    echo
    cat "$OUT"
fi
if [ "${MESHPG_DEMO_KEEP:-0}" != 1 ]; then
    echo "The cluster is removed now; run with MESHPG_DEMO_KEEP=1 to keep it and connect to it."
fi
