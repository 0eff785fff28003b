"""Thread ids as written in ``H``, ``T``, ``vCont``, ``qC`` and stop replies.

A thread id is ``-1`` (all threads), ``0`` (any thread) or a positive hex
number; with the multiprocess extension it may be ``p<pid>.<tid>`` or
``p<pid>`` (every thread of that process). Here vCPUs are threads.
"""

from __future__ import annotations

from dataclasses import dataclass

from .hexutil import HexError, parse_hex_int

ALL = -1
ANY = 0


@dataclass(frozen=True, slots=True)
class ThreadId:
    """``pid`` is ``None`` when the peer used the plain (non-multiprocess) form."""

    tid: int
    pid: int | None = None

    @property
    def is_all(self) -> bool:
        return self.tid == ALL

    @property
    def is_any(self) -> bool:
        return self.tid == ANY

    def encode(self, *, multiprocess: bool, default_pid: int = 1) -> bytes:
        """Wire form; ``default_pid`` fills in a missing pid in multiprocess form."""
        tid = _encode_part(self.tid)
        if not multiprocess:
            return tid
        pid = default_pid if self.pid is None else self.pid
        return b"p" + _encode_part(pid) + b"." + tid

    @classmethod
    def parse(cls, text: bytes) -> ThreadId:
        if text.startswith(b"p"):
            pid_text, dot, tid_text = text[1:].partition(b".")
            pid = _parse_part(pid_text)
            tid = _parse_part(tid_text) if dot else ALL
            return cls(tid=tid, pid=pid)
        return cls(tid=_parse_part(text))


def _parse_part(text: bytes) -> int:
    if text == b"-1":
        return ALL
    try:
        # Thread and process ids are at most 32 bits in every known stub.
        return parse_hex_int(text, max_digits=8)
    except HexError as err:
        raise ValueError(f"bad thread id {text[:32]!r}") from err


def _encode_part(value: int) -> bytes:
    return b"-1" if value == ALL else b"%x" % value
