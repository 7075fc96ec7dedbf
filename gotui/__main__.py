"""`python -m gotui ...` is the `gotui` command."""

from gotui.tui.cli import entry

if __name__ == "__main__":
    entry()
