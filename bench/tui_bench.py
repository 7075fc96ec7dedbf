"""The TUI at scale, measured from outside: the real `gotui attach <pid> --no-ebpf` in
tmux on the `live_stall` fixture (N goroutines parked in time.Sleep).

    .venv/bin/python bench/tui_bench.py [--sizes 10000,100000,1000000] [--minutes 10]
        [--rounds 5] [--paint-runs 5] [--cpu-window 60] [--no-delve]

For each size, on one running target:
  - command start -> goroutine list painted (tmux 80x24): the time from starting the
    command in a fresh terminal until a goroutine row shows (only at --paint-size,
    10k by default), next to Delve's `dlv attach` + ListGoroutines (every page, over
    JSON-RPC) on the same target in the same run;
  - in a 120x30 terminal (the wide layout), default 1 s refresh:
    - steady CPU share of gotui's process over --cpu-window seconds, no keys pressed
      (after a first minute to settle), and the refresh interval the header shows;
    - key -> effect painted, while refreshes run: send the key, poll the screen until
      the expected change shows: `G` (group), `S` (sort), `/main.sleeper` (the whole
      filter typed at once), one keystroke of a filter being typed (`r` after
      `/main.sleepe`), `j` x20, Enter on a group header (fold it); --rounds
      times each, median and worst;
    - the floor: the filter keys on bench/floor_app.py, a Textual app with a line and a
      prompt, through the same tmux harness (what any Textual app takes);
    - RSS of gotui's process at 1, 5 and 10 minutes (--minutes shortens the run: the
      marks past it are left out).
    - with --screen-keys, a second table: the keys that change the layout or the
      screen (`7`, `8`, `1`, `?` to open and to close help), `u` and `g <id>` Enter,
      each round after the main one.
With --join, the TUI is a joiner's (`gotui join`) of a `gotui share --headless` host
on the target, and the host's CPU share and RSS over the same window are printed too.
Prints a markdown table. Asserts nothing. The machine may be shared: say so with the
numbers (the load average is printed).
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_bench import DelveClient  # noqa: E402

from tests import gofixtures  # noqa: E402
from tests.tmux import TmuxSession  # noqa: E402

GOTUI = str(ROOT / ".venv" / "bin" / "gotui")
ROW = re.compile(r"^│\s*[ +\-]?\s*(\d+) (?:waiting|running|runnable|syscall|idle)", re.M)
POLL = 0.004
SGR = re.compile(r"\x1b\[([0-9;]*)m")


def byte_compile(tree: Path) -> None:
    """An installed gotui has its bytecode (pip compiles a wheel's modules); a source
    tree run with PYTHONDONTWRITEBYTECODE (this machine's default) would compile every
    module on every start: measure it as installed."""
    for package in ("tui", "backends", "gotui"):
        if (tree / package).is_dir():
            compileall.compile_dir(str(tree / package), quiet=1)


def attach_command(pid: int, gotui: str = GOTUI) -> list[str]:
    return [gotui, "attach", str(pid), "--no-ebpf"]


@contextlib.contextmanager
def shared(pid: int) -> Iterator[tuple[list[str], dict[str, str], psutil.Process]]:
    """A headless share host on `pid`: (the joiner's command, its environment, host)."""
    host = subprocess.Popen([GOTUI, "share", str(pid), "--listen", "127.0.0.1:0",
                             "--headless"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        assert host.stdout is not None
        info = json.loads(host.stdout.readline())
        yield ([GOTUI, "join", info["url"]], {"GOTUI_TOKEN": info["driver_token"]},
               psutil.Process(host.pid))
    finally:
        host.terminate()
        host.wait(timeout=60)


def wait_screen(tui: TmuxSession, ok: Callable[[str], bool], timeout: float = 60.0,
                escapes: bool = False) -> tuple[float, str]:
    """Poll until ok(screen); (monotonic time it was seen, screen)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = tui.capture(escapes=escapes)
        now = time.monotonic()
        if ok(screen):
            return now, screen
        if now > deadline:
            raise TimeoutError(f"screen never got there:\n{SGR.sub('', screen)}")
        time.sleep(POLL)


# ----------------------------------------------------------------- first paint

def first_paint(pid: int, gotui: str = GOTUI) -> float:
    tui = TmuxSession(attach_command(pid, gotui), width=80, height=24)
    t0 = time.monotonic()
    tui.start()
    try:
        seen, _ = wait_screen(tui, lambda s: ROW.search(s) is not None, timeout=120)
        return seen - t0
    finally:
        quit_tui(tui)


def quit_tui(tui: TmuxSession) -> None:
    try:
        if not tui.exited():
            tui.send_keys("C-c")  # resume, detach and exit
            tui.wait_exit(30)
    finally:
        tui.kill()


def delve_attach_list(pid: int) -> float:
    t0 = time.monotonic()
    dlv = DelveClient(pid)
    try:
        dlv.list_all()
        return time.monotonic() - t0
    finally:
        dlv.detach()
        gofixtures.wait_untraced(pid, timeout=30)


# ----------------------------------------------------------------- the list on screen

def list_lines(screen: str) -> list[str]:
    """The goroutine list's lines (plain text), from the first row under the titles."""
    lines = screen.splitlines()
    start = next((i for i, ln in enumerate(lines) if " id status" in ln), None)
    if start is None:
        return []
    out = []
    for ln in lines[start + 1:]:
        if ln.startswith("╰") or not ln.startswith("│"):
            break
        out.append(ln)
    return out


def cursor_row(screen_esc: str) -> int | None:
    """Index (in list_lines) of the highlighted row: the one line of the list drawn
    with the cursor's background (the accent colour, different from every other)."""
    lines = screen_esc.splitlines()
    plain = [SGR.sub("", ln) for ln in lines]
    start = next((i for i, ln in enumerate(plain) if " id status" in ln), None)
    if start is None:
        return None
    backgrounds: dict[str, list[int]] = {}
    row = 0
    for ln, text in zip(lines[start + 1:], plain[start + 1:], strict=True):
        if text.startswith("╰") or not text.startswith("│"):
            break
        for codes in SGR.findall(ln[1:]):
            parts = codes.split(";")
            for j in range(len(parts) - 2):
                if parts[j] == "48" and parts[j + 1] == "5":
                    backgrounds.setdefault(parts[j + 2], []).append(row)
        row += 1
    singles = [rows[0] for rows in backgrounds.values() if len(set(rows)) == 1]
    return singles[0] if len(singles) == 1 else None


def border_colour(screen_esc: str, title: str) -> str | None:
    """The foreground colour (its SGR parameters) of the corner of the pane titled
    `title`: the focused pane's border has the accent colour, every other the same dim
    one. None while no pane has that title."""
    at = screen_esc.find(f"╭─ {title}")
    if at < 0:
        return None
    colour = ""
    for m in SGR.finditer(screen_esc, 0, at):
        parts = m.group(1).split(";") if m.group(1) else ["0"]
        i = 0
        while i < len(parts):
            p = parts[i]
            if p in ("38", "48") and i + 1 < len(parts):  # 38;5;N, 38;2;R;G;B
                n = 3 if parts[i + 1] == "5" else 5
                if p == "38":
                    colour = ";".join(parts[i:i + n])
                i += n
                continue
            if p in ("0", "", "39") or (p.isdigit() and (30 <= int(p) <= 37 or 90 <= int(p) <= 97)):
                colour = "" if p in ("0", "", "39") else p
            i += 1
    return colour


def subtitle(screen: str) -> str:
    return next((ln for ln in screen.splitlines() if ln.startswith("╰")), "")


# ----------------------------------------------------------------- keys

def timed_key(tui: TmuxSession, send: Callable[[], None], ok: Callable[[str], bool],
              escapes: bool = False) -> float:
    t0 = time.monotonic()
    send()
    seen, _ = wait_screen(tui, ok, timeout=120, escapes=escapes)
    return seen - t0


def until(tui: TmuxSession, ok: Callable[[str], bool], escapes: bool = False) -> str:
    return wait_screen(tui, ok, timeout=120, escapes=escapes)[1]


def group_off(s: str) -> bool:
    return "group:" not in subtitle(s)


def j20_state(screen_esc: str) -> str:
    """The id of the goroutine under the cursor ("" if none shows)."""
    lines = list_lines(SGR.sub("", screen_esc))
    row = cursor_row(screen_esc)
    found = ROW.search(lines[row]) if row is not None and row < len(lines) else None
    return found.group(1) if found else ""


def j20_target(tui: TmuxSession) -> str:
    tui.send_keys("Home")
    until(tui, lambda s: cursor_row(s) == 0, escapes=True)
    tui.send_keys(*["j"] * 20)
    last, since = "", time.monotonic()
    while time.monotonic() - since < 1.0 or not last:  # settled: the same for a second
        state = j20_state(tui.capture(escapes=True))
        if state != last:
            last, since = state, time.monotonic()
        time.sleep(0.05)
    return last


def key_round(tui: TmuxSession) -> dict[str, float]:
    out: dict[str, float] = {}
    until(tui, group_off)
    # G: group by user location
    out["G"] = timed_key(tui, lambda: tui.send_keys("G"),
                         lambda s: "group: user location" in subtitle(s))
    # Enter on a group header: it folds (▼ -> ▶)
    tui.send_keys("Home")
    until(tui, lambda s: bool(list_lines(s)) and list_lines(s)[0][1:2] == "▼")
    out["Enter on a group"] = timed_key(
        tui, lambda: tui.send_keys("Enter"), lambda s: list_lines(s)[0][1:2] == "▶")
    tui.send_keys("Enter")
    until(tui, lambda s: list_lines(s)[0][1:2] == "▼")
    for _ in range(4):  # back to no grouping
        tui.send_keys("G")
    until(tui, group_off)
    # S: sort by wait, then back to id
    out["S"] = timed_key(tui, lambda: tui.send_keys("S"),
                         lambda s: "sort: wait" in subtitle(s))
    tui.send_keys("S", "S")
    until(tui, lambda s: "sort: id" in subtitle(s))
    # /text: the whole filter at once; done when the count for the whole text shows
    want = re.compile(r"filter: 'main\.sleeper' \d+/\d+")
    out["/main.sleeper"] = timed_key(
        tui, lambda: (tui.send_keys("/"), tui.send_text("main.sleeper")),
        lambda s: want.search(subtitle(s)) is not None)
    tui.send_keys("Enter", "Escape")
    until(tui, lambda s: "filter:" not in subtitle(s))
    # one keystroke of a filter being typed: the prompt is open on "main.sleepe"
    tui.send_keys("/")
    tui.send_text("main.sleepe")
    until(tui, lambda s: "filter: 'main.sleepe'" in subtitle(s))
    out["filter keystroke"] = timed_key(tui, lambda: tui.send_text("r"),
                                        lambda s: want.search(subtitle(s)) is not None)
    tui.send_keys("Enter", "Escape")
    until(tui, lambda s: "filter:" not in subtitle(s))
    # j x20 from the top: the cursor ends 20 rows down. Where that is (the row on top of
    # the list then) is learnt once, untimed, and the timed press waits for that screen.
    top_after = j20_target(tui)
    tui.send_keys("Home")
    until(tui, lambda s: cursor_row(s) == 0, escapes=True)
    out["j x20"] = timed_key(tui, lambda: tui.send_keys(*["j"] * 20),
                             lambda s: j20_state(s) == top_after, escapes=True)
    return out


REACTION = 0.1  # s: a person presses a key at least this long after seeing the last one's effect


def reacted_key(tui: TmuxSession, send: Callable[[], None], ok: Callable[[str], bool],
                escapes: bool = False) -> float:
    """timed_key, REACTION after the last key's effect showed. Sent sooner, a key can
    wait up to a frame (17 ms) for the repaint timer, which paints at most once a
    frame: a wait no person pressing keys would meet."""
    time.sleep(REACTION)
    return timed_key(tui, send, ok, escapes)


def screen_round(tui: TmuxSession, n: int) -> dict[str, float]:
    """Keys that change the layout or the screen (--screen-keys), and two list keys the
    main round leaves out; each until the screen shows its whole effect: for a pane
    key, the pane shown and its border in the accent colour (the focus moved there)."""
    out: dict[str, float] = {}
    accent = border_colour(until(tui, lambda s: border_colour(s, "1 ") is not None,
                                 escapes=True), "1 ")

    def focused(title: str) -> Callable[[str], bool]:
        return lambda s: border_colour(s, title) == accent

    out["7 (Blocking pane)"] = reacted_key(tui, lambda: tui.send_keys("7"), focused("7 "),
                                         escapes=True)
    out["8 (Findings pane)"] = reacted_key(tui, lambda: tui.send_keys("8"), focused("8 "),
                                         escapes=True)
    out["1 (list and lower panes)"] = reacted_key(
        tui, lambda: tui.send_keys("1"), lambda s: "2 Stack" in s and focused("1 ")(s),
        escapes=True)
    out["? (help)"] = reacted_key(tui, lambda: tui.send_keys("?"), lambda s: "gotui keys" in s)
    out["? (help closed)"] = reacted_key(tui, lambda: tui.send_keys("?"),
                                       lambda s: "gotui keys" not in s)
    # a bare Escape reaches the app once the terminal parser has waited its delay for
    # the rest of a sequence (tui/terminal_driver.py: 10 ms)
    tui.send_keys("?")
    until(tui, lambda s: "gotui keys" in s)
    out["Esc (help closed)"] = reacted_key(tui, lambda: tui.send_keys("Escape"),
                                         lambda s: "gotui keys" not in s)
    for key in "245906":  # 6 last: digits typed in the eval prompt are text
        out[f"{key} (pane)"] = reacted_key(tui, lambda k=key: tui.send_keys(k),
                                         focused(f"{key} "), escapes=True)
    out["Esc (eval left)"] = reacted_key(tui, lambda: tui.send_keys("Escape"),
                                       lambda s: not focused("6 ")(s), escapes=True)
    tui.send_keys("1")
    until(tui, focused("1 "), escapes=True)
    # dialogs: the quit dialog, the breakpoint form, why is this goroutine stuck; each
    # closed with Escape
    for key, shown in (("q", "Leave gotui?"), ("b", "New breakpoint"), ("w", "stuck?")):
        out[f"{key} (dialog)"] = reacted_key(tui, lambda k=key: tui.send_keys(k),
                                           lambda s, m=shown: m in s)
        out[f"Esc ({key} dialog closed)"] = reacted_key(
            tui, lambda: tui.send_keys("Escape"), lambda s, m=shown: m not in s)
    out["u (runtime location)"] = reacted_key(tui, lambda: tui.send_keys("u"),
                                            lambda s: "runtime location" in s)
    tui.send_keys("u")
    until(tui, lambda s: "runtime location" not in s)
    goid = str(n * 7 // 9)  # (the fixture's sleepers: every id up to n is one)
    tui.send_keys("g")
    tui.send_text(goid[:-1])
    until(tui, lambda s: goid[:-1] in s)
    out["g <id> Enter (jump)"] = reacted_key(
        tui, lambda: (tui.send_text(goid[-1]), tui.send_keys("Enter")),
        lambda s: j20_state(s) == goid, escapes=True)
    tui.send_keys("Home")
    until(tui, lambda s: cursor_row(s) == 0, escapes=True)
    return out


# ----------------------------------------------------------------- the floor

def floor_keys(rounds: int) -> dict[str, list[float]]:
    """The filter keys on bench/floor_app.py (a line and a prompt) through the same
    harness: what any Textual app takes, the floor under gotui's numbers."""
    app = TmuxSession([sys.executable, str(ROOT / "bench" / "floor_app.py")],
                      width=120, height=30)
    app.start()
    out: dict[str, list[float]] = {"/main.sleeper": [], "filter keystroke": []}
    try:
        until(app, lambda s: "filter: ''" in s)
        for _ in range(rounds):
            out["/main.sleeper"].append(timed_key(
                app, lambda: (app.send_keys("/"), app.send_text("main.sleeper")),
                lambda s: "filter: 'main.sleeper' 1/1" in s))
            app.send_keys("Escape")
            until(app, lambda s: "filter: ''" in s)
            app.send_keys("/")
            app.send_text("main.sleepe")
            until(app, lambda s: "filter: 'main.sleepe' 1/1" in s)
            out["filter keystroke"].append(timed_key(
                app, lambda: app.send_text("r"), lambda s: "filter: 'main.sleeper' 1/1" in s))
            app.send_keys("Escape")
            until(app, lambda s: "filter: ''" in s)
            time.sleep(0.3)
    finally:
        app.kill()
    return out


# ----------------------------------------------------------------- one size

def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


def refresh_label(screen: str) -> str:
    m = re.search(r"refresh: ([^·\n]*)", screen)
    return m.group(1).strip() if m else "?"


def bench_size(exe: Path, n: int, args: argparse.Namespace) -> dict[str, object]:
    res: dict[str, object] = {"n": n}
    with gofixtures.run(exe, "-sleep", str(n), "-gc", timeout=600) as target:
        res["count"] = target.ready_line.split()[-1]
        if n == args.paint_size and not args.join:
            paints: dict[str, list[float]] = {g: [] for g in args.gotui}
            delves = []
            for _ in range(args.paint_runs):  # alternate: all see the same machine
                for gotui in args.gotui:
                    paints[gotui].append(first_paint(target.pid, gotui))
                if not args.no_delve:
                    delves.append(delve_attach_list(target.pid))
            res["paint"] = paints
            res["delve"] = delves
        if args.paint_only:
            return res
        with contextlib.ExitStack() as stack:
            if args.join:
                command, env, host = stack.enter_context(shared(target.pid))
            else:
                command, env, host = attach_command(target.pid), {}, None
            tui_keys_rss(res, TmuxSession(command, width=120, height=30, env=env), host, args)
        gofixtures.wait_untraced(target.pid)
    return res


def tui_keys_rss(res: dict[str, object], tui: TmuxSession, host: psutil.Process | None,
                 args: argparse.Namespace) -> None:
    """CPU, keys and RSS of the TUI in `tui` (and the share host's CPU and RSS)."""
    t_start = time.monotonic()
    tui.start()
    try:
        wait_screen(tui, lambda s: ROW.search(s) is not None, timeout=600)
        proc = psutil.Process(tui.pid)
        rss: dict[int, float] = {}

        def sample_rss() -> None:
            minute = int((time.monotonic() - t_start) // 60)
            if minute in (1, 5, 10) and minute not in rss:
                rss[minute] = proc.memory_info().rss / 2**20

        settle = t_start + 60
        while time.monotonic() < settle:
            time.sleep(1)
        sample_rss()
        c0, w0 = cpu_seconds(proc), time.monotonic()
        h0 = cpu_seconds(host) if host is not None else 0.0
        time.sleep(args.cpu_window)
        res["cpu"] = (cpu_seconds(proc) - c0) / (time.monotonic() - w0)
        if host is not None:
            res["host_cpu"] = (cpu_seconds(host) - h0) / (time.monotonic() - w0)
        res["refresh"] = refresh_label(tui.capture())
        sample_rss()
        keys: dict[str, list[float]] = {}
        screen_keys: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for name, seconds in key_round(tui).items():
                keys.setdefault(name, []).append(seconds)
            sample_rss()
            time.sleep(1.5)  # let a refresh land between rounds
            if args.screen_keys:
                for name, seconds in screen_round(tui, res["n"]).items():  # type: ignore[arg-type]
                    screen_keys.setdefault(name, []).append(seconds)
                time.sleep(1.5)
        res["keys"] = keys
        res["screen_keys"] = screen_keys
        end = t_start + args.minutes * 60
        while time.monotonic() < end:
            sample_rss()
            time.sleep(1)
        sample_rss()
        res["rss"] = rss
        res["rss_end"] = proc.memory_info().rss / 2**20
        if host is not None:
            res["host_rss"] = host.memory_info().rss / 2**20
    finally:
        quit_tui(tui)


def ms(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values) * 1000:.0f} ms (worst {max(values) * 1000:.0f})"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--paint-runs", type=int, default=5)
    ap.add_argument("--paint-size", type=int, default=10_000)
    ap.add_argument("--cpu-window", type=float, default=60.0)
    ap.add_argument("--no-delve", action="store_true")
    ap.add_argument("--gotui", action="append", default=[],
                    help="gotui command(s) to compare at first paint (default: this tree's)")
    ap.add_argument("--tree", action="append", default=[],
                    help="source tree of another --gotui, byte-compiled like this one")
    ap.add_argument("--no-floor", action="store_true",
                    help="leave out the floor row (the same keys on a two-widget Textual app)")
    ap.add_argument("--join", action="store_true",
                    help="the TUI of a joiner of a headless share host on the target")
    ap.add_argument("--screen-keys", action="store_true",
                    help="also time the keys that change the layout or the screen (panes, "
                         "help) and two more list keys (u, jump by id): a second table")
    ap.add_argument("--paint-only", action="store_true",
                    help="only command start -> painted list (and Delve), at --paint-size")
    args = ap.parse_args()
    args.gotui = args.gotui or [GOTUI]
    byte_compile(ROOT)
    for tree in args.tree:
        byte_compile(Path(tree))
    exe = gofixtures.build("live_stall", optimize=True)
    rows = []
    sizes = [str(args.paint_size)] if args.paint_only else args.sizes.split(",")
    for s in sizes:
        rows.append(bench_size(exe, int(s), args))
        print(f"  done {s}: {rows[-1]}", file=sys.stderr, flush=True)
    floor = None if args.no_floor or args.paint_only else floor_keys(args.rounds)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cpus; commit "
          f"{subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, text=True, capture_output=True).stdout.strip()}")
    print()
    for r in rows:
        if "paint" in r:
            paints = r["paint"]
            delve = r["delve"]
            assert isinstance(paints, dict) and isinstance(delve, list)
            print(f"command start -> list painted, tmux 80x24, {r['count']} goroutines; "
                  f"Delve attach+ListGoroutines {ms(delve)}:")
            for gotui, paint in paints.items():
                ratio = (f"{statistics.median(paint) / statistics.median(delve):.2f}x"
                         if delve else "—")
                print(f"  {gotui}: {ms(paint)}, gotui/Delve {ratio}")
    print()
    if args.paint_only:
        return
    names = ("G", "S", "/main.sleeper", "filter keystroke", "j x20", "Enter on a group")
    print("| goroutines | steady CPU (refresh shown) | "
          + " | ".join(f"`{k}` → painted" for k in names)
          + " | RSS 1 / 5 / 10 min |")
    print("|---:|---|" + "---|" * len(names) + "---|")
    for r in rows:
        keys = r["keys"]
        rss = r["rss"]
        assert isinstance(keys, dict) and isinstance(rss, dict)
        cpu = r["cpu"]
        assert isinstance(cpu, float)
        marks = " / ".join(f"{rss[m]:.0f}" if m in rss else "—" for m in (1, 5, 10))
        host = (f"; host {r['host_cpu'] * 100:.0f} %, {r['host_rss']:.0f} MB"  # type: ignore[operator]
                if "host_cpu" in r else "")
        print(f"| {r['count']} | {cpu * 100:.0f} % ({r['refresh']}{host}) | "
              + " | ".join(ms(keys.get(k, [])) for k in names)
              + f" | {marks} MB |")
    if floor is not None:
        print("| floor: bench/floor_app.py (a line and a prompt), same harness | — | "
              + " | ".join(ms(floor.get(k, [])) for k in names) + " | — |")
    if args.screen_keys:
        screen_names = list(rows[0]["screen_keys"])  # type: ignore[call-overload]
        print()  # a row per key: there are more keys than sizes
        print("| key → painted | " + " | ".join(f"{r['count']} goroutines" for r in rows) + " |")
        print("|---|" + "---|" * len(rows))
        for name in screen_names:
            print(f"| `{name}` | " + " | ".join(
                ms(r["screen_keys"].get(name, [])) for r in rows) + " |")  # type: ignore[union-attr]


if __name__ == "__main__":
    main()
