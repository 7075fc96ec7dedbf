#!/usr/bin/env bash
# Install what gotui's demo and test suite need, and only what is missing.
#
# Idempotent: a second run checks each step in a few milliseconds and prints
# "setup: nothing was missing". Each step that does something prints one line;
# a failure prints one line naming the step and the log with the details.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEBIAN_PACKAGES=(gdb tmux python3-bpfcc libbpfcc bpfcc-tools linux-headers-amd64
    golang-1.19-go openssh-server openssh-client bpftool procps gcc libc6-dev
    python3-venv pipx)
DLV_VERSION="1.27.2"
GO127="go1.27.3"
VENV="$ROOT/.venv"
STAMP="$VENV/.gotui-pyproject.sha256"
DISTRO_BCC="/usr/lib/python3/dist-packages/bcc"
LOG="$ROOT/.cache/setup.log"

export PATH="/usr/local/go/bin:$PATH"
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
did_something=0
start_ns=$(date +%s%N)

done_step() { echo "setup: $*"; did_something=1; }
fail() { echo "setup: FAILED: $* (details: ${LOG#"$ROOT"/})" >&2; exit 1; }
# run STEP-DESCRIPTION CMD...: run CMD with its output in the log, fail on error
run() { local what="$1"; shift; "$@" >>"$LOG" 2>&1 || fail "$what"; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "need root (or sudo) for: $*" >&2; return 1
    fi
}

step_debian_packages() {
    local missing=() pkg status
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
        [ "$status" = "install ok installed" ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    run "apt-get update" as_root apt-get update
    run "apt-get install ${missing[*]}" as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "${missing[@]}"
    done_step "installed Debian packages: ${missing[*]}"
}

step_go() {
    command -v go >/dev/null || fail "no 'go' on PATH or in /usr/local/go/bin (install Go 1.26)"
}

step_delve() {
    local dlv
    dlv="$(go env GOPATH)/bin/dlv"
    if [ -x "$dlv" ] && "$dlv" version 2>/dev/null | grep -q "Version: $DLV_VERSION\$"; then
        return
    fi
    run "go install dlv@v$DLV_VERSION" env GOFLAGS= GOTOOLCHAIN=local \
        go install "github.com/go-delve/delve/cmd/dlv@v$DLV_VERSION"
    done_step "installed dlv $DLV_VERSION at $dlv"
}

step_panicparse() {  # pp reads goroutine dumps; tests check gotui's dump with it
    [ -x "$(go env GOPATH)/bin/pp" ] && return
    run "go install panicparse pp@v2.5.0" env GOFLAGS= GOTOOLCHAIN=local \
        go install "github.com/maruel/panicparse/v2/cmd/pp@v2.5.0"
    done_step "installed panicparse (pp) v2.5.0"
}

step_go127() {
    local cached
    cached="$(go env GOMODCACHE)/golang.org/toolchain@v0.0.1-$GO127.linux-amd64/bin/go"
    [ -x "$cached" ] && return
    run "fetch Go toolchain $GO127" env GOTOOLCHAIN="$GO127" go version
    done_step "fetched Go toolchain $GO127"
}

step_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        command -v python3 >/dev/null || fail "no python3 on PATH (gotui needs Python 3.11+)"
        python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || fail "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); gotui needs Python 3.11+"
        run "python3 -m venv .venv" python3 -m venv "$VENV"
        done_step "created virtualenv .venv"
    fi
    local want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        return
    fi
    run "pip install -e '.[test]'" "$VENV/bin/pip" install --disable-pip-version-check -q -e '.[test]'
    echo "$want" >"$STAMP"
    done_step "installed gotui and its test dependencies into .venv"
}

# PyPI's "bcc" is an unrelated package: link the distro's bindings into the venv.
step_bcc() {
    local site
    site=$(echo "$VENV"/lib/python3*/site-packages)
    [ -d "$site" ] || fail "no site-packages in .venv"
    if [ -L "$site/bcc" ] && [ "$(readlink "$site/bcc")" = "$DISTRO_BCC" ]; then
        return
    fi
    [ -d "$DISTRO_BCC" ] || fail "$DISTRO_BCC missing (package python3-bpfcc)"
    if [ -e "$site/bcc" ] || [ -L "$site/bcc" ]; then
        run "remove PyPI's unrelated bcc" "$VENV/bin/pip" uninstall -y -q bcc
        rm -rf "${site:?}/bcc"
    fi
    run "link $DISTRO_BCC into .venv" ln -s "$DISTRO_BCC" "$site/bcc"
    done_step "linked the distro's BCC bindings into .venv"
}

# BCC compiles against /lib/modules/$(uname -r)/build; these kernels ship no headers
# package, so link the newest Debian headers tree (uprobe programs need only pt_regs).
step_kernel_headers() {
    local mods headers common
    mods="/lib/modules/$(uname -r)"
    [ -e "$mods/build" ] && return
    headers=$(find /usr/src -maxdepth 1 -name 'linux-headers-*-amd64' | sort -V | tail -n 1)
    [ -n "$headers" ] || fail "no /usr/src/linux-headers-*-amd64 tree (package linux-headers-amd64)"
    common="${headers%-amd64}-common"
    [ -d "$common" ] || fail "$common missing next to $headers"
    run "create $mods" as_root mkdir -p "$mods"
    run "link $mods/build" as_root ln -sfn "$headers" "$mods/build"
    run "link $mods/source" as_root ln -sfn "$common" "$mods/source"
    done_step "linked $headers as $mods/build (and -common as source)"
}

step_tracefs() {
    local dir=/sys/kernel/tracing
    [ -d "$dir" ] || return 0
    [ -n "$(ls -A "$dir" 2>/dev/null)" ] && return
    run "mount tracefs on $dir" as_root mount -t tracefs nodev "$dir"
    done_step "mounted tracefs on $dir"
}

# The e2e tests run a private sshd on loopback; the service unit would create this.
step_sshd_dir() {
    [ -d /run/sshd ] && return
    run "create /run/sshd" as_root install -d -m 0755 /run/sshd
    done_step "created /run/sshd (sshd's privilege separation directory)"
}

step_debian_packages
step_go
step_delve
step_panicparse
step_go127
step_venv
step_bcc
step_kernel_headers
step_tracefs
step_sshd_dir

elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
if [ "$did_something" -eq 0 ]; then
    echo "setup: nothing was missing (${elapsed_ms} ms)"
else
    echo "setup: done (${elapsed_ms} ms)"
fi
