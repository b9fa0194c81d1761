# shellcheck shell=bash
# scripts/lib.sh: helpers shared by scripts/test.sh, scripts/demo.sh and
# bench/*.sh.  Source it (after setting MESHPG_ROOT, the repo root); it does
# nothing on its own.
#
#   meshpg_install_deps      apt-get install what the build and tests need
#   meshpg_build             make (warnings are errors: see Makefile)
#   meshpg_install           make install (as root, or through sudo)
#   meshpg_run_as_pg CMD...  run CMD as a user PostgreSQL accepts: `postgres`
#                            when we are root, else ourselves
#   meshpg_cluster_start     initdb + start a throwaway cluster that preloads
#                            meshpg; sets MESHPG_TMP, MESHPG_PGDATA,
#                            MESHPG_PGPORT
#   meshpg_cluster_stop      stop it and remove its directory
#   meshpg_psql ARGS...      psql against that cluster
#   meshpg_ensure_citus      build and install Citus for the multi-node tests
#                            when it is missing and ../shared/vendor has it

: "${MESHPG_ROOT:?set MESHPG_ROOT to the repo root before sourcing lib.sh}"

MESHPG_PG_MAJOR=15
# MESHPG_PG_BIN may point at a relocated copy of the PostgreSQL 15 tree, so
# that several work trees can install and test side by side.
MESHPG_PG_BIN=${MESHPG_PG_BIN:-/usr/lib/postgresql/$MESHPG_PG_MAJOR/bin}
# Debian's /usr/bin/pg_config may belong to another major: name ours.
MESHPG_PG_CONFIG=$MESHPG_PG_BIN/pg_config
MESHPG_PACKAGES=(postgresql-15 postgresql-server-dev-15 libicu-dev libyaml-dev sqlsmith
                 libipc-run-perl pkg-config make gcc)
# the mesh events' decoding test (test/t/070_events_decoding.pl) reads them with wal2json
MESHPG_PACKAGES+=(postgresql-15-wal2json)

meshpg_log() { printf '==> %s\n' "$*"; }
meshpg_err() { printf 'error: %s\n' "$*" >&2; }

meshpg_is_root() { [ "$(id -u)" -eq 0 ]; }

# Run a command as root: directly when we are root, else through sudo.
# Without sudo, try as ourselves (the target may be writable), and say why
# if that fails.
meshpg_as_root() {
    if meshpg_is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        "$@" || {
            meshpg_err "failed without root (no sudo here): $*"
            return 1
        }
    fi
}

# Install the Debian packages that are missing.  apt-get update runs only
# when something is missing, so a ready machine is not touched.
meshpg_install_deps() {
    local missing=() p
    for p in "${MESHPG_PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        meshpg_log "packages present: ${MESHPG_PACKAGES[*]}"
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        meshpg_err "missing packages (${missing[*]}) and no apt-get: install them by hand"
        return 1
    fi
    meshpg_log "installing: ${missing[*]}"
    meshpg_as_root apt-get update -q || return 1
    meshpg_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${MESHPG_PACKAGES[@]}" || return 1
}

meshpg_build() {
    meshpg_log "make"
    make -C "$MESHPG_ROOT" -j"$(nproc 2>/dev/null || echo 2)" PG_CONFIG="$MESHPG_PG_CONFIG"
}

meshpg_install() {
    meshpg_log "make install"
    meshpg_as_root make -C "$MESHPG_ROOT" install PG_CONFIG="$MESHPG_PG_CONFIG"
}

# The user that runs servers and clients: PostgreSQL refuses to run as root,
# so root hands over to `postgres` (created by the postgresql-common package).
meshpg_pg_user() {
    if meshpg_is_root; then echo postgres; else id -un; fi
}

