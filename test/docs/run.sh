#!/usr/bin/env bash
# test/docs/run.sh: the `docs` suite.  Starts a throwaway cluster that
# preloads meshpg, runs every SQL example of README.md and doc/*.md through
# test/docs/run.pl, and stops the cluster.  Files run in the order a reader
# meets them: README.md, doc/README.md's table, then any other doc/*.md.
#
#   MESHPG_PG_BIN=... bash test/docs/run.sh [FILE.md...]
#
# Prints one line per example block ("test FILE:LINE ... ok"); failures are
# explained in test/docs/docs.diffs.  Exit code 0 when all passed.

set -u -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
meshpg_clean_pg_env
cd "$MESHPG_ROOT" || exit 2

if [ $# -gt 0 ]; then
    files=("$@")
else
    files=(README.md)
    # the table of doc/README.md, in its order
    while IFS= read -r f; do
        [ -f "doc/$f" ] && files+=("doc/$f")
    done < <(grep -oE '^\| \[[^]]+\]\(([a-z0-9_-]+\.md)\)' doc/README.md | sed -E 's/.*\(([^)]+)\)$/\1/')
    files+=(doc/README.md)
    for f in doc/*.md; do
        case " ${files[*]} " in *" $f "*) ;; *) files+=("$f") ;; esac
    done
fi

trap 'meshpg_cluster_stop' EXIT
# the times and dates the pages show are in UTC, in ISO style
meshpg_cluster_start "timezone = 'UTC'" "datestyle = 'iso, mdy'" >/dev/null || { echo "docs: could not start a cluster"; exit 2; }
perl test/docs/run.pl --psql "$MESHPG_PG_BIN/psql" \
    --connect "-h $MESHPG_TMP -p $MESHPG_PGPORT" --out test/docs "${files[@]}"
rc=$?

# doc/reference.md names every function, view and setting an installation
# has (one more test line).
if [ $# -eq 0 ]; then
    psql_c=("$MESHPG_PG_BIN/psql" -X -q -At -h "$MESHPG_TMP" -p "$MESHPG_PGPORT")
    "${psql_c[@]}" -d postgres -c 'CREATE DATABASE docs_coverage' &&
        objects=$("${psql_c[@]}" -d docs_coverage -c 'CREATE EXTENSION meshpg' -c "
            SELECT 'meshpg.' || proname FROM pg_proc WHERE pronamespace = 'meshpg'::regnamespace
            UNION SELECT 'meshpg.' || relname FROM pg_class
                   WHERE relnamespace = 'meshpg'::regnamespace AND relkind = 'v'
            UNION SELECT name FROM pg_settings WHERE name LIKE 'meshpg.%' ORDER BY 1") || objects=
    missing=()
    for o in $objects; do
        grep -qwF "$o" doc/reference.md || missing+=("$o")
    done
    if [ -n "$objects" ] && [ ${#missing[@]} -eq 0 ]; then
        printf 'test %-40s ... ok\n' "doc/reference.md:coverage"
    else
        printf 'test %-40s ... FAILED\n' "doc/reference.md:coverage"
        {
            echo "======== doc/reference.md:coverage"
            [ -n "$objects" ] || echo "could not list the objects of an installation"
            echo "doc/reference.md does not name these:"
            printf '    %s\n' "${missing[@]}"
        } >>test/docs/docs.diffs
        rc=1
    fi
fi
exit "$rc"
