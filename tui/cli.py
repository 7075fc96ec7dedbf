"""The `gotui` command line. Errors are one line on stderr; exit 0 ok, 1 target or
runtime error, 2 usage error (DESIGN.md §3)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from gotui.backends import factory, yielding
from gotui.backends.formats import to_goroutine_dump, to_json_text, to_text
from gotui.backends.logs import log_to_file
from gotui.backends.model import GotuiError, Snapshot, UsageError, to_json
from gotui.backends.procinfo import process_facts, require_go
from gotui.backends.session import Session
from gotui.backends.signals import handling
from gotui.backends.target import TargetSession

if TYPE_CHECKING:
    from gotui.backends.ebpf.feed import EbpfFeed
    from gotui.backends.ebpf.holders import HolderTracker


# headless share: a target halted with nobody driving resumes after this (SECURITY.md)
DEFAULT_RESUME_AFTER_S = 30.0


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors in one line with exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"gotui: {message} (see `gotui --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gotui", description="Terminal UI live debugger for Go processes.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ps = sub.add_parser("ps", help="list Go processes")
    ps.add_argument("--json", action="store_true")
    ps.set_defaults(func=cmd_ps)

    at = sub.add_parser("attach", help="open the TUI on a running Go process")
    at.add_argument("pid", type=int)
    at.add_argument("--delve", action="store_true", help="attach Delve up front")
    at.add_argument("--backend", choices=["delve", "gdb"], default="delve",
                    help="stop-the-world backend used on demand")
    at.add_argument("--no-ebpf", action="store_true", help="do not load eBPF probes")
    at.add_argument("--deep", action="store_true",
                    help="also trace every block/unblock with eBPF (costlier, guarded)")
    at.add_argument("--share", metavar="ADDR", help="share the session over websockets")
    _share_options(at)
    at.add_argument("--check-go-version", action=argparse.BooleanOptionalAction,
                    default=True, help="let Delve refuse Go versions it does not support")
    _tui_options(at)
    at.set_defaults(func=cmd_attach)

    co = sub.add_parser("connect", help="open the TUI on an existing headless Delve")
    co.add_argument("address", metavar="host:port")
    co.add_argument("--insecure", action="store_true",
                    help="allow a Delve on another machine (its API has no authentication)")
    _tui_options(co)
    co.set_defaults(func=cmd_connect)

    sn = sub.add_parser("snapshot", help="print all goroutines once")
    sn.add_argument("pid", type=int)
    sn.add_argument("--source", choices=["live", "delve", "gdb"], default="live")
    sn.add_argument("--format", choices=["json", "text", "goroutine-dump"], default="text")
    sn.add_argument("--stacks", action="store_true", help="include full stacks (delve)")
    sn.add_argument("--check-go-version", action=argparse.BooleanOptionalAction, default=True)
    sn.set_defaults(func=cmd_snapshot)

    ck = sub.add_parser("check", help="the Findings (deadlocks, leaks...) without the TUI; "
                        "exit 3 when one reaches --fail-on")
    ck.add_argument("pid", type=int, nargs="?")
    ck.add_argument("--all", action="store_true", help="every Go process (as `gotui ps`)")
    ck.add_argument("--format", choices=["json", "text", "prometheus"], default="text")
    ck.add_argument("--fail-on", choices=["proof", "hint"], default="proof")
    ck.add_argument("--duration", type=float, default=5.0, metavar="S",
                    help="watch this long (snapshots every --interval s; 0: one snapshot)")
    ck.add_argument("--interval", type=float, default=1.0, metavar="S")
    ck.add_argument("--exact", action="store_true",
                    help="watch every sync.Mutex hand-over with eBPF meanwhile")
    ck.set_defaults(func=cmd_check)

    tp = sub.add_parser("top", help="goroutine counts per live refresh (--batch: JSON lines)")
    tp.add_argument("pid", type=int)
    tp.add_argument("--batch", action="store_true", help="one JSON line per refresh")
    tp.add_argument("--interval", type=float, default=1.0, metavar="S")
    tp.add_argument("--count", type=int, default=None, metavar="N", help="exit after N lines")
    tp.set_defaults(func=cmd_top)

    de = sub.add_parser("demo", help="build and run the bundled demo service, then attach")
    de.add_argument("--addr", default="127.0.0.1:8089")
    de.add_argument("--delve", action="store_true")
    de.add_argument("--dir", type=Path, default=None, metavar="DIR",
                    help="where the demo is built and its pid and log kept "
                    "(default $XDG_CACHE_HOME/gotui/demo)")
    _tui_options(de)
    de.set_defaults(func=cmd_demo)

    dr = sub.add_parser("doctor", help="check what this host offers gotui, and what to install")
    dr.add_argument("--pid", type=int, default=None, help="also check this Go process")
    dr.add_argument("--json", action="store_true")
    dr.set_defaults(func=cmd_doctor)

    tr = sub.add_parser("trace", help="stream eBPF events as JSON lines")
    tr.add_argument("pid", type=int)
    tr.add_argument("--duration", type=float, default=None, metavar="S")
    tr.add_argument("--json", action="store_true", help="JSON lines (the default output)")
    tr.add_argument("--deep", action="store_true", help="also blocked/unblocked events")
    tr.add_argument("--func", dest="trace_func", metavar="F",
                    help="conditional tracepoint on function F")
    tr.add_argument("--cond", metavar="EXPR", help="condition over F's arguments")
    tr.add_argument("--budget", type=float, default=0.03,
                    help="CPU budget of the probes as a fraction of one CPU")
    tr.set_defaults(func=cmd_trace)

    cr = sub.add_parser("core", help="post-mortem TUI on a core file")
    cr.add_argument("exe")
    cr.add_argument("core")
    cr.add_argument("--backend", choices=["delve", "gdb"], default="delve")
    cr.add_argument("--format", choices=["json", "text", "goroutine-dump"], default=None,
                    help="print the core's snapshot (with stacks) instead of the TUI")
    cr.add_argument("--json", dest="format", action="store_const", const="json",
                    help="same as --format json")
    cr.add_argument("--check-go-version", action=argparse.BooleanOptionalAction, default=True)
    _tui_options(cr)
    cr.set_defaults(func=cmd_core)

    sh = sub.add_parser("share", help="share a session over websockets")
    sh.add_argument("pid", type=int)
    sh.add_argument("--listen", required=True, metavar="ADDR", help="HOST:PORT (default host 127.0.0.1)")
    sh.add_argument("--headless", action="store_true",
                    help="no TUI: print {url, driver_token, viewer_token} and serve "
                         "(SIGUSR1: new tokens, everyone disconnected)")
    _share_options(sh)
    sh.add_argument("--token-dir", metavar="D",
                    help="headless: write driver.token/viewer.token (mode 0600) into D "
                         "and print their paths instead of the tokens")
    sh.add_argument("--resume-after", type=float, default=DEFAULT_RESUME_AFTER_S,
                    metavar="S", help="headless: resume a target left halted with no "
                    f"driver connected after S seconds (default {DEFAULT_RESUME_AFTER_S:g})")
    sh.add_argument("--check-go-version", action=argparse.BooleanOptionalAction, default=True)
    _tui_options(sh)
    sh.set_defaults(func=cmd_share)

    jo = sub.add_parser("join", help="open the TUI on a shared session")
    jo.add_argument("url")
    jo.add_argument("--token-file", metavar="F",
                    help="read the token from F (mode 600), or from stdin with '-'; "
                         "default $GOTUI_TOKEN; sent as Authorization: Bearer")
    jo.add_argument("--token", dest="argv_token", help=argparse.SUPPRESS)  # refused
    jo.add_argument("--cafile", metavar="F",
                    help="trust the host's TLS certificate(s) in F (e.g. self-signed)")
    jo.add_argument("--insecure", action="store_true",
                    help="allow ws:// (no TLS) to another machine")
    _tui_options(jo)
    jo.set_defaults(func=cmd_join)
    return p


def _share_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls-cert", metavar="C", help="serve wss:// with this certificate")
    p.add_argument("--tls-key", metavar="K", help="the certificate's private key")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback address without TLS (clear text)")


def _tui_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--refresh", type=float, default=1.0, metavar="SECONDS",
                   help="live refresh interval")
    p.add_argument("--keymap", metavar="FILE", help="key binding overrides (TOML)")
    p.add_argument("--ansi", action="store_true", help="16-colour theme")


# ----------------------------------------------------------------- commands

def cmd_ps(args: argparse.Namespace) -> int:
    procs = factory.list_go_processes()
    if args.json:
        print(json.dumps([to_json(p) for p in procs]))
        return 0
    print(f"{'PID':>7}  {'GO':<10} {'GOROUTINES':>10}  {'TRACED-BY':<10} EXE")
    for p in procs:
        gcount = "" if p.goroutines is None else str(p.goroutines)
        traced = str(p.traced_by) if p.traced_by else ""
        print(f"{p.pid:>7}  {p.go_version:<10} {gcount:>10}  {traced:<10} {p.exe}")
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    snap = asyncio.run(factory.take_snapshot(
        args.pid, source=args.source, stacks=args.stacks or args.format == "goroutine-dump",
        check_go_version=args.check_go_version))
    return print_snapshot(snap, args.format)


def cmd_check(args: argparse.Namespace) -> int:
    from gotui.backends import check

    if (args.pid is None) == (not args.all):
        raise UsageError("give a pid or --all")
    if args.duration < 0 or args.interval <= 0:
        raise UsageError("--duration must be >= 0 and --interval > 0")
    def progress(line: str) -> None:
        print(f"gotui: {line}", file=sys.stderr, flush=True)

    opts = {"duration": args.duration, "interval": args.interval, "exact": args.exact,
            "progress": progress}
    results = check.check_all(**opts) if args.all else [check.check_pid(args.pid, **opts)]
    sys.stdout.write(check.render(results, args.format, many=args.all))
    return check.exit_code(results, args.fail_on)

def cmd_top(args: argparse.Namespace) -> int:
    if not args.batch:
        raise UsageError("top: only --batch exists for now (the TUI is `gotui attach`)")
    if not args.interval > 0 or (args.count is not None and args.count < 1):
        raise UsageError("top: --interval must be > 0 and --count >= 1")
    from gotui.backends.top import run_top

    return run_top(args.pid, interval=args.interval, count=args.count)


def print_snapshot(snap: Snapshot, fmt: str) -> int:
    if fmt == "json":
        print(to_json_text(snap))
    elif fmt == "goroutine-dump":
        sys.stdout.write(to_goroutine_dump(snap))
    else:
        sys.stdout.write(to_text(snap))
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    if args.cond and not args.trace_func:
        raise UsageError("--cond needs --func")
    from gotui.backends.ebpf.decode import event_to_json_line
    from gotui.backends.ebpf.trace import trace_events

    facts = process_facts(args.pid)
    require_go(facts)

    async def run() -> None:
        async for ev in trace_events(args.pid, duration=args.duration, deep=args.deep,
                                     func=args.trace_func, cond=args.cond, budget=args.budget):
            sys.stdout.write(event_to_json_line(ev) + "\n")
            sys.stdout.flush()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def cmd_attach(args: argparse.Namespace) -> int:
    if args.share:
        check_share_args(args.share, args)
    early = EarlySession(partial(factory.attach_session, args.pid, backend=args.backend,
                                 check_go_version=args.check_go_version))
    later = [exact_holders] if args.deep and not args.no_ebpf else []
    return run_tui(early, args, delve_upfront=args.delve, share=args.share,
                   ebpf=partial(ebpf_feed, args.pid, off=args.no_ebpf, deep=args.deep),
                   after_paint=later)


def exact_holders(session: Session) -> None:
    """--deep: exact sync.Mutex holders by eBPF (backends/ebpf/holders.py), started in
    the background; the live reader uses them once they watch."""
    from gotui.backends.ebpf.holders import start_in_background
    from gotui.backends.live.reader import LiveReader
    from gotui.backends.model import Event
    from gotui.backends.notices import EventArrived

    live = session.live

    def ready(tracker: HolderTracker) -> None:
        if isinstance(live, LiveReader) and not session.closed:
            live.exact = tracker
        else:
            tracker.close()

    def failed(why: str) -> None:
        session.publish(EventArrived(Event(type="log", message=why)))

    start_in_background(session.info.pid, ready, failed)


def ebpf_feed(pid: int, *, off: bool = False, deep: bool = False) -> EbpfFeed:
    """The session's eBPF feed; one that only says why when eBPF cannot or must not run."""
    from gotui.backends.ebpf.feed import EbpfFeed

    if off:
        return EbpfFeed.disabled(pid, "disabled by --no-ebpf")
    return EbpfFeed(pid, deep=deep)


