"""Snapshot messages: built as text on the server, applied as JSON on the client.

The format is described in protocol.py. The server keeps each published snapshot as
one JSON text per goroutine (without its wait_ns, kept apart): comparing two snapshots
is string comparison, a full message is a join, and 100k goroutines are 100k strings
rather than millions of dicts for Python's cyclic GC to walk (its full collections
otherwise stall the host's event loop for seconds). Between builds a BodyCache keeps
each goroutine's text with the field values it was made from: a goroutine whose fields
but wait_ns are the same objects (the live reader reuses unchanged ones) or equal is
not encoded again, so a refresh of 100k mostly unchanged goroutines costs ~0.1-0.2 s
instead of ~3.5 s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from gotui.backends.model import (
    Goroutine,
    JsonConverter,
    Shared,
    Snapshot,
    goroutine_from_json,
)
from gotui.backends.remote.fields import ProtocolError
from gotui.backends.remote.protocol import (
    MAX_SNAPSHOT_BYTES,
    MAX_SNAPSHOT_GOROUTINES,
    MAX_SNAPSHOT_PARTS,
    encode,
)

# (locks ride with the meta fields: one small entry per lock with waiters)
SNAPSHOT_META = ("pid", "exe", "go_version", "source", "taken_at", "target_paused_ns",
                 "locks", "traceback_labels")
# A waiting goroutine's wait_ns grows on every snapshot; it is sent again only when the
# prediction (old wait_ns + the delta's wait_dt_ns) is off by more than this.
WAIT_TOLERANCE_NS = 100_000_000


# ----------------------------------------------------------------- server side

@dataclass
class TextSnapshot:
    """A published snapshot (server side): goroutine JSON texts by id, in host order."""

    seq: int
    meta_text: str  # the meta fields as JSON object members, without braces
    bodies: dict[int, str]  # goroutine JSON members but id and wait_ns, without braces
    waits: dict[int, int]
    channels_text: str  # JSON array
    files: set[str]  # source files named by any location in it or in an earlier build

    @classmethod
    def build(cls, seq: int, snap: Snapshot, cache: BodyCache | None = None) -> TextSnapshot:
        """`cache`: what the previous builds made (updated): goroutines whose fields
        other than wait_ns are unchanged are not encoded again."""
        if cache is None:
            cache = BodyCache()
        conv = JsonConverter()
        old_keys, old_bodies = cache.keys, cache.bodies
        same = cache.same_text
        keys: dict[int, tuple[Any, ...]] = {}
        bodies: dict[int, str] = {}
        waits: dict[int, int] = {}
        key_of = _BODY_KEY
        for g in snap.goroutines:
            gid = g.id
            key = key_of(g)
            known = old_keys.get(gid)
            if known == key:  # (tuple ==: `is` first, then ==)
                # keep the old key: 100k new tuples kept per build would cost full
                # collections of the cyclic GC
                keys[gid] = known
                bodies[gid] = old_bodies[gid]
            else:
                keys[gid] = key
                text = _encode_body(conv, g, key, cache.files)
                bodies[gid] = same(text, text)
            wait = g.wait_ns
            waits[gid] = wait if wait.__class__ is int else 0
        cache.keys, cache.bodies = keys, bodies
        cache.forget_old_texts()
        meta = {k: conv.value(getattr(snap, k)) for k in SNAPSHOT_META}
        return cls(seq, encode(meta)[1:-1], bodies, waits,
                   encode(conv.value(snap.channels) or []), set(cache.files))

    def goroutine_text(self, gid: int) -> str:
        return f'{{"wait_ns":{self.waits[gid]},"id":{gid},{self.bodies[gid]}}}'


# Every Goroutine field but id and wait_ns, in one C call: two goroutines with equal keys
# have the same JSON body.
_BODY_FIELDS = tuple(f.name for f in dataclasses.fields(Goroutine)
                     if f.name not in ("id", "wait_ns"))
_BODY_KEY = attrgetter(*_BODY_FIELDS)
_NAMES = tuple(f'"{n}":' for n in _BODY_FIELDS)


class BodyCache:
    """What TextSnapshot.build made of the goroutines of the last snapshot, by id.

    A key holds the previous snapshot's field values themselves (not copies): published
    snapshots are read-only for everyone, or an unchanged key could hide a change."""

    def __init__(self) -> None:
        self.keys: dict[int, tuple[Any, ...]] = {}
        self.bodies: dict[int, str] = {}
        self.files: set[str] = set()  # every source file named so far
        # one str per distinct body: goroutines parked alike (100k sleepers) differ only
        # in id and wait, so their bodies are one text, not 100k copies of ~900 bytes
        self.texts: dict[str, str] = {}
        self.same_text = self.texts.setdefault

    def forget_old_texts(self) -> None:
        """Bound `texts` to about the bodies in use."""
        if len(self.texts) > 2 * len(self.bodies) + 1000:
            self.texts.clear()
            self.texts.update((t, t) for t in self.bodies.values())


def _encode_body(conv: JsonConverter, g: Goroutine, key: tuple[Any, ...],
                 files: set[str]) -> str:
    """encode(to_json(g)) without id, wait_ns and braces, from the texts of its fields
    (a Location shared by many goroutines is encoded once); adds its source files."""
    for loc in (g.current, g.user_current, g.go_statement, g.start):
        if loc.file:
            files.add(loc.file)
    files.update(f.file for f in g.stack if f.file)
    return ",".join([name + conv.text(v) for name, v in zip(_NAMES, key, strict=True)])


def wait_growth(old: dict[int, int], new: dict[int, int]) -> int:
    """Median growth of wait_ns of goroutines waiting in both snapshots (0 if none).

    The reader's own clock between two reads, immune to when taken_at was stamped."""
    grown = sorted(w - old[gid] for gid, w in new.items() if w > 0 and old.get(gid, 0) > 0)
    return grown[len(grown) // 2] if grown else 0


def full_texts(snap: TextSnapshot, chunk: int) -> list[str]:
    """A full snapshot message, in parts of at most `chunk` goroutines."""
    ids = list(snap.bodies)
    parts = _parts_field(len(ids), chunk)
    head = (f'{{"type":"snapshot","full":true,"seq":{snap.seq}{parts},"snapshot":'
            f'{{{snap.meta_text},"goroutines":[{_texts(snap, ids[:chunk])}],'
            f'"channels":{snap.channels_text}}}}}')
    return [head, *_part_texts(snap, ids[chunk:], chunk)]


def delta_texts(base: TextSnapshot, new: TextSnapshot, chunk: int) -> list[str]:
    """The delta turning `base` into `new`, in parts of at most `chunk` goroutines."""
    dt = wait_growth(base.waits, new.waits)
    upsert: list[int] = []
    for gid, body in new.bodies.items():
        if base.bodies.get(gid) != body:
            upsert.append(gid)
            continue
        wa, wb = base.waits[gid], new.waits[gid]
        if (wa > 0 and wb > 0 and abs(wb - (wa + dt)) > WAIT_TOLERANCE_NS) or (
                (wa <= 0 or wb <= 0) and wa != wb):
            upsert.append(gid)
    removed = [gid for gid in base.bodies if gid not in new.bodies]
    gone = set(removed)
    expected = [gid for gid in base.bodies if gid not in gone]
    expected += [gid for gid in upsert if gid not in base.bodies]
    order = "" if expected == list(new.bodies) else f',"order":{encode(list(new.bodies))}'
    parts = _parts_field(len(upsert), chunk)
    head = (f'{{"type":"snapshot","full":false,"seq":{new.seq},"base":{base.seq}{parts},'
            f'"meta":{{{new.meta_text}}},"removed":{encode(removed)},'
            f'"channels":{new.channels_text},"wait_dt_ns":{dt}{order},'
            f'"upsert":[{_texts(new, upsert[:chunk])}]}}')
    return [head, *_part_texts(new, upsert[chunk:], chunk)]


def _parts_field(count: int, chunk: int) -> str:
    parts = max(1, (count + chunk - 1) // chunk)
    return f',"parts":{parts}' if parts > 1 else ""


def _texts(snap: TextSnapshot, ids: list[int]) -> str:
    """The goroutines' texts, comma separated (one part's: the texts of all of 100k
    goroutines at once were ~100 MB that the allocator kept)."""
    return ",".join([snap.goroutine_text(gid) for gid in ids])


def _part_texts(snap: TextSnapshot, ids: list[int], chunk: int) -> list[str]:
    return [f'{{"type":"snapshot_part","seq":{snap.seq},"index":{i // chunk + 1},'
            f'"items":[{_texts(snap, ids[i:i + chunk])}]}}' for i in range(0, len(ids), chunk)]


# ----------------------------------------------------------------- client side

_FORGOTTEN: dict[str, Any] = {}  # what forget_bodies leaves (shared: never changed)


class Made(dict[str, Any]):
    """A goroutine's JSON once a client has made its object: only its id is left (what
    the parts, deltas and order need), and the object."""

    __slots__ = ("goroutine",)

    def __init__(self, gid: int, goroutine: Goroutine) -> None:
        super().__init__(id=gid)
        self.goroutine = goroutine


def make_objects(msg: dict[str, Any], shared: Shared) -> None:
    """Make the goroutines of a snapshot message or part into objects, in place (each
    JSON becomes a Made). Raises ProtocolError if they are malformed."""
    try:
        items = msg["items"] if msg["type"] == "snapshot_part" else snapshot_items(msg)
        items[:] = [Made(int(d["id"]), goroutine_from_json(d, shared)) for d in items]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed snapshot: {exc}") from None


def made_goroutine(body: dict[str, Any]) -> Goroutine:
    """The object of a goroutine's JSON (made now if it was not yet)."""
    return body.goroutine if isinstance(body, Made) else goroutine_from_json(body)


@dataclass
class WireSnapshot:
    """A snapshot as a client holds it: goroutine JSON objects by id, in host order, each
    as it arrived. A waiting goroutine not resent has waited the deltas' wait_dt_ns
    longer since: `clock_ns` is their sum since the full snapshot, `received` the clock
    when each goroutine's JSON came (absent: 0), so a delta costs work per goroutine
    sent, not per goroutine (wait_ns() and predicted() give the waits)."""

    seq: int
    meta: dict[str, Any]
    goroutines: dict[int, dict[str, Any]]
    channels: list[Any]
    clock_ns: int = 0
    received: dict[int, int] = field(default_factory=dict)
    bodies: bool = True  # False: the JSON of goroutines not sent last was let go

    def forget_bodies(self, sent: list[int] | None = None) -> None:
        """Let the JSON go and keep the ids in order: a client that has made its objects
        from it needs no more (the next delta applies to ids). At 100k goroutines the
        JSON is about as big as the objects. `sent`: the goroutines whose JSON came last,
        if the rest was let go already (work per goroutine sent, not per goroutine)."""
        if sent is None or self.bodies:
            self.goroutines = dict.fromkeys(self.goroutines, _FORGOTTEN)
        else:
            goroutines = self.goroutines
            for gid in sent:
                goroutines[gid] = _FORGOTTEN
        self.bodies = False

    @classmethod
    def from_json(cls, seq: int, snap: dict[str, Any]) -> WireSnapshot:
        return cls(seq, {k: snap.get(k) for k in SNAPSHOT_META},
                   {int(g["id"]): g for g in snap.get("goroutines") or []},
                   list(snap.get("channels") or []))

    def wait_ns(self, gid: int) -> int:
        """Goroutine `gid`'s wait now: as sent, plus the growth since it was."""
        if not self.bodies:
            raise ValueError("the goroutines' JSON was let go (forget_bodies)")
        wait = self.goroutines[gid].get("wait_ns", 0)
        if not isinstance(wait, int) or wait <= 0:
            return 0
        return wait + self.clock_ns - self.received.get(gid, 0)

    def predicted(self) -> dict[int, dict[str, Any]]:
        """The goroutines' JSON with their waits now."""
        out = {}
        for gid, g in self.goroutines.items():
            wait = self.wait_ns(gid)
            out[gid] = {**g, "wait_ns": wait} if wait != g.get("wait_ns", 0) else g
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.meta, "goroutines": list(self.predicted().values()),
                "channels": self.channels}


def snapshot_items(msg: dict[str, Any]) -> list[Any]:
    items = msg["snapshot"]["goroutines"] if msg["full"] else msg["upsert"]
    if not isinstance(items, list):
        raise TypeError("goroutines are not a list")
    return items


class PartsAssembler:
    """Joins a multi-part snapshot message back into one, within bounds (a hostile or
    broken host cannot make it hold more than MAX_SNAPSHOT_GOROUTINES goroutines or
    MAX_SNAPSHOT_BYTES of message text, in at most MAX_SNAPSHOT_PARTS parts)."""

    def __init__(self) -> None:
        self._msg: dict[str, Any] | None = None
        self._next = 0
        self._items = 0
        self._bytes = 0

    def feed(self, msg: dict[str, Any], size: int = 0) -> dict[str, Any] | None:
        """Give every snapshot/snapshot_part message (`size`: its length on the wire);
        returns a whole snapshot message when one is complete. Raises ProtocolError on
        parts out of order or beyond the bounds."""
        if msg["type"] == "snapshot":
            parts = msg.get("parts", 1)
            self._msg = None
            if parts <= 1:
                return msg
            if parts > MAX_SNAPSHOT_PARTS:
                raise ProtocolError(f"snapshot in {parts} parts (at most {MAX_SNAPSHOT_PARTS})")
            try:
                first = snapshot_items(msg)
            except (KeyError, TypeError) as exc:
                raise ProtocolError(f"malformed snapshot: {exc}") from None
            self._msg, self._next = msg, 1
            self._items, self._bytes = 0, 0
            self._count(len(first), size)
            return None
        head = self._msg
        if head is None or msg["seq"] != head["seq"] or msg["index"] != self._next:
            self._msg = None
            raise ProtocolError(f"snapshot part {msg['index']} of seq {msg['seq']} out of order")
        self._count(len(msg["items"]), size)
        snapshot_items(head).extend(msg["items"])
        self._next += 1
        if self._next < head["parts"]:
            return None
        self._msg = None
        return head

    def _count(self, items: int, size: int) -> None:
        self._items += items
        self._bytes += size
        if self._items > MAX_SNAPSHOT_GOROUTINES or self._bytes > MAX_SNAPSHOT_BYTES:
            self._msg = None
            raise ProtocolError(f"snapshot larger than {MAX_SNAPSHOT_GOROUTINES} goroutines "
                                f"or {MAX_SNAPSHOT_BYTES >> 20} MB: dropped")


def apply_delta(base: WireSnapshot, msg: dict[str, Any]) -> WireSnapshot:
    """Apply a (whole) delta message to `base`. Raises ProtocolError if it does not fit."""
    if msg.get("base") != base.seq:
        raise ProtocolError(f"snapshot delta for seq {msg.get('base')}, have {base.seq}")
    try:
        clock = base.clock_ns + int(msg.get("wait_dt_ns", 0))  # the waits not resent grew
        new = WireSnapshot(int(msg["seq"]), dict(msg["meta"]), {}, list(msg["channels"]),
                           clock, bodies=base.bodies)
        goroutines = dict(base.goroutines)
        received = dict(base.received)
        for gid in msg["removed"]:
            goroutines.pop(int(gid), None)
            received.pop(int(gid), None)
        for g in msg["upsert"]:
            gid = int(g["id"])
            goroutines[gid] = g
            received[gid] = clock
        new.received = received
        order = msg.get("order")
        if order is not None:
            goroutines = {int(gid): goroutines[int(gid)] for gid in order}
        new.goroutines = goroutines
        return new
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed snapshot delta: {exc}") from None
