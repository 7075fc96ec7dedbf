"""gdb backend (pygdbmi): stop-the-world debugging of live pids and core files."""

from gotui.backends.gdb.backend import GdbBackend, open_core

__all__ = ["GdbBackend", "open_core"]