def check_share_args(listen: str, args: argparse.Namespace) -> None:
    """Refuse a bad share address before attaching; warn about an --insecure one."""
    from gotui.backends.netaddr import is_loopback
    from gotui.backends.remote.server import check_share_address

    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    host, _ = check_share_address(listen, tls=bool(args.tls_cert), insecure=args.insecure)
    if not is_loopback(host) and not args.tls_cert:
        print(f"gotui: warning: sharing on {listen} without TLS (--insecure): tokens and "
              "the target's data cross the network in clear text", file=sys.stderr)


def cmd_share(args: argparse.Namespace) -> int:
    check_share_args(args.listen, args)
    if not args.headless and args.token_dir:
        raise UsageError("--token-dir goes with --headless (the TUI shows the tokens on ?)")
    if args.resume_after < 0:
        raise UsageError("--resume-after must be 0 or more seconds")
    session = factory.attach_session(args.pid, check_go_version=args.check_go_version)
    if args.headless:
        return asyncio.run(_share_headless(session, args))
    return run_tui(session, args, delve_upfront=False, share=args.listen)


def cmd_join(args: argparse.Namespace) -> int:
    from gotui.backends.remote import join
    from gotui.backends.remote.auth import JOIN_HINT, read_token

    if args.argv_token is not None:
        raise UsageError(f"--token would put the token in argv (ps, shell history): "
                         f"{JOIN_HINT}")
    token = read_token(args.token_file)
    os.environ.pop("GOTUI_TOKEN", None)  # read once; no child process inherits it
    if args.token_file == "-":
        stdin_from_terminal()  # the token came through a pipe: the TUI reads the keys

    async def make() -> TargetSession:
        return await join(args.url, token, cafile=args.cafile, insecure=args.insecure)

    return run_tui(make, args, delve_upfront=False)


