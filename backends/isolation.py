"""How gotui starts helper processes (the Delve guard, dlv, gdb, go): isolated.

gotui runs as root. Nothing from the working directory, the environment, a user's home
or an executable someone else can change may make it run code. So every helper gets:
- the safe cwd "/" (python's -m and gdb's ./.gdbinit look in the cwd);
- an environment without the variables that make an interpreter, the dynamic loader or
  a tool load code or config from elsewhere (PYTHON*, LD_*, GCONV_PATH, GOFLAGS, ...),
  with HOME set to the effective user's own home and no XDG_* directories (`sudo -E`
  keeps a user's HOME: dlv, gdb and go would read and write config there);
- an absolute executable path that, when running as root, passes trusted_executable():
  owned by root and writable by nobody else, down the whole directory chain.
The running interpreter (sys.executable) is as trusted as gotui itself and not checked.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from gotui.backends.model import GotuiError

SAFE_CWD = "/"
# Variables that make a helper load code or config from somewhere we did not choose.
_DROP_PREFIXES = ("PYTHON", "LD_", "XDG_", "GOTUI_TOKEN", "DYLD_")
_DROP = frozenset({
    "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES", "RESOLV_HOST_CONF", "BASH_ENV",
    "ENV", "PERL5LIB", "PERL5OPT", "RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "GOENV", "GOFLAGS",
    "GOTOOLCHAIN", "GOPROXY", "GOINSECURE", "GONOSUMDB", "GONOSUMCHECK", "GOPRIVATE",
    "CC", "CXX", "CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "CGO_FFLAGS",
    "GOGCCFLAGS", "DEBUGINFOD_URLS", "GDBHISTFILE", "INPUTRC", "TMPDIR",
})


def own_home() -> str:
    """The effective user's home from the password database ($HOME if it has no entry)."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_dir or "/"
    except KeyError:
        return os.environ.get("HOME", "/")


def helper_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a helper process starts with (see the module docstring)."""
    env = {k: v for k, v in os.environ.items()
           if k not in _DROP and not k.startswith(_DROP_PREFIXES)}
    env["HOME"] = own_home()
    env.update(extra or {})
    return env


def python_helper_argv(module: str, *args: str) -> list[str]:
    """`python -I -m module args`: -I ignores PYTHON* variables, the user site and the
    cwd, so only the installed gotui can be imported."""
    return [sys.executable, "-I", "-m", module, *args]


def _unsafe_reason(path: Path, st: os.stat_result, *, is_dir: bool) -> str:
    if st.st_uid not in (0, os.geteuid()):
        return f"{path} is owned by uid {st.st_uid}"
    writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    # a sticky directory (like /tmp) lets nobody else rename or remove our entries
    if writable and not (is_dir and st.st_mode & stat.S_ISVTX):
        return f"{path} is writable by {'others' if st.st_mode & stat.S_IWOTH else 'its group'}"
    return ""


def untrusted_reason(path: str) -> str:
    """Why root must not run `path` ('' when it may): the file and every directory
    above it, for the path as given and for the file it resolves to, must be owned
    by root (or us) and writable by nobody else."""
    given = Path(os.path.abspath(path))
    real = Path(os.path.realpath(path))
    try:
        st = os.stat(real)
    except OSError as exc:
        return f"{path}: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    why = _unsafe_reason(real, st, is_dir=False)
    if why:
        return why
    for chain in (given.parent, real.parent):
        for d in (chain, *chain.parents):
            try:
                why = _unsafe_reason(d, os.stat(d), is_dir=True)
            except OSError as exc:
                return f"{d}: {exc.strerror}"
            if why:
                return why
    return ""


def trusted_executable(path: str, what: str) -> str:
    """The absolute path of `path` if it is an executable gotui may run; as root it
    must pass untrusted_reason(). Raises a one-line GotuiError otherwise."""
    full = os.path.abspath(path)
    if not (os.path.isfile(full) and os.access(full, os.X_OK)):
        raise GotuiError(f"{what}: {path} is not an executable file")
    if os.geteuid() == 0:
        why = untrusted_reason(full)
        if why:
            raise GotuiError(f"refusing to run {what} {full} as root: {why} "
                             "(install it owned by root, writable only by root)")
    return full


def find_executable(what: str, candidates: Iterable[str]) -> str:
    """The first of `candidates` that exists, checked by trusted_executable(). An
    untrusted one is an error, never skipped for the next: the user meant that one.
    Raises GotuiError if none exists."""
    for c in candidates:
        if c and os.path.exists(c):
            return trusted_executable(c, what)
    raise GotuiError(f"{what} not found")


def on_path(name: str) -> str:
    """`name` looked up on $PATH ('' if absent)."""
    return shutil.which(name) or ""
