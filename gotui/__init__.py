"""gotui: a terminal UI live debugger for Go processes.

Installed, everything lives under this one name: `gotui.tui` (the Textual app and the
command line) and `gotui.backends` (everything that touches a target). In the
repository they are the top-level folders `tui/` and `backends/`, mapped here by
pyproject.toml's `package-dir`.
"""

__version__ = "0.1.0"