def stdin_from_terminal() -> None:
    """Put the controlling terminal back on stdin after a token was piped in."""
    if sys.stdin.isatty():
        return
    with contextlib.suppress(OSError):
        fd = os.open("/dev/tty", os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)


def cmd_core(args: argparse.Namespace) -> int:
    if args.format:
        snap = asyncio.run(factory.core_snapshot(args.exe, args.core, args.backend,
                                                 check_go_version=args.check_go_version))
        return print_snapshot(snap, args.format)
    session = factory.core_session(args.exe, args.core, args.backend,
                                   check_go_version=args.check_go_version)
    return run_tui(session, args, delve_upfront=False)


def cmd_connect(args: argparse.Namespace) -> int:
    session = factory.connect_session(args.address, insecure=args.insecure)
    return run_tui(session, args, delve_upfront=True)


def cmd_demo(args: argparse.Namespace) -> int:
    from gotui.backends.demo import start_demo

    pid = start_demo(args.addr, args.dir)
    print(f"demo service running: pid {pid}, http://{args.addr}", file=sys.stderr)
    session = factory.attach_session(pid)
    return run_tui(session, args, delve_upfront=args.delve, ebpf=partial(ebpf_feed, pid))


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0 when every feature works on this host (and on --pid), 1 otherwise."""
    from gotui.backends import doctor

    report = doctor.run_checks(args.pid)
    sys.stdout.write(json.dumps(to_json(report)) + "\n" if args.json else doctor.to_text(report))
    return 0 if report.ok else 1


# ----------------------------------------------------------------- TUI runner

class EarlySession:
    """A session made (attach: binary facts read) and its first live snapshot read on a
    thread, while the main thread imports the TUI: the two overlap between the command
    start and the first paint."""

    def __init__(self, make: Callable[[], Session]) -> None:
        self._made: tuple[Session, Snapshot | None] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(make,), daemon=True,
                                        name="gotui-attach")
        self._thread.start()

    def _run(self, make: Callable[[], Session]) -> None:
        try:
            session = make()
            first = session.live.snapshot() if session.live is not None else None
            if first is not None:
                session.last_snapshot = first
            self._made = (session, first)
        except BaseException as exc:  # noqa: BLE001 - raised again by result()
            self._error = exc

    def result(self) -> tuple[Session, Snapshot | None]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._made is not None
        return self._made


# a local session (made, to be made, or made early) or a joined one (to be made)
SessionSource = TargetSession | Callable[[], Awaitable[TargetSession]] | EarlySession
FeedFactory = Callable[[], "EbpfFeed"]
EXIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def run_tui(source: SessionSource, args: argparse.Namespace, *, delve_upfront: bool,
            share: str | None = None, ebpf: FeedFactory | None = None,
            after_paint: Sequence[Callable[[Session], object]] = ()) -> int:
    """`ebpf`: makes the session's eBPF feed, after the first paint (its modules and
    its host checks are not on the way to the goroutine list); `after_paint`: more
    that waits for the first paint (--deep's exact lock holders)."""
    return asyncio.run(_run_tui(source, args, delve_upfront, share, ebpf, after_paint))


async def _open(source: TargetSession | Callable[[], Awaitable[TargetSession]],
                delve_upfront: bool) -> TargetSession:
    session = await source() if callable(source) else source
    try:
        await session.start()
        if delve_upfront:
            await session.ensure_stop()
    except BaseException:
        await session.close()
        raise
    return session


async def _serve(session: Session, listen: str, args: argparse.Namespace) -> Any:
    from gotui.backends.remote import serve_session

    headless = getattr(args, "headless", False)
    server = await serve_session(session, listen, tls_cert=getattr(args, "tls_cert", None),
                                 tls_key=getattr(args, "tls_key", None),
                                 host_drives=not headless, insecure=args.insecure,
                                 resume_after=args.resume_after if headless else None)
    return server


async def _run_tui(source: SessionSource, args: argparse.Namespace, delve_upfront: bool,
                   share: str | None, ebpf: FeedFactory | None = None,
                   after_paint: Sequence[Callable[[Session], object]] = ()) -> int:
    gc.set_threshold(*GC_THRESHOLDS)
    yielding.favour_the_event_loop()
    from gotui.tui.app import GotuiApp  # Textual is only imported when a TUI is wanted

    loop = asyncio.get_running_loop()
    first = None
    if isinstance(source, EarlySession):
        source, first = source.result()
    session = await _open(source, delve_upfront)
    # sharing, eBPF and --deep are for a local session only (a joiner has no such flags)
    local = session if isinstance(session, Session) else None
    server = None
    try:
        if share and local is not None:
            server = await _serve(local, share, args)
        ansi = args.ansi or bool(os.environ.get("NO_COLOR")) or _sixteen_colours()
        app = GotuiApp(session, refresh_interval=args.refresh, keymap_path=args.keymap,
                       ansi=ansi, first_snapshot=first)
        app.share.server = server  # presence line, hand-off prompt and ctrl+g at the host
        app.after_first_paint.append(freeze_gc)
        if local is not None:
            if ebpf is not None:
                app.after_first_paint.append(partial(_start_ebpf, local, ebpf))
            app.after_first_paint += [partial(call, local) for call in after_paint]

        def leave(name: str) -> None:
            app.exit(return_code=0, message=f"gotui: {name}: target released")

        with exit_signals(loop, leave):
            await app.run_async(mouse=not os.environ.get("SSH_CONNECTION"))
        return app.return_code or 0
    finally:
        if server is not None:
            await close_server(server)
        # The app closes the session itself on q; this covers every other way out.
        await session.close()


async def _start_ebpf(session: Session, make: FeedFactory) -> None:
    feed = await asyncio.to_thread(make)  # (its imports and host checks off the loop)
    session.attach_ebpf(feed)


async def _share_headless(session: Session, args: argparse.Namespace) -> int:
    """`gotui share --headless`: print the URL and tokens as one JSON line, serve until
    a signal, then release the target."""
    tune_gc()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    # installed before the attach: a signal during it releases the target once attached
    with exit_signals(loop, lambda _name: done.set()):
        await _open(session, False)  # (the same session, started)
        server = None
        try:
            server = await _serve(session, args.listen, args)
            # before the line: whoever reads it may signal at once
            loop.add_signal_handler(signal.SIGUSR1, rotate_headless, server, args.token_dir)
            if not done.is_set():
                print_share_line(server, args.token_dir)
            await done.wait()
        finally:
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signal.SIGUSR1)
            if server is not None:
                await close_server(server)
            await session.close()
    return 0


