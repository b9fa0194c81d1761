#!/usr/bin/env bash
# scripts/demo.sh: from nothing to a running data mesh.  Installs what is
# missing (apt), builds and installs meshpg, starts a throwaway cluster that
# preloads it, runs scripts/demo.sql with every statement echoed, then stops
# the cluster and removes it, whatever happens.
#
# MESHPG_DEMO_KEEP=1 leaves the cluster running at the end and prints how to
# connect to it (stop it with the pg_ctl command printed).
#
# The demo ends with the mesh map: the lineage of every product as Graphviz
# DOT, rendered to an SVG (graphviz is installed if missing) at
# MESHPG_DEMO_MAP (default ./meshpg-mesh-map.svg).

set -eu -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
meshpg_clean_pg_env

cleanup() {
    if [ "${MESHPG_DEMO_KEEP:-0}" = 1 ] && [ -n "${MESHPG_TMP:-}" ]; then
        meshpg_log "cluster left running: psql -h $MESHPG_TMP -p $MESHPG_PGPORT -d demo"
        meshpg_log "stop it with: $MESHPG_PG_BIN/pg_ctl -D $MESHPG_PGDATA stop; rm -rf $MESHPG_TMP"
        return
    fi
    meshpg_cluster_stop
}
trap cleanup EXIT

meshpg_install_deps
meshpg_build
meshpg_install
# shellcheck disable=SC2119 # no extra settings
meshpg_cluster_start

meshpg_psql -d postgres -q -c 'CREATE DATABASE demo'
meshpg_log "running scripts/demo.sql"
echo
# The file goes through stdin: the `postgres` user may not be able to read
# the work tree.
meshpg_psql -d demo -v ON_ERROR_STOP=1 -v dotfile="$MESHPG_TMP/mesh.dot" -a -f - \
    <"$MESHPG_ROOT/scripts/demo.sql"
echo

# The mesh map: graphviz only for the demo, so it is not in MESHPG_PACKAGES.
MAP=${MESHPG_DEMO_MAP:-$PWD/meshpg-mesh-map.svg}
if ! command -v dot >/dev/null 2>&1; then
    meshpg_log "installing graphviz for the mesh map"
    meshpg_as_root apt-get update -q >/dev/null
    meshpg_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends graphviz >/dev/null
fi
meshpg_run_as_pg cat "$MESHPG_TMP/mesh.dot" | dot -Tsvg -o "$MAP"
meshpg_log "mesh map: $MAP"
meshpg_log "demo finished"
