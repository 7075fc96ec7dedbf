"""A tiny gotui stand-in for exit-path tests: attach GdbBackend to a pid, optionally
set the target running, print ATTACHED <gdb pid>, then wait to be killed.

    python -m tests.gdb.gdb_driver PID halted|running
"""

from __future__ import annotations

import asyncio
import sys

from gotui.backends.gdb import GdbBackend


async def main(pid: int, mode: str) -> None:
    backend = GdbBackend.for_pid(pid)
    await backend.start()
    if mode == "running":
        asyncio.ensure_future(backend.cont())
        while not (await backend.state()).running:
            await asyncio.sleep(0.02)
    print(f"ATTACHED {backend.gdb_pid}", flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