def print_share_line(server: Any, token_dir: str | None) -> None:
    """The headless share's one JSON line: the URL and the tokens, or with --token-dir
    the paths of the 0600 files that hold them (for service managers that log stdout)."""
    info = server.info()
    if token_dir:
        info = {"url": info["url"], **server.write_token_files(token_dir)}
    print(json.dumps(info), flush=True)


def rotate_headless(server: Any, token_dir: str | None) -> None:
    """SIGUSR1 on a headless share: new tokens, every client disconnected; the new
    line (or files) as at the start."""
    server.rotate_tokens(kick=True)
    print_share_line(server, token_dir)


SERVER_CLOSE_SECONDS = 1.0


async def close_server(server: Any) -> None:
    """Stop sharing, waiting at most SERVER_CLOSE_SECONDS: the target's release comes
    next and must not wait on joiners. asyncio.wait, not wait_for: it needs no
    cancellation to give up, so a close that swallows one cannot hold us."""
    closing = asyncio.ensure_future(server.close())
    await asyncio.wait({closing}, timeout=SERVER_CLOSE_SECONDS)
    if closing.done():
        with contextlib.suppress(Exception):
            closing.result()


EXIT_WATCHDOG_SECONDS = 15.0
_watchdog_armed = threading.Event()


def arm_exit_watchdog() -> None:
    """After a terminating signal, leave for sure: if the orderly release (resume,
    detach) has not finished in time, exit hard; the target is still released, by the
    Delve guard when our connection drops, by the kernel for ptrace. Armed once."""
    if _watchdog_armed.is_set():
        return
    _watchdog_armed.set()
    timer = threading.Timer(EXIT_WATCHDOG_SECONDS, os._exit, args=(1,))
    timer.daemon = True
    timer.start()


