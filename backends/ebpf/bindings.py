"""BCC's Python bindings, wherever this interpreter can get them.

PyPI's `bcc` is an unrelated project: the bindings come from the distro's python3-bpfcc
(/usr/lib/python3/dist-packages/bcc), a pure-Python package that drives libbcc.so.0
(libbpfcc) through ctypes. Checked with Debian 12's bcc 0.26: it imports, compiles and
runs uprobes with a ring buffer under CPython 3.6 to 3.13 alike (3.12+ only warn about
an escape sequence at compile time); what it needs is ctypes and libbcc.so.0, not the
distro's Python version. Compiled modules would tie it to one interpreter.

So when `import bcc` fails (a pipx or pyenv virtualenv without the system site
packages), the distro's copy is loaded by its path, that one package and not the whole
of dist-packages, if it holds no compiled module this interpreter cannot load and if
nobody but root (or this user) can write to it or to a directory above it: gotui runs
as root and would run that code.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import importlib.machinery
import importlib.util
import os
import re
import stat
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from gotui.backends.model import GotuiError

DISTRO_BCC = Path("/usr/lib/python3/dist-packages/bcc")  # Debian, Ubuntu: python3-bpfcc
OTHER_DISTRO_GLOBS = ("/usr/lib/python3*/site-packages/bcc",  # Fedora, RHEL: python3-bcc
                      "/usr/lib64/python3*/site-packages/bcc")
_EXTENSION_TAG = re.compile(r"\.(cpython-[^.]+|abi3|pypy[^.]*)\.so$")
INSTALL = ("install the distro package python3-bpfcc (with libbpfcc; Fedora: python3-bcc); "
           "PyPI's 'bcc' is a different project")
ON_DISTRO_PYTHON = ("install gotui on the distro's Python: pipx install "
                    "--system-site-packages --python /usr/bin/python3 <gotui wheel>")


@dataclass(frozen=True)
class BccBindings:
    module: ModuleType | None
    origin: str  # the package directory it was (or would be) loaded from
    how: str  # "import" (found on sys.path), "distro" (loaded by path), "" (not loaded)
    problem: str  # why it cannot be loaded; "" when loaded
    fix: str = ""  # what to do about it


@contextlib.contextmanager
def _quiet_import() -> Iterator[None]:
    """No warnings on stderr (over the TUI) and no bytecode written into the distro's
    directories while bcc is imported."""
    saved = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.dont_write_bytecode = saved


def _forget(name: str) -> None:
    for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        del sys.modules[key]


def untrusted_reason(pkg_dir: Path) -> str | None:
    """Why code in pkg_dir must not be run by this process, or None. Every directory
    from / down to it, and everything inside it, must belong to root or to us and be
    writable by nobody else (sticky directories such as /tmp are refused too)."""
    me = os.geteuid()
    try:
        real = pkg_dir.resolve(strict=True)
    except OSError as exc:
        return f"{pkg_dir}: {exc.strerror}"
    paths = [*reversed(real.parents), real]
    for root, dirs, names in os.walk(real):
        paths += [Path(root, n) for n in dirs + names]
    for p in paths:
        try:
            st = p.lstat()
        except OSError as exc:
            return f"{p}: {exc.strerror}"
        if stat.S_ISLNK(st.st_mode) and p != real:
            return f"{p} is a symbolic link"
        if st.st_uid not in (0, me):
            return f"{p} belongs to uid {st.st_uid}"
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{p} is writable by {'others' if st.st_mode & stat.S_IWOTH else 'its group'}"
    return None


def foreign_extension(pkg_dir: Path) -> str | None:
    """A compiled module in pkg_dir tagged for another interpreter, or None. (An
    untagged .so is no Python module of a distro package: only tags say whose it is.)"""
    mine = {s for s in importlib.machinery.EXTENSION_SUFFIXES if s != ".so"}
    for p in sorted(pkg_dir.rglob("*.so")):
        tag = _EXTENSION_TAG.search(p.name)
        if tag is not None and tag.group(0) not in mine:
            return p.name
    return None


def distro_copy() -> Path:
    """Where the distro keeps BCC's bindings: Debian's path, else the newest Python's
    site-packages that has them (Fedora), else Debian's path (to name it)."""
    if DISTRO_BCC.is_dir():
        return DISTRO_BCC
    found = [Path(p) for pattern in OTHER_DISTRO_GLOBS for p in glob.glob(pattern)]
    found.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.parent.name)])
    return found[-1] if found else DISTRO_BCC


def load_from(pkg_dir: Path) -> BccBindings:
    """Load the bcc package in pkg_dir as `bcc` (checks first, see the module doc)."""
    origin = str(pkg_dir)
    if not (pkg_dir / "__init__.py").is_file():
        return BccBindings(None, origin, "", "BCC's Python bindings are missing", INSTALL)
    pkg_dir = pkg_dir.resolve()  # checked and loaded from the same place
    why = untrusted_reason(pkg_dir)
    if why is not None:
        return BccBindings(None, origin, "", f"not loading BCC's bindings from {pkg_dir} "
                           f"({why})", "reinstall python3-bpfcc, owned by root")
    foreign = foreign_extension(pkg_dir)
    if foreign is not None:
        return BccBindings(None, origin, "", "the distro's BCC bindings have a compiled module "
                           f"for another Python ({foreign})", ON_DISTRO_PYTHON)
    spec = importlib.util.spec_from_file_location(
        "bcc", pkg_dir / "__init__.py", submodule_search_locations=[origin])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bcc"] = module
    try:
        with _quiet_import():
            spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure (OSError: no libbcc.so.0) is one line
        _forget("bcc")
        return BccBindings(None, origin, "", f"BCC's bindings at {pkg_dir} do not load ({exc})",
                           f"install libbpfcc, or {ON_DISTRO_PYTHON}")
    return BccBindings(module, origin, "distro", "")


@functools.cache
def locate() -> BccBindings:
    """`import bcc` if this interpreter has it, else the distro's copy (cached)."""
    try:
        with _quiet_import():
            import bcc
    except ImportError:
        return load_from(distro_copy())
    except OSError as exc:  # the bindings are there, libbcc.so.0 is not
        return BccBindings(None, "", "", f"BCC's library does not load ({exc})",
                           "install libbpfcc")
    if getattr(bcc, "__file__", None) is None:  # an empty `bcc` directory (namespace package)
        _forget("bcc")
        return load_from(distro_copy())
    origin = str(Path(bcc.__file__).resolve().parent)
    if not hasattr(bcc, "BPF"):
        return BccBindings(None, origin, "", f"the 'bcc' module at {origin} is not BCC's "
                           "bindings (PyPI's 'bcc' is a different project)",
                           "pip uninstall bcc; install the distro package python3-bpfcc")
    return BccBindings(bcc, origin, "import", "")


def load() -> ModuleType:
    """The bcc module; GotuiError (one line saying what to do) when there is none."""
    found = locate()
    if found.module is None:
        raise GotuiError(f"{found.problem}: {found.fix}")
    return found.module
