"""Framing: exact bytes in -> events, payload -> exact bytes out, and properties."""

from __future__ import annotations

from itertools import groupby

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xgdbvm.rsp.framing import (
    AckReceived,
    ChecksumMismatch,
    FrameDecoder,
    FrameEvent,
    InterruptReceived,
    MalformedPacket,
    NackReceived,
    PacketAbandoned,
    PacketReceived,
    PacketTooLarge,
    encode_packet,
)


def frame(body: bytes) -> bytes:
    """A frame around an already-encoded body, checksum computed independently."""
    return b"$" + body + b"#" + f"{sum(body) % 256:02x}".encode()


def decode(data: bytes, limit: int = 0x4000) -> list[FrameEvent]:
    return FrameDecoder(limit).feed(data)


DECODE_TABLE: list[tuple[bytes, list[FrameEvent]]] = [
    (b"$g#67", [PacketReceived(b"g")]),
    (b"$#00", [PacketReceived(b"")]),
    (frame(b"m1000,4"), [PacketReceived(b"m1000,4")]),
    (frame(b"G0a")[:-2] + frame(b"G0a")[-2:].upper(), [PacketReceived(b"G0a")]),
    (b"+", [AckReceived()]),
    (b"-", [NackReceived()]),
    (b"\x03", [InterruptReceived()]),
    (b"+$g#67", [AckReceived(), PacketReceived(b"g")]),
    (b"\x03+-", [InterruptReceived(), AckReceived(), NackReceived()]),
    # escapes: }] is '}', }\x03 is '#', }\x04 is '$', }\n is '*'
    (frame(b"X0,4:}]}\x03}\x04}\n"), [PacketReceived(b"X0,4:}#$*")]),
    # run-length: '0* ' is 0 + 3 repeats; '~' (126) is the largest count
    (frame(b"0* "), [PacketReceived(b"0000")]),
    (frame(b"a*~"), [PacketReceived(b"a" * 98)]),
    (frame(b"a*\x1d"), [PacketReceived(b"a")]),  # count 29: zero repeats
    (frame(b"ab*!c"), [PacketReceived(b"abbbbbc")]),
    (frame(b"}]* "), [PacketReceived(b"}}}}")]),  # a run repeats the decoded byte
    (frame(b"a* * "), [PacketReceived(b"a" * 7)]),
    (frame(b"}*"), [PacketReceived(b"\n")]),  # escaped '*' is data, not a run
    # 0x03, '+' and '-' inside a packet are data
    (frame(b"X0,3:\x03+-"), [PacketReceived(b"X0,3:\x03+-")]),
    # garbage between packets is skipped
    (b"hello\r\n$g#67 junk", [PacketReceived(b"g")]),
    (b"#00$g#67", [PacketReceived(b"g")]),
    # checksum mismatch
    (b"$g#00", [ChecksumMismatch(expected=0x67, received=0)]),
    # malformed bodies (checksum right)
    (frame(b"*!"), [MalformedPacket("run-length marker with no preceding character")]),
    (frame(b"a*"), [MalformedPacket("run-length marker at end of packet")]),
    (frame(b"a*\x10"), [MalformedPacket("invalid run-length count 0x10")]),
    (frame(b"a*\x7f"), [MalformedPacket("invalid run-length count 0x7f")]),
    (frame(b"a}"), [MalformedPacket("escape at end of packet")]),
    (b"$g#6z", [MalformedPacket("non-hex checksum b'6z'", resend=True)]),
    (b"$g# 7", [MalformedPacket("non-hex checksum b' 7'", resend=True)]),
    # a new '$' before the end abandons the old frame
    (b"$abc$g#67", [PacketAbandoned("packet restarted before '#'"), PacketReceived(b"g")]),
    (b"$g#6$g#67", [PacketAbandoned("packet restarted inside its checksum"), PacketReceived(b"g")]),
]


@pytest.mark.parametrize(("data", "events"), DECODE_TABLE)
def test_decode_table(data: bytes, events: list[FrameEvent]) -> None:
    assert decode(data) == events


@pytest.mark.parametrize(("data", "events"), DECODE_TABLE)
def test_decode_table_byte_by_byte(data: bytes, events: list[FrameEvent]) -> None:
    decoder = FrameDecoder()
    got: list[FrameEvent] = []
    for i in range(len(data)):
        got += decoder.feed(data[i : i + 1])
    assert got == events


def test_oversize_packet_is_reported_and_the_next_one_parses() -> None:
    decoder = FrameDecoder(16)
    events = decoder.feed(b"$" + b"A" * 40 + b"#00$g#67")
    assert events == [PacketTooLarge(size=40, limit=16), PacketReceived(b"g")]


def test_oversize_packet_memory_stays_bounded() -> None:
    decoder = FrameDecoder(16)
    decoder.feed(b"$")
    for _ in range(1000):
        decoder.feed(b"B" * 1000)
        assert len(decoder._body) <= 16
    assert decoder.feed(b"#zz") == [PacketTooLarge(size=1_000_000, limit=16)]


def test_packet_exactly_at_limit_is_accepted() -> None:
    assert decode(frame(b"A" * 16), limit=16) == [PacketReceived(b"A" * 16)]


def test_run_length_expansion_past_the_limit_is_too_large() -> None:
    assert decode(frame(b"a*~"), limit=50) == [PacketTooLarge(size=3, limit=50)]


def test_garbage_is_counted() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"xyz$g#67ab")
    assert decoder.garbage_bytes == 5