@contextlib.contextmanager
def exit_signals(loop: asyncio.AbstractEventLoop,
                 leave: Callable[[str], None]) -> Iterator[None]:
    """While inside: SIGTERM/SIGHUP/SIGINT arm the exit watchdog and call
    leave(signal name) on the loop. Plain handlers (not loop.add_signal_handler) run
    even if the loop is stuck, and the watchdog makes sure we go: once this process
    is gone, the Delve guard releases the target on its own."""

    def on_signal(signum: int, _frame: object) -> None:
        arm_exit_watchdog()
        loop.call_soon_threadsafe(leave, signal.Signals(signum).name)

    with handling(EXIT_SIGNALS, on_signal):
        yield


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Big snapshots make many long-lived objects; Python's default GC thresholds
    then stall the event loop for hundreds of ms (measured at 100k goroutines)."""
    freeze_gc()
    gc.set_threshold(*GC_THRESHOLDS)


def freeze_gc() -> None:
    """What is there now (modules, the app) stays: the cyclic GC never looks at it
    again. After the first paint in the TUI: not on the way to it."""
    gc.collect()
    gc.freeze()


def _sixteen_colours() -> bool:
    term = os.environ.get("TERM", "")
    colorterm = os.environ.get("COLORTERM", "")
    return not colorterm and "256" not in term and term not in ("", "xterm-kitty")


# ----------------------------------------------------------------- entry point

def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    log_to_file()
    try:
        return int(args.func(args) or 0)
    except GotuiError as exc:
        if args.debug:
            raise
        print(f"gotui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, not a traceback
        if args.debug:
            raise
        print(f"gotui: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
              file=sys.stderr)
        return 1


def entry() -> NoReturn:
    with contextlib.suppress(BrokenPipeError):
        code = main()
        sys.stdout.flush()
        sys.exit(code)
    sys.exit(1)


if __name__ == "__main__":
    entry()
