"""What a wire message's fields may hold, how that is checked, and the error a bad
message raises. The message schemas (protocol.py) and the command table (commands.py)
are both written with these."""

from __future__ import annotations

from typing import Any

# field name -> (accepted types, required)
ArgSpec = dict[str, tuple[tuple[type, ...], bool]]
INT: tuple[type, ...] = (int,)
STR: tuple[type, ...] = (str,)
BOOL: tuple[type, ...] = (bool,)
DICT: tuple[type, ...] = (dict,)


class ProtocolError(Exception):
    """A message that breaks the protocol; answered with an `error` message."""

    def __init__(self, message: str, *, code: str = "bad_message",
                 msg_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.msg_id = msg_id

    def to_message(self) -> dict[str, Any]:
        return error_message(self.code, str(self), self.msg_id)


def error_message(code: str, message: str, msg_id: str | int | None = None) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "id": msg_id}


def is_type(value: Any, types: tuple[type, ...]) -> bool:
    # bool is an int in Python; the protocol keeps them apart
    if isinstance(value, bool) and bool not in types:
        return False
    return isinstance(value, types)


def check_fields(obj: dict[str, Any], spec: ArgSpec, where: str,
                 msg_id: str | int | None = None) -> None:
    for name, (types, required) in spec.items():
        if name not in obj:
            if required:
                raise ProtocolError(f"{where}: missing field {name!r}", msg_id=msg_id)
            continue
        if not is_type(obj[name], types):
            expected = "|".join(t.__name__ for t in types)
            raise ProtocolError(f"{where}: field {name!r} must be {expected}", msg_id=msg_id)
