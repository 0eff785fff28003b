"""Wire format: constants, known bytes, decoder framing (table + Hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xgdbvm.machine.xen.xenstore.wire import (
    HEADER,
    XENSTORE_PAYLOAD_MAX,
    XS_TYPE_COUNT,
    XSD_ERRORS,
    Message,
    MessageDecoder,
    ProtocolError,
    XsError,
    XsType,
    encode,
    error_reply,
    join_strings,
    parse_error,
    reply_to,
    request,
    watch_event,
)

# xs_wire.h enum xsd_sockmsg_type, by value.
TYPE_NUMBERS = {
    "CONTROL": 0,
    "DIRECTORY": 1,
    "READ": 2,
    "GET_PERMS": 3,
    "WATCH": 4,
    "UNWATCH": 5,
    "TRANSACTION_START": 6,
    "TRANSACTION_END": 7,
    "INTRODUCE": 8,
    "RELEASE": 9,
    "GET_DOMAIN_PATH": 10,
    "WRITE": 11,
    "MKDIR": 12,
    "RM": 13,
    "SET_PERMS": 14,
    "WATCH_EVENT": 15,
    "ERROR": 16,
    "IS_DOMAIN_INTRODUCED": 17,
    "RESUME": 18,
    "SET_TARGET": 19,
    "RESET_WATCHES": 21,
    "DIRECTORY_PART": 22,
    "GET_FEATURE": 23,
    "SET_FEATURE": 24,
    "GET_QUOTA": 25,
    "SET_QUOTA": 26,
    "INVALID": 0xFFFF,
}


@pytest.mark.parametrize(("name", "number"), TYPE_NUMBERS.items())
def test_type_numbers(name: str, number: int) -> None:
    assert XsType[name] == number


def test_debug_is_control_and_restrict_is_gone() -> None:
    assert XsType["DEBUG"] is XsType.CONTROL
    assert 20 not in {t.value for t in XsType}
    assert XS_TYPE_COUNT == 27


def test_error_table_order_and_linux_numbers() -> None:
    names = [e.name for e in XSD_ERRORS]
    assert names == [
        "EINVAL", "EACCES", "EEXIST", "EISDIR", "ENOENT", "ENOMEM", "ENOSPC", "EIO",
        "ENOTEMPTY", "ENOSYS", "EROFS", "EBUSY", "EAGAIN", "EISCONN", "E2BIG", "EPERM",
    ]  # fmt: skip
    linux = [22, 13, 17, 21, 2, 12, 28, 5, 39, 38, 30, 16, 11, 106, 7, 1]
    assert [int(e) for e in XSD_ERRORS] == linux


KNOWN = [
    (
        request(XsType.READ, "/local", req_id=7),
        bytes.fromhex("02000000 07000000 00000000 07000000") + b"/local\0",
    ),
    (
        request(XsType.WRITE, "a", req_id=0x01020304, tx_id=5, raw_tail=b"v\0x"),
        bytes.fromhex("0b000000 04030201 05000000 05000000") + b"a\0v\0x",
    ),
    (
        watch_event(b"/a/b", b"tok"),
        bytes.fromhex("0f000000 00000000 00000000 09000000") + b"/a/b\0tok\0",
    ),
    (
        error_reply(Message(XsType.READ, 9, 3, b"x\0"), XsError.ENOENT),
        bytes.fromhex("10000000 09000000 03000000 07000000") + b"ENOENT\0",
    ),
    (
        Message(XsType.TRANSACTION_START, 0xFFFFFFFF, 0, b"\0"),
        bytes.fromhex("06000000 ffffffff 00000000 01000000") + b"\0",
    ),
]


@pytest.mark.parametrize(("msg", "raw"), KNOWN)
def test_known_bytes(msg: Message, raw: bytes) -> None:
    assert encode(msg) == raw
    assert msg.encode() == raw
    assert MessageDecoder().feed(raw) == [msg]


def test_header_struct_is_16_bytes() -> None:
    assert HEADER.get().sizeof() == 16


def test_reply_echoes_request_ids() -> None:
    req = Message(XsType.READ, 12, 4, b"/x\0")
    assert reply_to(req, b"v") == Message(XsType.READ, 12, 4, b"v")


def test_parse_error_unknown_name_is_einval() -> None:
    assert parse_error(b"EAGAIN\0") is XsError.EAGAIN
    assert parse_error(b"EWHAT\0") is XsError.EINVAL


def test_strings_ignore_unterminated_tail() -> None:
    assert Message(0, 0, 0, b"a\0bc\0tail").strings() == [b"a", b"bc"]
    assert join_strings("a", b"b") == b"a\0b\0"


def test_message_validation() -> None:
    with pytest.raises(ValueError):
        Message(0, 0, 0, b"x" * (XENSTORE_PAYLOAD_MAX + 1))
    with pytest.raises(ValueError):
        Message(1 << 32, 0, 0, b"")
    Message(0, 0, 0, b"x" * XENSTORE_PAYLOAD_MAX)


def test_unknown_type_survives_decoding() -> None:
    raw = bytes.fromhex("39050000 01000000 00000000 00000000")
    (msg,) = MessageDecoder().feed(raw)
    assert msg.msg_type == 0x539
    assert msg.kind is None


def test_decoder_rejects_oversized_header_and_stays_broken() -> None:
    dec = MessageDecoder()
    raw = bytes.fromhex("02000000 00000000 00000000") + (4097).to_bytes(4, "little")
    assert dec.feed(raw[:15]) == []
    with pytest.raises(ProtocolError):
        dec.feed(raw[15:])
    assert dec.broken
    with pytest.raises(ProtocolError):
        dec.feed(b"")


def test_decoder_accepts_exactly_the_maximum() -> None:
    msg = Message(XsType.WRITE, 1, 0, b"/a\0" + b"v" * (XENSTORE_PAYLOAD_MAX - 3))
    assert MessageDecoder().feed(encode(msg)) == [msg]


def test_wanted_counts_to_the_end_of_one_message() -> None:
    dec = MessageDecoder()
    raw = encode(Message(XsType.READ, 1, 0, b"/abc\0"))
    assert dec.wanted() == 16
    assert dec.feed(raw[:10]) == []
    assert dec.wanted() == 6
    assert dec.feed(raw[10:16]) == []
    assert dec.wanted() == 5
    assert dec.buffered == 16
    assert dec.feed(raw[16:]) != []
    assert dec.wanted() == 16
    assert dec.buffered == 0


u32 = st.integers(min_value=0, max_value=0xFFFFFFFF)
messages = st.builds(Message, u32, u32, u32, st.binary(max_size=XENSTORE_PAYLOAD_MAX))


@settings(deadline=None)
@given(messages)
def test_round_trip_any_message(msg: Message) -> None:
    raw = encode(msg)
    assert len(raw) == 16 + len(msg.payload)
    assert MessageDecoder().feed(raw) == [msg]


@settings(deadline=None)
@given(st.lists(messages, max_size=6), st.data())
def test_any_chunking_yields_the_same_messages(msgs: list[Message], data: st.DataObject) -> None:
    stream = b"".join(encode(m) for m in msgs)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    dec = MessageDecoder()
    out: list[Message] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out += dec.feed(stream[prev:cut])
        prev = cut
    assert out == msgs
    assert dec.buffered == 0


small_messages = st.builds(Message, u32, u32, u32, st.binary(max_size=64))


@settings(deadline=None)
@given(st.lists(small_messages, min_size=1, max_size=4), st.data())
def test_feeding_wanted_bytes_gives_one_message_at_a_time(
    msgs: list[Message], data: st.DataObject
) -> None:
    stream = b"".join(encode(m) for m in msgs)
    dec = MessageDecoder()
    out: list[Message] = []
    pos = 0
    while pos < len(stream):
        step = data.draw(st.integers(1, dec.wanted()))
        got = dec.feed(stream[pos : pos + step])
        assert len(got) <= 1
        out += got
        pos += step
    assert out == msgs
