#!/usr/bin/env bash
# scripts/check-layers.sh: checks that the code obeys meshpg's layers
# (doc/architecture.md).  scripts/test.sh runs it as the suite "layers".
#
#   1. Includes run one way: a file under src/<folder>/ (or a header under
#      src/include/meshpg/<folder>/) includes meshpg headers of its own
#      layer or of layers below it, never above.  Headers directly in
#      src/include/meshpg/ (meshpg.h, hooks.h) are the base every layer
#      may include; src/*.c (the entry point and the hook owner) is the top.
#      meshpg's headers are included as "meshpg/<folder>/<name>.h": an
#      include that names one by its old path, or a missing one, is an error.
#   2. One owner for the hooks: only src/hooks.c assigns a PostgreSQL hook
#      variable (`something_hook = ...`).
#
# Output: one line "ok N - ..." or "not ok N - ..." per check (TAP), the
# offending lines under a failing check; exit 1 when a check fails.
#
# Usage: scripts/check-layers.sh [TREE]   (the repository root by default)

set -u -o pipefail

# The layers, bottom first: one line per layer, its folders under src/.
# Folders on one line are peers: they may include each other.  A folder
# that is not listed is an error (place it when you add it).
LAYERS=(
    "text"                       # ICU: normalisation, folding, confusables
    "catalog"                    # meshpg's tables, the backend cache, SQL-call helpers
    "policy"                     # the policy model, its compiler, the kind tables, explain_access
    "masks"                      # the mask functions
    "citus"                      # the cluster: Citus tables and shards, the catalog sent to the
                                 # other nodes (the catalog reaches it through a registration)
    "governance"                 # enforcement: planner, executor, statistics, functions, COPY
    "events"                     # mesh events: the kinds table of types, emission (outbox, logical
                                 # decoding message, NOTIFY), the outbox's pruning
    "registry contract slo"      # the SQL surface: domains, products, grants, DDL guards; contracts,
                                 # descriptors; SLOs (declaration, evaluation, change tracking, the gate)
    "lineage"                    # lineage: derivation, graph, tag propagation
    "history"                    # the access history (records lineage as it captures)
    "worker"                     # the background worker (SLO scheduler, history flush)
)

ROOT=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$ROOT" || exit 1

# PostgreSQL's server headers: an include that names one of them (say its
# own "catalog/catalog.h") is PostgreSQL's, not an old path of meshpg's.
PG_CONFIG_BIN=${MESHPG_PG_BIN:+$MESHPG_PG_BIN/pg_config}
PG_CONFIG_BIN=${PG_CONFIG_BIN:-$(command -v pg_config || true)}
PG_INCLUDE=
[ -n "$PG_CONFIG_BIN" ] && [ -x "$PG_CONFIG_BIN" ] && PG_INCLUDE=$("$PG_CONFIG_BIN" --includedir-server)

declare -A RANK=()
for i in "${!LAYERS[@]}"; do
    for f in ${LAYERS[$i]}; do RANK[$f]=$((i + 1)); done
done
TOP=$((${#LAYERS[@]} + 1))

# rank_of PATH: the layer of a source or header file (0: base, TOP: top);
# prints nothing for an unknown folder.
rank_of() {
    local p=$1 folder
    case $p in
    src/include/meshpg/*/*) folder=${p#src/include/meshpg/}; folder=${folder%%/*} ;;
    src/include/meshpg/*) echo 0; return ;;
    src/*/*) folder=${p#src/}; folder=${folder%%/*} ;;
    src/*) echo "$TOP"; return ;;
    *) return ;;
    esac
    [ -n "${RANK[$folder]:-}" ] && echo "${RANK[$folder]}"
}

layer_name() {
    local r=$1
    if [ "$r" -eq 0 ]; then echo "base"
    elif [ "$r" -eq "$TOP" ]; then echo "top"
    else echo "${LAYERS[$((r - 1))]}"; fi
}

include_errors=()
nfiles=0
nincludes=0
while IFS= read -r file; do
    nfiles=$((nfiles + 1))
    from=$(rank_of "$file")
    if [ -z "$from" ]; then
        include_errors+=("$file: its folder is in no layer (add it to LAYERS in scripts/check-layers.sh)")
        continue
    fi
    while IFS=: read -r line inc; do
        [ -n "$inc" ] || continue
        if [[ $inc == meshpg/* ]]; then
            nincludes=$((nincludes + 1))
            if [ ! -f "src/include/$inc" ]; then
                include_errors+=("$file:$line: \"$inc\" does not exist")
                continue
            fi
            to=$(rank_of "src/include/$inc")
            if [ -z "$to" ]; then
                include_errors+=("$file:$line: \"$inc\" is in no layer")
            elif [ "$to" -gt "$from" ]; then
                include_errors+=("$file:$line: includes \"$inc\" ($(layer_name "$to")) from below it ($(layer_name "$from"))")
            fi
        elif { [ -f "src/include/meshpg/$inc" ] || [ -f "src/$inc" ]; } &&
            { [ -z "$PG_INCLUDE" ] || [ ! -f "$PG_INCLUDE/$inc" ]; }; then
            include_errors+=("$file:$line: \"$inc\" is meshpg's: include it as \"meshpg/$inc\"")
        fi
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" |
        sed -E 's/^([0-9]+):[^"]*"([^"]*)".*/\1:\2/')
done < <(find src -name '*.[ch]' | sort)

hook_errors=()
while IFS= read -r hit; do
    hook_errors+=("$hit: installs a hook outside src/hooks.c (add a step to src/hooks.c instead)")
done < <(grep -nE '^[[:space:]]*[A-Za-z_]+_hook[[:space:]]*=[^=]' $(find src -name '*.c' ! -path src/hooks.c | sort) 2>/dev/null)

status=0
if [ ${#include_errors[@]} -eq 0 ]; then
    echo "ok 1 - includes follow the layers ($nfiles files, $nincludes meshpg includes)"
else
    echo "not ok 1 - includes follow the layers"
    printf '#   %s\n' "${include_errors[@]}"
    status=1
fi
if [ ${#hook_errors[@]} -eq 0 ]; then
    echo "ok 2 - hooks are installed only in src/hooks.c"
else
    echo "not ok 2 - hooks are installed only in src/hooks.c"
    printf '#   %s\n' "${hook_errors[@]}"
    status=1
fi
exit $status
