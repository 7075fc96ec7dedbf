"""One line about eBPF: why it is off, or each probe's hit rate, lost events and the
overhead guard's state. Fits 80 columns: the guard's words come first when it acts."""

from __future__ import annotations

from typing import Any

from gotui.backends.model import Event
from rich.text import Text
from textual.widget import Widget

SHORT = {"created": "new", "exited": "exit", "blocked": "block", "unblocked": "ready"}


def rate(r: float) -> str:
    """Hits per second: `2.4k`, `37`, `0.5` (a slow probe is not `0`)."""
    if r >= 1000:
        return f"{r / 1000:.1f}k"
    return f"{r:.0f}" if r >= 10 or r == 0 else f"{r:.1f}"


def status_text(status: Event | None, guards: dict[str, Event] | None = None) -> Text:
    """From the feed's last `probes` event and the last `guard` event of each probe."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if status is None:
        text.append("eBPF: ", style="bold")
        text.append("not started on this session", style="dim")
        return text
    data: dict[str, Any] = status.data
    if not data.get("available", False):
        text.append("eBPF off", style="bold yellow")
        if data.get("by_host"):
            text.append(" (see gotui doctor)", style="yellow")
        text.append(": ", style="bold yellow")
        text.append(status.message)
        text.append(" · lifecycle from snapshots", style="dim")
        return text
    if data.get("starting"):
        text.append("eBPF: ", style="bold")
        text.append(f"{status.message}…", style="italic")
        return text
    text.append("eBPF", style="bold")
    probes = data.get("probes") or []
    sampled = [p for p in probes if p.get("state") in ("off", "window", "disabled")]
    if sampled:
        p = sampled[0]
        guard = (guards or {}).get(p["key"])
        duty = guard.data.get("duty") if guard is not None else None
        at = guard.data.get("hits_per_s", p["hits_per_s"]) if guard is not None \
            else p["hits_per_s"]
        how = (f"sampling 1/{round(1 / duty)}" if duty else "sampling") \
            if p["state"] != "disabled" else "off"
        more = f" (+{len(sampled) - 1})" if len(sampled) > 1 else ""
        text.append(f" guard: {p['key']}{more} detached at {rate(at)} hits/s, {how} ·",
                    style="bold red")
    cpu = sum(float(p.get("est_cpu", 0.0)) for p in probes if p.get("attached"))
    text.append(f" ~{cpu:.2%} CPU" if cpu < 0.1 else f" ~{cpu:.0%} CPU",
                style="green" if cpu <= data.get("budget", 0.03) else "red")
    for p in probes:
        name = SHORT.get(p["key"], p["key"])
        text.append(f" {name} {rate(p['hits_per_s'])}/s")
    lost = int(data.get("lost", 0))
    text.append(f" · lost {lost}", style="bold red" if lost else "dim")
    if data.get("deep"):
        text.append(" · deep", style="dim")
    return text


class ProbeStatus(Widget):
    DEFAULT_CSS = "ProbeStatus { height: 1; background: $boost; padding: 0 1; }"

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self.status: Event | None = None
        self.guards: dict[str, Event] = {}

    def show(self, status: Event | None, guards: dict[str, Event] | None = None) -> None:
        self.status = status
        self.guards = guards or {}
        self.refresh()

    def render(self) -> Text:
        return status_text(self.status, self.guards)