meshpg_run_as_pg() {
    if meshpg_is_root; then
        # From /, so that the server and psql never try to read root's cwd.
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# A TCP port nobody listens on.  Our clusters listen on a Unix socket in their
# own directory only, so this just keeps clear of anything on the machine
# (such as Debian's 15/main cluster on 5432).
meshpg_free_port() {
    local port tries=0
    while [ $tries -lt 100 ]; do
        port=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
        tries=$((tries + 1))
    done
    return 1
}

# Start a throwaway cluster preloading meshpg.  Extra postgresql.conf lines
# may be passed as arguments.
meshpg_cluster_start() {
    MESHPG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/meshpg-XXXXXX") || return 1
    chmod 700 "$MESHPG_TMP"
    if meshpg_is_root; then chown postgres: "$MESHPG_TMP"; fi
    MESHPG_PGDATA=$MESHPG_TMP/data
    MESHPG_PGPORT=$(meshpg_free_port) || { meshpg_err "no free port"; return 1; }
    export MESHPG_TMP MESHPG_PGDATA MESHPG_PGPORT

    meshpg_log "initdb in $MESHPG_PGDATA (port $MESHPG_PGPORT, socket in $MESHPG_TMP)"
    meshpg_run_as_pg "$MESHPG_PG_BIN/initdb" -D "$MESHPG_PGDATA" -A trust -N \
        --encoding=UTF8 --no-locale >"$MESHPG_TMP/initdb.log" 2>&1 || {
        cat "$MESHPG_TMP/initdb.log" >&2
        meshpg_err "initdb failed"
        return 1
    }
    {
        echo "# added by scripts/lib.sh: a throwaway cluster"
        echo "listen_addresses = ''"
        echo "port = $MESHPG_PGPORT"
        echo "unix_socket_directories = '$MESHPG_TMP'"
        echo "shared_preload_libraries = 'meshpg'"
        echo "fsync = off"
        local line
        for line in "$@"; do echo "$line"; done
    } | meshpg_run_as_pg tee -a "$MESHPG_PGDATA/postgresql.conf" >/dev/null

    meshpg_run_as_pg "$MESHPG_PG_BIN/pg_ctl" -D "$MESHPG_PGDATA" \
        -l "$MESHPG_TMP/server.log" -w -t 60 start >/dev/null || {
        tail -n 50 "$MESHPG_TMP/server.log" >&2
        meshpg_err "the server did not start (log above)"
        return 1
    }
}

meshpg_cluster_stop() {
    [ -n "${MESHPG_TMP:-}" ] && [ -d "$MESHPG_TMP" ] || return 0
    if [ -f "$MESHPG_PGDATA/postmaster.pid" ]; then
        meshpg_run_as_pg "$MESHPG_PG_BIN/pg_ctl" -D "$MESHPG_PGDATA" -m fast -w stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$MESHPG_TMP"
    MESHPG_TMP=
}

meshpg_psql() {
    meshpg_run_as_pg "$MESHPG_PG_BIN/psql" -X -h "$MESHPG_TMP" -p "$MESHPG_PGPORT" "$@"
}

# Unset libpq variables from the caller's environment, so nothing (PGHOST,
# PGPORT, PGDATABASE, ...) steers our tools to another server.
meshpg_clean_pg_env() {
    local v
    for v in $(compgen -e); do
        case $v in PG*) unset "$v" ;; esac
    done
}

# The Citus build script beside the work tree (the test command's multi-node
# suite and bench/citus.sh need Citus, which Debian does not package).
meshpg_citus_script() {
    local script=${MESHPG_CITUS_BUILD_SCRIPT:-$MESHPG_ROOT/../shared/vendor/build-citus.sh}
    [ -f "$script" ] && (cd "$(dirname "$script")" && echo "$PWD/$(basename "$script")")
}

# Debian's chromium, for the catalog page's browser test (test/t/041_site.pl).
# Best effort: when it cannot be installed, that test skips its browser part
# and says so.
meshpg_ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    command -v apt-get >/dev/null 2>&1 || return 1
    meshpg_log "installing chromium (the catalog page's browser test)"
    meshpg_as_root apt-get update -q >/dev/null || return 1
    meshpg_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends chromium >/dev/null || return 1
}

# Citus installed in our PostgreSQL: 0 when it is (or was just built), 1 when
# the build failed, 2 when it is missing and there is no script to build it.
meshpg_ensure_citus() {
    local libdir script
    libdir=$("$MESHPG_PG_CONFIG" --pkglibdir) || return 1
    [ -f "$libdir/citus.so" ] && return 0
    script=$(meshpg_citus_script) || return 2
    [ -n "$script" ] || return 2
    # gssapi headers: postgresql-server-dev-15 does not pull them in
    # without recommends, and Citus includes them
    if [ "$(dpkg-query -W -f='${db:Status-Status}' libkrb5-dev 2>/dev/null)" != installed ]; then
        meshpg_log "installing libkrb5-dev (Citus build)"
        meshpg_as_root apt-get update -q >/dev/null || return 1
        meshpg_as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends libkrb5-dev || return 1
    fi
    meshpg_log "building Citus with $script (a few minutes)"
    meshpg_as_root env PG_CONFIG="$MESHPG_PG_CONFIG" timeout 900 bash "$script" || return 1
    [ -f "$libdir/citus.so" ]
}
