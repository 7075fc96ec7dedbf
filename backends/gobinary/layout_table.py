"""Runtime struct layouts by Go minor version, for binaries without DWARF.

Every row was generated from the DWARF of a real build of tests/fixtures/basic with that
toolchain (go1.19.8, go1.20.14, go1.21.13, go1.22.12, go1.23.12, go1.24.13, go1.25.14,
go1.26.8, go1.27.3; linux/amd64) by running
    python -m gotui.backends.gobinary.layout_table <binary>...
and tests/live/test_binary_layouts.py re-checks each row whose toolchain is installed.
Layouts do not change within a minor release (runtime struct changes are not backported).
"""

from __future__ import annotations

import sys

from gotui.backends.gobinary.binary_types import StructLayout

# minor -> layout name -> (size, {field: offset})
TABLE: dict[int, dict[str, tuple[int, dict[str, int]]]] = {
    19: {  # go1.19.8
        'runtime.g': (392, {'goid': 152, 'atomicstatus': 144, 'waitreason': 176, 'waiting': 328, 'gopc': 296, 'startpc': 312, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 104, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 360, 'waitsince': 168, 'lockedm': 232, 'syscallsp': 112, 'syscallpc': 120}),
        'runtime.debug': (84, {}),
        'runtime.gobuf': (56, {'sp': 0, 'pc': 8, 'bp': 48}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1008, {'id': 232, 'procid': 72, 'curg': 192}),
        'runtime.sudog': (88, {'g': 0, 'c': 80, 'elem': 24, 'isSelect': 52, 'waitlink': 64, 'next': 8, 'prev': 16}),
        'runtime.hchan': (96, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 32, 'sendx': 40, 'recvx': 48, 'recvq': 56, 'sendq': 72, 'lock': 88}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    20: {  # go1.20.14
        'runtime.g': (392, {'goid': 152, 'atomicstatus': 144, 'waitreason': 176, 'waiting': 328, 'gopc': 296, 'startpc': 312, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 104, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 360, 'waitsince': 168, 'lockedm': 232, 'syscallsp': 112, 'syscallpc': 120}),
        'runtime.debug': (84, {}),
        'runtime.gobuf': (56, {'sp': 0, 'pc': 8, 'bp': 48}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1000, {'id': 232, 'procid': 72, 'curg': 192}),
        'runtime.sudog': (88, {'g': 0, 'c': 80, 'elem': 24, 'isSelect': 52, 'waitlink': 64, 'next': 8, 'prev': 16}),
        'runtime.hchan': (96, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 32, 'sendx': 40, 'recvx': 48, 'recvq': 56, 'sendq': 72, 'lock': 88}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    21: {  # go1.21.13
        'runtime.g': (408, {'goid': 152, 'atomicstatus': 144, 'waitreason': 176, 'waiting': 312, 'gopc': 280, 'startpc': 296, 'parentGoid': 272, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 104, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 344, 'waitsince': 168, 'lockedm': 208, 'syscallsp': 112, 'syscallpc': 120}),
        'runtime.debug': (100, {}),
        'runtime.gobuf': (56, {'sp': 0, 'pc': 8, 'bp': 48}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1008, {'id': 232, 'procid': 72, 'curg': 192}),
        'runtime.sudog': (88, {'g': 0, 'c': 80, 'elem': 24, 'isSelect': 52, 'waitlink': 64, 'next': 8, 'prev': 16}),
        'runtime.hchan': (96, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 32, 'sendx': 40, 'recvx': 48, 'recvq': 56, 'sendq': 72, 'lock': 88}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    22: {  # go1.22.12
        'runtime.g': (424, {'goid': 152, 'atomicstatus': 144, 'waitreason': 176, 'waiting': 312, 'gopc': 280, 'startpc': 296, 'parentGoid': 272, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 104, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 344, 'waitsince': 168, 'lockedm': 208, 'syscallsp': 112, 'syscallpc': 120}),
        'runtime.debug': (108, {}),
        'runtime.gobuf': (56, {'sp': 0, 'pc': 8, 'bp': 48}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (2024, {'id': 232, 'procid': 72, 'curg': 192}),
        'runtime.sudog': (88, {'g': 0, 'c': 80, 'elem': 24, 'isSelect': 52, 'waitlink': 64, 'next': 8, 'prev': 16}),
        'runtime.hchan': (96, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 32, 'sendx': 40, 'recvx': 48, 'recvq': 56, 'sendq': 72, 'lock': 88}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    23: {  # go1.23.12
        'runtime.g': (432, {'goid': 160, 'atomicstatus': 152, 'waitreason': 184, 'waiting': 320, 'gopc': 288, 'startpc': 304, 'parentGoid': 280, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 104, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 352, 'waitsince': 176, 'lockedm': 216, 'syscallsp': 112, 'syscallpc': 120, 'syscallbp': 128}),
        'runtime.debug': (120, {}),
        'runtime.gobuf': (56, {'sp': 0, 'pc': 8, 'bp': 48}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1784, {'id': 232, 'procid': 72, 'curg': 192}),
        'runtime.sudog': (88, {'g': 0, 'c': 80, 'elem': 24, 'isSelect': 52, 'waitlink': 64, 'next': 8, 'prev': 16}),
        'runtime.hchan': (104, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 40, 'sendx': 48, 'recvx': 56, 'recvq': 64, 'sendq': 80, 'lock': 96}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    24: {  # go1.24.13
        'runtime.g': (440, {'goid': 160, 'atomicstatus': 152, 'waitreason': 184, 'waiting': 320, 'gopc': 288, 'startpc': 304, 'parentGoid': 280, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 104, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 352, 'waitsince': 176, 'lockedm': 216, 'syscallsp': 112, 'syscallpc': 120, 'syscallbp': 128, 'bubble': 392}),
        'runtime.synctestBubble': (136, {'root': 88}),
        'runtime.debug': (124, {}),
        'runtime.gobuf': (56, {'sp': 0, 'pc': 8, 'bp': 48}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1832, {'id': 232, 'procid': 72, 'curg': 192}),
        'runtime.sudog': (88, {'g': 0, 'c': 80, 'elem': 24, 'isSelect': 52, 'waitlink': 64, 'next': 8, 'prev': 16}),
        'runtime.hchan': (104, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 40, 'sendx': 48, 'recvx': 56, 'recvq': 64, 'sendq': 80, 'lock': 96}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    25: {  # go1.25.14
        'runtime.g': (440, {'goid': 152, 'atomicstatus': 144, 'waitreason': 176, 'waiting': 312, 'gopc': 280, 'startpc': 296, 'parentGoid': 272, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 96, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 344, 'waitsince': 168, 'lockedm': 208, 'syscallsp': 104, 'syscallpc': 112, 'syscallbp': 120, 'bubble': 384}),
        'runtime.synctestBubble': (144, {'id': 72, 'root': 88}),
        'runtime.debug': (136, {}),
        'runtime.gobuf': (48, {'sp': 0, 'pc': 8, 'bp': 40}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1816, {'id': 224, 'procid': 64, 'curg': 184}),
        'runtime.sudog': (88, {'g': 0, 'c': 80, 'elem': 24, 'isSelect': 52, 'waitlink': 64, 'next': 8, 'prev': 16}),
        'runtime.hchan': (112, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 40, 'sendx': 48, 'recvx': 56, 'recvq': 64, 'sendq': 80, 'lock': 104}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    26: {  # go1.26.8
        'runtime.g': (456, {'goid': 152, 'atomicstatus': 144, 'waitreason': 176, 'waiting': 320, 'gopc': 288, 'startpc': 304, 'parentGoid': 280, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 96, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 352, 'waitsince': 168, 'lockedm': 208, 'syscallsp': 104, 'syscallpc': 112, 'syscallbp': 120, 'bubble': 392}),
        'runtime.synctestBubble': (144, {'id': 72, 'root': 88}),
        'runtime.debug': (140, {'tracebacklabels': 136}),
        'runtime.gobuf': (48, {'sp': 0, 'pc': 8, 'bp': 40}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1824, {'id': 232, 'procid': 64, 'curg': 184}),
        'runtime.sudog': (104, {'g': 0, 'c': 88, 'elem': 24, 'isSelect': 60, 'waitlink': 72, 'next': 8, 'prev': 16}),
        'runtime.hchan': (112, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 40, 'sendx': 48, 'recvx': 56, 'recvq': 64, 'sendq': 80, 'lock': 104}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },
    27: {  # go1.27.3
        'runtime.g': (456, {'goid': 152, 'atomicstatus': 144, 'waitreason': 176, 'waiting': 320, 'gopc': 288, 'startpc': 304, 'parentGoid': 280, 'sched.sp': 56, 'sched.pc': 64, 'sched.bp': 96, 'stack.lo': 0, 'stack.hi': 8, 'm': 48, 'labels': 352, 'waitsince': 168, 'lockedm': 208, 'syscallsp': 104, 'syscallpc': 112, 'syscallbp': 120, 'bubble': 392}),
        'runtime.synctestBubble': (144, {'id': 72, 'root': 88}),
        'runtime.debug': (136, {'tracebacklabels': 132}),
        'runtime.gobuf': (48, {'sp': 0, 'pc': 8, 'bp': 40}),
        'runtime.stack': (16, {'lo': 0, 'hi': 8}),
        'runtime.m': (1832, {'id': 232, 'procid': 64, 'curg': 184}),
        'runtime.sudog': (104, {'g': 0, 'c': 88, 'elem': 24, 'isSelect': 60, 'waitlink': 72, 'next': 8, 'prev': 16}),
        'runtime.hchan': (112, {'qcount': 0, 'dataqsiz': 8, 'buf': 16, 'elemsize': 24, 'closed': 28, 'elemtype': 40, 'sendx': 48, 'recvx': 56, 'recvq': 64, 'sendq': 80, 'lock': 104}),
        'runtime.waitq': (16, {'first': 0, 'last': 8}),
        'runtime._type': (48, {'size': 0, 'tflag': 20, 'kind': 23, 'str': 40}),
    },

}


def table_layouts(go_minor: int) -> dict[str, StructLayout]:
    """Layouts for a Go minor version, {} when the table has no row for it."""
    row = TABLE.get(go_minor, {})
    return {name: StructLayout(name, size, dict(offsets), "table")
            for name, (size, offsets) in row.items()}


def _generate(paths: list[str]) -> str:
    from gotui.backends.gobinary.buildinfo import read_buildinfo
    from gotui.backends.gobinary.dwarf_layouts import layouts_from_dwarf
    from gotui.backends.gobinary.elffile import ElfFile

    lines = []
    for path in paths:
        info = read_buildinfo(ElfFile(path))
        assert info is not None, path
        lines.append(f"    {info.go_minor}: {{  # {info.go_version}")
        for name, lay in layouts_from_dwarf(path).items():
            lines.append(f"        {name!r}: ({lay.size}, {lay.offsets!r}),")
        lines.append("    },")
    return "\n".join(lines)


if __name__ == "__main__":
    print(_generate(sys.argv[1:]))
