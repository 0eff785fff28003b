"""Packet framing: ``$payload#cs`` on the wire, acknowledgements and Ctrl-C.

Contract (GDB manual, "Overview" and "Binary Data" of the remote protocol
appendix):

* a packet is ``$``, the body, ``#`` and two hex digits holding the sum of
  the body bytes modulo 256;
* inside the body ``}`` escapes the next byte (XOR 0x20) and ``X*c`` repeats
  ``X`` ``ord(c) - 29`` more times; ``c`` may not be ``#`` or ``$`` and may
  not exceed 126;
* between packets the peer may send ``+``/``-`` acknowledgements and the
  0x03 interrupt byte; anything else there is noise and is skipped.

The decoder is sans-IO: feed it any chunking of the stream and it returns the
same events. Its memory is bounded by ``max_payload`` whatever the peer sends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto

from .constants import DEFAULT_MAX_PACKET

ESCAPE = 0x7D  # '}'
RLE_MARK = 0x2A  # '*'
INTERRUPT = 0x03
RLE_BIAS = 29
RLE_MAX_COUNT = 126
#: Count characters a repeat may never use. GDB forbids '#' and '$'; we also
#: avoid '*' and '}' when *encoding* because some clients unescape before they
#: expand runs and would misread them (the decoder still accepts both).
_RLE_FORBIDDEN_DECODE = frozenset(b"#$")
_RLE_AVOID_ENCODE = frozenset(b"#$*}")
#: Bytes that must never appear raw in a packet body.
NEEDS_ESCAPE = frozenset(b"$#}*")

_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_NEEDS_ESCAPE_RE = re.compile(rb"[$#}*]")
_ESCAPED_BYTES = (b"$", b"#", b"}", b"*")
_IDLE_INTEREST = re.compile(rb"[$+\-\x03]")
_BODY_END = re.compile(rb"[#$]")
_BODY_SPECIAL = re.compile(rb"[}*]")


# --- events -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketReceived:
    """A packet whose checksum matched; ``payload`` is unescaped and expanded."""

    payload: bytes


@dataclass(frozen=True, slots=True)
class AckReceived:
    """A ``+`` between packets."""


@dataclass(frozen=True, slots=True)
class NackReceived:
    """A ``-`` between packets: the peer wants our last packet again."""


@dataclass(frozen=True, slots=True)
class InterruptReceived:
    """A 0x03 byte between packets (GDB's Ctrl-C), legal while the target runs."""


@dataclass(frozen=True, slots=True)
class ChecksumMismatch:
    """A well-formed frame whose checksum is wrong; answer ``-``."""

    expected: int
    received: int


@dataclass(frozen=True, slots=True)
class PacketTooLarge:
    """A frame longer than ``limit`` bytes; its bytes were dropped up to ``#xx``."""

    size: int
    limit: int


@dataclass(frozen=True, slots=True)
class MalformedPacket:
    """A complete frame that cannot be decoded.

    ``resend`` is True when the fault may be a transmission error (checksum
    digits that are not hex): the peer should get ``-`` and send it again.
    Otherwise (bad run length, dangling escape) resending would not help.
    """

    reason: str
    resend: bool = False


@dataclass(frozen=True, slots=True)
class PacketAbandoned:
    """A ``$`` arrived before the previous frame ended; that frame was dropped.

    Nothing is answered: the peer gave up on it and will not wait for a reply.
    """

    reason: str


FrameEvent = (
    PacketReceived
    | AckReceived
    | NackReceived
    | InterruptReceived
    | ChecksumMismatch
    | PacketTooLarge
    | MalformedPacket
    | PacketAbandoned
)


class FrameError(ValueError):
    """A body that cannot be decoded; ``too_large`` tells which event to report."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large


# --- decoding ---------------------------------------------------------------


def checksum(body: bytes | bytearray) -> int:
    return sum(body) & 0xFF


def decode_body(raw: bytes | bytearray, limit: int) -> bytes:
    """Undo escapes and run-length encoding in one left-to-right pass.

    One pass matters: ``}*`` is an escaped byte, not a run marker, and a run
    repeats the previous *decoded* byte.
    """
    if ESCAPE not in raw and RLE_MARK not in raw:
        return bytes(raw)
    out = bytearray()
    pos = 0
    end = len(raw)
    while pos < end:
        match = _BODY_SPECIAL.search(raw, pos)
        if match is None:
            out += raw[pos:]
            break
        special = match.start()
        out += raw[pos:special]
        if special + 1 >= end:
            what = "escape" if raw[special] == ESCAPE else "run-length marker"
            raise FrameError(f"{what} at end of packet")
        operand = raw[special + 1]
        if raw[special] == ESCAPE:
            out.append(operand ^ 0x20)
        else:
            if not out:
                raise FrameError("run-length marker with no preceding character")
            if not RLE_BIAS <= operand <= RLE_MAX_COUNT or operand in _RLE_FORBIDDEN_DECODE:
                raise FrameError(f"invalid run-length count {operand:#04x}")
            repeats = operand - RLE_BIAS
            if len(out) + repeats > limit:
                raise FrameError("run-length expansion exceeds the packet limit", too_large=True)
            out += bytes((out[-1],)) * repeats
        pos = special + 2
    if len(out) > limit:
        raise FrameError("decoded packet exceeds the packet limit", too_large=True)
    return bytes(out)


class _State(Enum):
    IDLE = auto()
    BODY = auto()
    CHECKSUM = auto()


class FrameDecoder:
    """Turns an arbitrarily chunked byte stream into :data:`FrameEvent` s."""

    def __init__(self, max_payload: int = DEFAULT_MAX_PACKET) -> None:
        if max_payload < 1:
            raise ValueError("max_payload must be positive")
        self.max_payload = max_payload
        self.garbage_bytes = 0
        self.reset()

    def reset(self) -> None:
        self._state = _State.IDLE
        self._body = bytearray()
        self._size = 0
        self._oversize = False
        self._csum = bytearray()

    @property
    def in_packet(self) -> bool:
        return self._state is not _State.IDLE

    def feed(self, data: bytes | bytearray) -> list[FrameEvent]:
        if (
            self._state is _State.IDLE
            and len(data) >= 4
            and data[0] == 0x24  # '$'
            and data[-3] == 0x23  # '#'
            and len(data) - 4 <= self.max_payload
            and _BODY_END.search(data, 1, len(data) - 3) is None
            and 0x24 not in data[-2:]
        ):
            # One whole frame, as GDB sends each packet in no-ack mode: what the state
            # machine below would make of it, without walking through its states.
            return [self._decode_frame(data[1:-3], data[-2:])]
        events: list[FrameEvent] = []
        pos = 0
        end = len(data)
        while pos < end:
            pos = _STEPS[self._state](self, data, pos, events)
        return events

    def _start_packet(self) -> None:
        self._state = _State.BODY
        self._body.clear()
        self._size = 0
        self._oversize = False
        self._csum.clear()

    def _step_idle(self, data: bytes | bytearray, pos: int, events: list[FrameEvent]) -> int:
        match = _IDLE_INTEREST.search(data, pos)
        if match is None:
            self.garbage_bytes += len(data) - pos
            return len(data)
        found = match.start()
        self.garbage_bytes += found - pos
        byte = data[found]
        if byte == ord("$"):
            self._start_packet()
        else:
            events.append(_BETWEEN_PACKETS[byte])
        return found + 1

    def _step_body(self, data: bytes | bytearray, pos: int, events: list[FrameEvent]) -> int:
        match = _BODY_END.search(data, pos)
        stop = len(data) if match is None else match.start()
        self._take(data[pos:stop])
        if match is None:
            return stop
        if data[stop] == ord("$"):
            # The peer gave up on the frame and started a new one (e.g. after
            # a timeout): resynchronise on the new '$' rather than merge them.
            events.append(PacketAbandoned("packet restarted before '#'"))
            self._start_packet()
        else:
            self._state = _State.CHECKSUM
        return stop + 1

    def _take(self, chunk: bytes | bytearray) -> None:
        self._size += len(chunk)
        if self._oversize:
            return
        if self._size > self.max_payload:
            self._oversize = True
            self._body = bytearray()
            return
        self._body += chunk

    def _step_checksum(self, data: bytes | bytearray, pos: int, events: list[FrameEvent]) -> int:
        byte = data[pos]
        if byte == ord("$"):
            events.append(PacketAbandoned("packet restarted inside its checksum"))
            self._start_packet()
            return pos + 1
        self._csum.append(byte)
        if len(self._csum) == 2:
            events.append(self._finish())
            self._state = _State.IDLE
            self._body = bytearray()
        return pos + 1

    def _finish(self) -> FrameEvent:
        if self._oversize:
            return PacketTooLarge(self._size, self.max_payload)
        return self._decode_frame(self._body, self._csum)

    def _decode_frame(self, body: bytes | bytearray, csum: bytes | bytearray) -> FrameEvent:
        if not all(c in _HEX_DIGITS for c in csum):
            return MalformedPacket(f"non-hex checksum {bytes(csum)!r}", resend=True)
        received = int(csum, 16)
        expected = checksum(body)
        if received != expected:
            return ChecksumMismatch(expected, received)
        try:
            return PacketReceived(decode_body(body, self.max_payload))
        except FrameError as err:
            if err.too_large:
                return PacketTooLarge(len(body), self.max_payload)
            return MalformedPacket(err.reason)


_Step = Callable[[FrameDecoder, bytes | bytearray, int, list[FrameEvent]], int]
_STEPS: dict[_State, _Step] = {
    _State.IDLE: FrameDecoder._step_idle,
    _State.BODY: FrameDecoder._step_body,
    _State.CHECKSUM: FrameDecoder._step_checksum,
}


_BETWEEN_PACKETS: dict[int, FrameEvent] = {
    ord("+"): AckReceived(),
    ord("-"): NackReceived(),
    INTERRUPT: InterruptReceived(),
}


# --- encoding ---------------------------------------------------------------


def escape(payload: bytes) -> bytes:
    return _NEEDS_ESCAPE_RE.sub(_escape_match, payload)


def _escape_match(match: re.Match[bytes]) -> bytes:
    return bytes((ESCAPE, match[0][0] ^ 0x20))


#: A run worth encoding (4+ equal bytes that need no escape) or a byte to escape;
#: one C-level scan finds both, so hex replies cost Python work only per run.
_RUN_OR_SPECIAL = re.compile(rb"([^$#}*])\1{3,}|[$#}*]", re.DOTALL)
_FULL_RUN = 1 + RLE_MAX_COUNT - RLE_BIAS  # bytes one "x*~" covers


def _run_tail(byte: int, left: int) -> bytes:
    """Encode ``left`` (< _FULL_RUN) copies of ``byte`` the way a long run ends."""
    out = bytearray()
    while left:
        out.append(byte)
        left -= 1
        repeats = left
        while repeats + RLE_BIAS in _RLE_AVOID_ENCODE:
            repeats -= 1
        # "x*c" is 2 bytes longer than "x": only worth it for 3+ repeats.
        if repeats < 3:
            out += bytes((byte,)) * left
            break
        out += bytes((RLE_MARK, repeats + RLE_BIAS))
        left -= repeats
    return bytes(out)


def _encode_run(byte: int, length: int) -> bytes:
    full, rest = divmod(length, _FULL_RUN)
    return bytes((byte, RLE_MARK, RLE_MAX_COUNT)) * full + _run_tail(byte, rest)


def _encode_match(match: re.Match[bytes]) -> bytes:
    text = match[0]
    byte = text[0]
    if byte in NEEDS_ESCAPE:
        # Escaped bytes are never run-length encoded: whether a run after an
        # escape repeats the escape or the decoded byte is a point on which
        # decoders differ.
        return bytes((ESCAPE, byte ^ 0x20))
    return _encode_run(byte, len(text))


_ZEROS = re.compile(rb"\x00*")  # a single-byte repeat: sre's tight loop, no per-byte search
#: Below this a regex pass is as cheap as the setup of the long-payload path.
_LONG_PAYLOAD = 256


def _compress(payload: bytes) -> bytes:
    if len(payload) < _LONG_PAYLOAD or any(byte in payload for byte in _ESCAPED_BYTES):
        return _RUN_OR_SPECIAL.sub(_encode_match, payload)
    # Long replies are hex (memory, registers). The regex above costs ~100 ns per
    # byte on them (it tries a capture and a backreference at every position);
    # instead XOR the payload with itself shifted by one, as big integers, so that
    # a zero byte marks two equal neighbours and four equal bytes are three zeros.
    size = len(payload)
    same = (int.from_bytes(payload[1:], "big") ^ int.from_bytes(payload[:-1], "big")).to_bytes(
        size - 1, "big"
    )
    out: list[bytes] = []
    done = 0
    start = same.find(b"\0\0\0")
    while start >= 0:
        # The first pair that differs ends the run (none: the run reaches the end).
        zeros = _ZEROS.match(same, start + 3)
        assert zeros is not None  # a "*" repeat matches anywhere, if only emptily
        end = zeros.end() + 1
        out.append(payload[done:start])
        out.append(_encode_run(payload[start], end - start))
        done = end
        start = same.find(b"\0\0\0", end)
    out.append(payload[done:])
    return b"".join(out)


def encode_packet(payload: bytes, *, rle: bool = False) -> bytes:
    """Frame ``payload``: escape ``$ # } *``, optionally run-length encode, add the checksum."""
    body = _compress(payload) if rle else escape(payload)
    return b"$" + body + b"#" + b"%02x" % checksum(body)
