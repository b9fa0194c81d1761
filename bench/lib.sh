# shellcheck shell=bash
# bench/lib.sh: helpers the benchmarks share.  Source it after
# scripts/lib.sh; it does nothing on its own.
#
#   bench_on_exit            EXIT trap: on failure, the end of the server
#                            log; then stop the throwaway cluster
#   put FILE                 stdin to FILE, readable by the server's user
#   median                   the median of the numbers on stdin ("nan" if none)
#   ratio A B                A / B to three places ("nan" unless both are > 0)
#   verdict VALUE OP LIMIT   "ok" or "MISS", OP being >= or <= ("-" for nan)

bench_on_exit() {
    local rc=$?
    if [ "$rc" -ne 0 ] && [ -n "${MESHPG_TMP:-}" ] && [ -f "$MESHPG_TMP/server.log" ]; then
        meshpg_err "failed (exit $rc); last lines of the server log:"
        tail -n 30 "$MESHPG_TMP/server.log" >&2 || true
    fi
    meshpg_cluster_stop
}

put() { cat >"$1"; chmod 644 "$1"; }

median() { sort -g | awk 'NF { v[++n] = $1 } END { if (n == 0) { print "nan"; exit }
                               if (n % 2) print v[(n + 1) / 2];
                               else print (v[n / 2] + v[n / 2 + 1]) / 2 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else print "nan" }'; }

verdict() { awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    if (v "" == "nan") { print "-"; exit }
    ok = (op == ">=") ? (v >= l) : (v <= l); print ok ? "ok" : "MISS" }'; }
