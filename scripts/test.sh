#!/usr/bin/env bash
# scripts/test.sh: install what is missing, build, install, then run every
# suite (pg_regress, isolation, TAP) against throwaway clusters that preload
# meshpg.  All suites run even when one fails.  The last line printed is
# "N passed, N failed"; the exit code is non-zero if anything failed or a
# suite could not run.
#
# Counting: pg_regress and isolation count one per test, docs one per
# example block of README.md and doc/*.md; TAP counts one per
# assertion, and a test script that dies or exits badly without a failing
# assertion counts as one more failure.  A suite that runs no test counts as
# one failure.
#
# Environment: MESHPG_TEST_KEEP=1 keeps the work directory even on success.
# MESHPG_TEST_SUITES="layers regress isolation security tap docs" picks
# suites (all by default).  "layers" is scripts/check-layers.sh: includes
# follow the layers of doc/architecture.md, hooks are installed only in
# src/hooks.c; one count per check.

set -u -o pipefail

MESHPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$MESHPG_ROOT/scripts/lib.sh"
meshpg_clean_pg_env

# Per-suite time limits (seconds): on an idle machine each suite takes well
# under two minutes (TAP, with the Citus and federation scripts, about three);
# the limits leave room for a loaded machine and still stop a hung run.  A
# Citus build, once per machine, takes about 4 minutes more.
TIMEOUT_REGRESS=${MESHPG_TIMEOUT_REGRESS:-240}
TIMEOUT_ISOLATION=${MESHPG_TIMEOUT_ISOLATION:-120}
TIMEOUT_TAP=${MESHPG_TIMEOUT_TAP:-600}
TIMEOUT_DOCS=${MESHPG_TIMEOUT_DOCS:-120}
SUITES=${MESHPG_TEST_SUITES:-layers regress isolation security tap docs}

passed=0
failed=0
WORK=
summary=()