def test_in_packet_and_reset() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"$abc")
    assert decoder.in_packet
    decoder.reset()
    assert not decoder.in_packet
    assert decoder.feed(b"$g#67") == [PacketReceived(b"g")]


def test_max_payload_must_be_positive() -> None:
    with pytest.raises(ValueError):
        FrameDecoder(0)


ENCODE_TABLE: list[tuple[bytes, bool, bytes]] = [
    (b"", False, b"$#00"),
    (b"OK", False, b"$OK#9a"),
    (b"g", False, b"$g#67"),
    (
        b"a}b",
        False,
        b"$a}]b#" + f"{(ord('a') + ord('}') + ord(']') + ord('b')) % 256:02x}".encode(),
    ),
    (b"$#*", False, frame(b"}\x04}\x03}\n")),
    (b"\x03", False, frame(b"\x03")),  # GDB needs no escape for 0x03 inside a packet
    (b"0000", True, frame(b"0* ")),
    (b"000", True, frame(b"000")),  # a run of 3 is not worth a marker
    (b"a" * 7, True, frame(b'a*"a')),  # 6 repeats would be '#'
    (b"a" * 8, True, frame(b'a*"aa')),  # 7 repeats would be '$'
    (b"a" * 14, True, frame(b"a*)a")),  # 13 repeats would be '*'
    (b"a" * 97, True, frame(b"a*|a")),  # 96 repeats would be '}'
    (b"a" * 98, True, frame(b"a*~")),
    (b"a" * 99, True, frame(b"a*~a")),
    (b"a" * 196 + b"a" * 14, True, frame(b"a*~a*~a*)a")),  # long runs: full chunks, then the tail
    (b"\n" * 5, True, frame(b"\n*!")),  # any byte that needs no escape may run
    (b"}}}}", True, frame(b"}]}]}]}]")),  # escaped bytes are never run-length encoded
]


@pytest.mark.parametrize(("payload", "rle", "wire"), ENCODE_TABLE)
def test_encode_table(payload: bytes, rle: bool, wire: bytes) -> None:
    assert encode_packet(payload, rle=rle) == wire
    assert decode(wire) == [PacketReceived(payload)]


# --- properties -------------------------------------------------------------

payloads = st.binary(max_size=300)
runny_payloads = st.lists(
    st.tuples(st.sampled_from(b"0a}$#*\x03 f"), st.integers(1, 200)), max_size=8
).map(lambda runs: b"".join(bytes([b]) * n for b, n in runs))


@given(payloads)
def test_encode_decode_round_trip(payload: bytes) -> None:
    assert decode(encode_packet(payload)) == [PacketReceived(payload)]


@given(st.one_of(payloads, runny_payloads))
def test_rle_encode_decode_round_trip(payload: bytes) -> None:
    wire = encode_packet(payload, rle=True)
    assert decode(wire, limit=max(1, len(wire), len(payload))) == [PacketReceived(payload)]
    assert len(wire) <= len(encode_packet(payload)), "RLE never makes a packet longer"


items = st.one_of(
    st.tuples(st.just("packet"), st.one_of(payloads, runny_payloads), st.booleans()),
    st.tuples(st.just("ack"), st.just(b"+"), st.just(False)),
    st.tuples(st.just("nack"), st.just(b"-"), st.just(False)),
    st.tuples(st.just("interrupt"), st.just(b"\x03"), st.just(False)),
    st.tuples(
        st.just("garbage"),
        st.binary(max_size=8).map(lambda b: bytes(c for c in b if c not in b"$+-\x03")),
        st.just(False),
    ),
)


BETWEEN_PACKETS: dict[str, list[FrameEvent]] = {
    "ack": [AckReceived()],
    "nack": [NackReceived()],
    "interrupt": [InterruptReceived()],
    "garbage": [],
}


@given(st.lists(items, max_size=20), st.data())
def test_any_chunking_yields_the_same_events(
    stream_items: list[tuple[str, bytes, bool]], data: st.DataObject
) -> None:
    wire = b""
    expected: list[FrameEvent] = []
    for kind, value, rle in stream_items:
        if kind == "packet":
            wire += encode_packet(value, rle=rle)
            expected.append(PacketReceived(value))
        else:
            wire += value
            expected += BETWEEN_PACKETS[kind]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=12)))
    decoder = FrameDecoder()
    got: list[FrameEvent] = []
    start = 0
    for cut in [*cuts, len(wire)]:
        got += decoder.feed(wire[start:cut])
        start = cut
    assert got == expected


def reference_rle(payload: bytes) -> bytes:
    """The run-length rules spelled out one byte at a time (slow, obviously right)."""
    out = bytearray()
    for byte, group in groupby(payload):
        left = len(list(group))
        if byte in b"$#}*":
            out += bytes((0x7D, byte ^ 0x20)) * left
            continue
        while left:
            out.append(byte)
            left -= 1
            repeats = min(left, 97)
            while repeats + 29 in b"#$*}":
                repeats -= 1
            if repeats < 3:
                out += bytes((byte,)) * left
                break
            out += bytes((0x2A, repeats + 29))
            left -= repeats
    return bytes(out)


hex_runs = st.lists(
    st.tuples(st.sampled_from(b"0123456789abcdef"), st.integers(1, 400)), max_size=40
).map(lambda runs: b"".join(bytes([b]) * n for b, n in runs))


@given(st.one_of(hex_runs, runny_payloads, st.binary(min_size=250, max_size=600)))
def test_rle_matches_the_reference_rules(payload: bytes) -> None:
    # Long hex replies take a different path from short or escaped ones: same bytes.
    assert encode_packet(payload, rle=True) == frame(reference_rle(payload))