# Print the closing line and exit; nothing may be printed after it.
finish() {
    local code=0
    trap - EXIT INT TERM
    stop_leftover_servers
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "$failed" -eq 0 ] && [ "${MESHPG_TEST_KEEP:-0}" != 1 ]; then
            rm -rf "$WORK"
        else
            echo "work directory kept: $WORK"
        fi
    fi
    if [ ${#summary[@]} -gt 0 ]; then
        echo "---------------- summary ----------------"
        printf '%s\n' "${summary[@]}"
    fi
    [ "$failed" -eq 0 ] || code=1
    echo "$passed passed, $failed failed"
    exit "$code"
}
trap 'failed=$((failed + 1)); summary+=("interrupted"); finish' INT TERM
trap 'finish' EXIT

# A step that could not run at all counts as one failure.
abort() {
    summary+=("$1: FAILED (could not run)")
    failed=$((failed + 1))
    finish
}

# Servers a killed suite may have left behind: stop them by their data dir.
stop_leftover_servers() {
    [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
    local pidfile
    while IFS= read -r pidfile; do
        meshpg_run_as_pg "$MESHPG_PG_BIN/pg_ctl" -D "$(dirname "$pidfile")" \
            -m immediate stop >/dev/null 2>&1 || true
    done < <(find "$WORK" -name postmaster.pid 2>/dev/null)
}

# Print a file, cut to its first (head) or last (tail) N lines.
show_file() {
    local file=$1 max=$2 end=${3:-head} n
    [ -s "$file" ] || return 0
    n=$(wc -l <"$file")
    echo "----- $file ($n lines)"
    if [ "$n" -le "$max" ]; then
        cat "$file"
    elif [ "$end" = head ]; then
        head -n "$max" "$file"
        echo "----- ... $((n - max)) more lines in $file"
    else
        echo "----- ... first $((n - max)) lines of $file left out"
        tail -n "$max" "$file"
    fi
}

# pg_regress / pg_isolation_regress (PostgreSQL 15 format):
#   test init                         ... ok           45 ms
#        names                        ... FAILED       12 ms     (parallel group)
count_regress() {
    local log=$1
    local line='^(test[[:space:]]+|[[:space:]]+)[^[:space:]]+[[:space:]]+\.\.\.( |$)' total
    total=$(grep -cE "$line" "$log")
    REG_PASS=$(grep -E "$line" "$log" | grep -cE '\.\.\.[[:space:]]+(ok|failed \(ignored\))( |$)')
    # FAILED, and a test that pg_regress could not finish (no status).
    REG_FAIL=$((total - REG_PASS))
}

# prove -v output: per file a header "t/x.pl .. ", then TAP lines; the
# "Test Summary Report" names every file that failed, died or had a bad plan.
# Sets TAP_PASS, TAP_FAIL, TAP_BAD (files that failed) and TAP_DIED (files
# that failed without a failing assertion: each counts as one failure).
count_tap() {
    local log=$1 out
    out=$(awk '
        /^[^ #].*\.pl \.\.+( |$)/ { cur = $1; next }
        /^ok [0-9]+/ { pass++; next }
        /^not ok [0-9]+/ {
            if ($0 ~ /# *TODO/) pass++; else { fail++; nfail[cur]++; bad[cur] = 1 }
            next
        }
        /^[^ ].*\.pl +\(Wstat: / { bad[$1] = 1; next }
        /^(Dubious, test returned|No subtests run)/ { if (cur != "") bad[cur] = 1; next }
        END {
            for (f in bad) {
                all = all " " f
                if (!(f in nfail)) { fail++; died = died " " f }
            }
            printf "%d %d|%s|%s\n", pass, fail, all, died
        }' "$log")
    IFS='|' read -r out TAP_BAD TAP_DIED <<<"$out"
    read -r TAP_PASS TAP_FAIL <<<"$out"
    # no log at all (the work directory went away): nothing passed
    TAP_PASS=${TAP_PASS:-0} TAP_FAIL=${TAP_FAIL:-0}
}

# run_suite SUITE LIMIT MISSING [make arguments]: MISSING tests of the suite
# have no input file; they count as failed, and the rest run.
run_suite() {
    local suite=$1 limit=$2 nmiss=$3 log rc p f
    shift 3
    log=$WORK/$suite.log
    echo
    meshpg_log "suite $suite (limit ${limit}s)"
    meshpg_run_as_pg timeout -k 20 "$limit" \
        make -C "$TREE" "check-$suite" PG_CONFIG="$MESHPG_PG_CONFIG" "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    stop_leftover_servers

    if [ "$suite" = tap ]; then
        count_tap "$log"
        p=$TAP_PASS f=$TAP_FAIL
        [ -z "$TAP_DIED" ] || echo "TAP scripts that died or exited badly:$TAP_DIED"
    else
        count_regress "$log"
        p=$REG_PASS f=$REG_FAIL
    fi
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "suite $suite: killed after ${limit}s"
        f=$((f + 1))
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "suite $suite: exit code $rc without a failing test: counted as one failure"
        f=1
    elif [ "$rc" -eq 0 ] && [ $((p + f)) -eq 0 ]; then
        echo "suite $suite: ran no test: counted as one failure"
        f=1
    fi
    record "$suite" "$p" $((f + nmiss)) "exit code $rc"
    [ "$f" -eq 0 ] || show_failure "$suite"
}

record() {
    passed=$((passed + $2))
    failed=$((failed + $3))
    summary+=("$(printf '%-10s %4d passed, %d failed (%s)' "$1" "$2" "$3" "$4")")
}

show_failure() {
    local f base server_log
    echo
    echo "================ $1: details ================"
    case $1 in
    regress)
        show_file "$TREE/test/regress/regression.diffs" 3000 head
        show_file "$TREE/test/regress/log/postmaster.log" 60 tail
        ;;
    isolation)
        show_file "$TREE/test/isolation/regression.diffs" 3000 head
        show_file "$TREE/test/isolation/log/postmaster.log" 60 tail
        ;;
    security)
        show_file "$TREE/test/security/regression.diffs" 3000 head
        show_file "$TREE/test/security/log/postmaster.log" 60 tail
        ;;
    tap)
        # For each failed script: its own log, then the end of its servers' logs.
        for f in $TAP_BAD; do
            base=$(basename "$f" .pl)
            show_file "$TREE/tmp_check/log/regress_log_$base" 400 tail
            for server_log in "$TREE/tmp_check/log/${base}"_*.log; do
                [ -f "$server_log" ] && show_file "$server_log" 80 tail
            done
        done
        echo "----- all TAP logs: $TREE/tmp_check/log/"
        ;;
    docs)
        show_file "$TREE/test/docs/docs.diffs" 3000 head
        ;;
    esac
    echo "================ end of $1 details ================"
}

cd "$MESHPG_ROOT" || abort "cd $MESHPG_ROOT"

meshpg_install_deps || abort "installing packages"
meshpg_build || abort "make"
meshpg_install || abort "make install"

# The suites run in a copy of the tree: PostgreSQL will not run as root, so
# the copy belongs to `postgres` then; and the work tree stays clean.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/meshpg-test-XXXXXX") || abort "mktemp"
chmod 755 "$WORK"
TREE=$WORK/tree
mkdir "$TREE" || abort "mkdir $TREE"
tar -C "$MESHPG_ROOT" \
    --exclude=./.git --exclude='./tmp_check*' --exclude=./results \
    --exclude=./output_iso --exclude=./regression.diffs --exclude=./regression.out \
    --exclude='./test/*/results' --exclude='./test/*/regression.*' --exclude='./test/*/log' \
    --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
    -cf - . | tar -C "$TREE" -xf - || abort "copying the tree to $TREE"
# Tests listed in the Makefile.  A test whose input file is missing counts
# as failed and the others still run (pg_regress would stop at it).  A test
# without expected output runs, in the copy, against an empty file, so it
# fails with its whole output in the diffs (results/<test>.out is then the
# file to review and copy to expected/).  Each suite keeps its inputs and
# expected outputs in its own folder: test/regress/{sql,expected},
# test/isolation/{specs,expected}.
make_value() {
    # shellcheck disable=SC2016 # a make rule, not shell
    make -s --no-print-directory -C "$TREE" -f Makefile -f - "print-$1" \
        PG_CONFIG="$MESHPG_PG_CONFIG" <<<'print-%: ; @echo $($*)'
}
# select_tests VAR SUITE_DIR INPUT_DIR INPUT_EXT: sets RUN (tests to run),
# NMISSING.  Inputs are SUITE_DIR/INPUT_DIR/<t>.INPUT_EXT, expected outputs
# SUITE_DIR/expected/<t>.out.
select_tests() {
    local t dir=$2
    RUN=() NMISSING=0
    for t in $(make_value "$1"); do
        if [ ! -e "$TREE/$dir/$3/$t.$4" ]; then
            echo "$dir/$3/$t.$4 is missing: test $t counted as failed"
            NMISSING=$((NMISSING + 1))
            continue
        fi
        if [ ! -e "$TREE/$dir/expected/$t.out" ]; then
            echo "$dir/expected/$t.out is missing: test $t runs against an empty file"
            mkdir -p "$TREE/$dir/expected" && : >"$TREE/$dir/expected/$t.out"
        fi
        RUN+=("$t")
    done
}
select_tests REGRESS test/regress sql sql
REGRESS_RUN=("${RUN[@]}") REGRESS_MISSING=$NMISSING
select_tests ISOLATION test/isolation specs spec
ISOLATION_RUN=("${RUN[@]}") ISOLATION_MISSING=$NMISSING

if meshpg_is_root; then
    chown -R postgres: "$TREE" || abort "chown $TREE"
fi
meshpg_log "suites run as $(meshpg_pg_user) in $TREE"

for suite in $SUITES; do
    case $suite in
    layers)
        echo
        meshpg_log "suite layers"
        "$MESHPG_ROOT/scripts/check-layers.sh" "$TREE" 2>&1 | tee "$WORK/layers.log"
        p=$(grep -c '^ok ' "$WORK/layers.log")
        f=$(grep -c '^not ok ' "$WORK/layers.log")
        [ $((p + f)) -gt 0 ] || f=1
        record layers "$p" "$f" "scripts/check-layers.sh"
        ;;
    regress)
        if [ ${#REGRESS_RUN[@]} -gt 0 ]; then
            run_suite regress "$TIMEOUT_REGRESS" "$REGRESS_MISSING" REGRESS="${REGRESS_RUN[*]}"
        else
            record regress 0 $((REGRESS_MISSING > 0 ? REGRESS_MISSING : 1)) "no test to run"
        fi
        ;;
    isolation)
        if [ ${#ISOLATION_RUN[@]} -gt 0 ]; then
            run_suite isolation "$TIMEOUT_ISOLATION" "$ISOLATION_MISSING" ISOLATION="${ISOLATION_RUN[*]}"
        else
            record isolation 0 $((ISOLATION_MISSING > 0 ? ISOLATION_MISSING : 1)) "no test to run"
        fi
        ;;
    security)
        run_suite security "$TIMEOUT_REGRESS" 0
        ;;
    tap)
        meshpg_ensure_chromium ||
            meshpg_log "chromium could not be installed: test/t/041_site.pl skips its browser part"
        # The Citus scripts (test/t/05x_citus_*) need Citus: built here from
        # ../shared/vendor when missing; without it they skip and say why.
        meshpg_ensure_citus
        case $? in
        0) MESHPG_CITUS_BUILD_SCRIPT=$(meshpg_citus_script) ;;
        1) record citus 0 1 "Citus build failed"
           MESHPG_CITUS_BUILD_SCRIPT=$(meshpg_citus_script) ;;
        *) meshpg_log "Citus is not installed and ../shared/vendor/build-citus.sh is not at hand: the Citus TAP scripts skip"
           MESHPG_CITUS_BUILD_SCRIPT= ;;
        esac
        export MESHPG_CITUS_BUILD_SCRIPT
        run_suite tap "$TIMEOUT_TAP" 0 PROVE_FLAGS=-v
        ;;
    docs)
        run_suite docs "$TIMEOUT_DOCS" 0
        ;;
    *)
        abort "unknown suite '$suite'"
        ;;
    esac
done

finish
