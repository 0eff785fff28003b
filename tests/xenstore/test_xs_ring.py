"""The ring transport: layout, framing across the wrap, backpressure, corruption, reset."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xgdbvm.machine.xen.xenstore import (
    INTERFACE_SIZE,
    Message,
    RingConnection,
    RingError,
    RingOffset,
    RingState,
    RingTransport,
    ServerFeature,
    XenStore,
    XsClient,
    XsError,
    XsType,
    encode,
    request,
)
from xgdbvm.machine.xen.xenstore.ring import XENSTORE_DOMAIN_INTERFACE
from xgdbvm.machine.xen.xenstore.wire import parse_error

from .guest_ring import GuestRing


@pytest.fixture
def store() -> XenStore:
    s = XenStore()
    dom0 = XsClient(s, 0)
    dom0.mkdir("/local/domain/1")
    dom0.set_perms("/local/domain/1", dom0.get_perms("/").with_owner(1))
    s.introduce_domain(1, 1)
    return s


def make(store: XenStore, start: int = 0) -> tuple[RingTransport, GuestRing]:
    guest = GuestRing(start)
    transport = RingTransport(store, 1)
    transport.attach(guest.page)
    return transport, guest


def roundtrip(transport: RingTransport, guest: GuestRing, *msgs: Message) -> list[Message]:
    for msg in msgs:
        assert guest.send(encode(msg)) == len(encode(msg))
    assert transport.process(guest.page)
    return guest.messages()


def test_layout_matches_the_c_struct() -> None:
    assert XENSTORE_DOMAIN_INTERFACE.get().sizeof() == INTERFACE_SIZE == 2080
    offsets = {}
    pos = 0
    for sub in XENSTORE_DOMAIN_INTERFACE.get().subcons:
        offsets[sub.name] = pos
        pos += sub.sizeof()
    for field in RingOffset:
        assert offsets[field.name.lower()] == field


def test_features_advertised() -> None:
    store = XenStore()
    guest = GuestRing()
    RingTransport(store, 1).attach(guest.page)
    state = RingState.read(guest.page)
    assert state.server_features == ServerFeature.RECONNECTION | ServerFeature.ERROR | 4 | 8
    assert state.connection == RingConnection.CONNECTED


def test_simple_request(store: XenStore) -> None:
    transport, guest = make(store)
    replies = roundtrip(
        transport,
        guest,
        request(XsType.WRITE, "data", req_id=1, raw_tail=b"hello"),
        request(XsType.READ, "data", req_id=2),
    )
    assert [(m.msg_type, m.req_id, m.payload) for m in replies] == [
        (XsType.WRITE, 1, b"OK\0"),
        (XsType.READ, 2, b"hello"),
    ]
    state = RingState.read(guest.page)
    assert state.req_cons == state.req_prod
    assert state.error == RingError.NONE
    assert transport.requests == 2
    assert not transport.process(guest.page)  # nothing to do: no notification


@pytest.mark.parametrize("start", [0, 1000, 1020, 0xFFFFFFF0, 0xFFFFFFFF])
def test_requests_split_across_the_wrap(store: XenStore, start: int) -> None:
    transport, guest = make(store, start)
    replies = roundtrip(transport, guest, request(XsType.WRITE, "k", req_id=9, raw_tail=b"v" * 40))
    assert replies[0].payload == b"OK\0"
    assert roundtrip(transport, guest, request(XsType.READ, "k"))[0].payload == b"v" * 40


def test_partial_message_waits(store: XenStore) -> None:
    transport, guest = make(store)
    raw = encode(request(XsType.READ, "/local/domain/1", req_id=4))
    guest.send(raw[:10])
    assert transport.process(guest.page)  # consumed the bytes: notify for space
    assert guest.messages() == []
    guest.send(raw[10:20])
    transport.process(guest.page)
    assert guest.messages() == []
    guest.send(raw[20:])
    transport.process(guest.page)
    assert [m.req_id for m in guest.messages()] == [4]


def test_request_larger_than_the_ring(store: XenStore) -> None:
    transport, guest = make(store)
    raw = encode(request(XsType.WRITE, "big", req_id=1, raw_tail=b"z" * 1900))
    sent = 0
    while sent < len(raw):
        sent += guest.send(raw[sent:])
        transport.process(guest.page)
    assert [m.payload for m in guest.messages()] == [b"OK\0"]
    assert XsClient(store, 0).read("/local/domain/1/big") == b"z" * 1900


def test_reply_larger_than_free_space_is_delivered_later(store: XenStore) -> None:
    transport, guest = make(store)
    XsClient(store, 0).write("/local/domain/1/large", b"L" * 3000)
    guest.send(encode(request(XsType.READ, "large", req_id=8)))
    assert transport.process(guest.page)
    state = RingState.read(guest.page)
    assert state.rsp_prod - state.rsp_cons == 1024  # full
    data = guest.receive()
    while len(data) < 16 + 3000:
        assert transport.process(guest.page)
        data += guest.receive(700)  # the guest reads in small bites
    (reply,) = guest.decoder.feed(data)
    assert reply.req_id == 8
    assert reply.payload == b"L" * 3000


def test_backpressure_stops_at_outstanding_replies(store: XenStore) -> None:
    transport, guest = make(store)
    XsClient(store, 0).write("/local/domain/1/v", b"V" * 200)
    one = encode(request(XsType.READ, "v"))
    for _ in range(40):
        guest.send(one)  # 40 * 18 bytes fit in the ring
    transport.process(guest.page)
    # The ring holds 4 replies (216 bytes each); the rest wait in the queue
    # until 20 are outstanding, then the transport stops reading requests.
    # 4 whole replies + part of a 5th fit the ring, 20 more wait: 25 requests read.
    assert transport.conn.pending_replies == 20
    assert transport.requests == 25
    unread = RingState.read(guest.page)
    assert unread.req_prod - unread.req_cons == 15 * len(one)
    got: list[Message] = []
    for _ in range(50):
        got += guest.messages()
        transport.process(guest.page)
    got += guest.messages()
    assert len(got) == 40
    assert all(m.payload == b"V" * 200 for m in got)


def test_watch_events_from_other_connections_reach_the_ring(store: XenStore) -> None:
    transport, guest = make(store)
    replies = roundtrip(transport, guest, request(XsType.WATCH, "data", "tok", req_id=1))
    assert [m.msg_type for m in replies] == [XsType.WATCH, XsType.WATCH_EVENT]
    response = store.handle(store.connect(0), request(XsType.WRITE, "/local/domain/1/data/x"))
    assert [e.connection for e in response.events] == [transport.conn]
    assert transport.process(guest.page)
    (event,) = guest.messages()
    assert event.payload == b"data/x\0tok\0"


def test_unknown_type_is_answered_not_fatal(store: XenStore) -> None:
    transport, guest = make(store)
    replies = roundtrip(transport, guest, Message(0xDEAD, 5, 0, b"junk"))
    assert replies[0].msg_type == XsType.ERROR
    assert replies[0].req_id == 5
    assert parse_error(replies[0].payload) is XsError.ENOSYS
    assert RingState.read(guest.page).error == RingError.NONE
    assert roundtrip(transport, guest, request(XsType.READ, "/local/domain/1"))[0].payload == b""


# --- corruption -------------------------------------------------------------------


def _corrupt_req_index(guest: GuestRing) -> None:
    guest.set(RingOffset.REQ_PROD, guest.get(RingOffset.REQ_CONS) + 1025)


def _corrupt_rsp_index(guest: GuestRing) -> None:
    guest.send(encode(request(XsType.READ, "/local/domain/1")))
    guest.set(RingOffset.RSP_CONS, guest.get(RingOffset.RSP_PROD) + 1)  # cons past prod


def _oversized_header(guest: GuestRing) -> None:
    guest.send(bytes.fromhex("02000000 01000000 00000000") + (4097).to_bytes(4, "little"))


CORRUPTIONS = [
    (_corrupt_req_index, RingError.RINGIDX),
    (_corrupt_rsp_index, RingError.RINGIDX),
    (_oversized_header, RingError.PROTO),
]


@pytest.mark.parametrize(("corrupt", "code"), CORRUPTIONS)
def test_corruption_sets_error_and_ignores_the_ring(
    store: XenStore, corrupt: Callable[[GuestRing], None], code: RingError
) -> None:
    transport, guest = make(store)
    roundtrip(transport, guest, request(XsType.WATCH, "data", "t"))
    tx_reply = roundtrip(transport, guest, request(XsType.TRANSACTION_START, ""))
    assert tx_reply[0].payload.rstrip(b"\0").isdigit()
    corrupt(guest)
    assert transport.process(guest.page)
    assert RingState.read(guest.page).error == code
    assert transport.error == code
    # Connection state is gone and the ring is left alone.
    assert transport.conn.watches == []
    assert transport.conn.transactions == {}
    guest.send(encode(request(XsType.READ, "data")))
    before = bytes(guest.page)
    assert not transport.process(guest.page)
    assert bytes(guest.page) == before
    # The store keeps serving everybody else.
    other = XsClient(store, 0)
    other.write("/still/working", "yes")
    assert other.read("/still/working") == b"yes"
    # A reconnect request resets the ring and clears the error.
    guest.set(RingOffset.CONNECTION, RingConnection.RECONNECT)
    assert transport.process(guest.page)
    state = RingState.read(guest.page)
    assert state == RingState(0, 0, 0, 0, state.server_features, 0, 0, 0)
    assert guest.page[:2048] == b"\xff" * 2048
    guest.decoder = type(guest.decoder)()
    assert roundtrip(transport, guest, request(XsType.READ, "data", req_id=3))[0].req_id == 3


def test_reconnect_drops_state_and_partial_input(store: XenStore) -> None:
    transport, guest = make(store, start=500)
    roundtrip(transport, guest, request(XsType.WATCH, "data", "t"))
    guest.send(encode(request(XsType.READ, "data"))[:7])
    transport.process(guest.page)
    guest.set(RingOffset.CONNECTION, RingConnection.RECONNECT)
    assert transport.process(guest.page)
    assert RingState.read(guest.page).connection == RingConnection.CONNECTED
    assert transport.conn.watches == []
    guest.decoder = type(guest.decoder)()
    replies = roundtrip(transport, guest, request(XsType.READ, "/local/domain/1", req_id=2))
    assert [m.req_id for m in replies] == [2]  # the half message was forgotten


def test_reconnect_needs_the_feature(store: XenStore) -> None:
    transport = RingTransport(store, 1, features=ServerFeature.ERROR)
    guest = GuestRing()
    transport.attach(guest.page)
    guest.set(RingOffset.CONNECTION, RingConnection.RECONNECT)
    assert not transport.process(guest.page)
    assert RingState.read(guest.page).connection == RingConnection.RECONNECT


def test_error_field_needs_the_feature(store: XenStore) -> None:
    transport = RingTransport(store, 1, features=0)
    guest = GuestRing()
    _corrupt_req_index(guest)
    transport.process(guest.page)
    assert transport.error == RingError.RINGIDX
    assert RingState.read(guest.page).error == 0
    transport.reset(guest.page)
    assert RingError(transport.error) is RingError.NONE


def test_released_domain_ring_goes_quiet(store: XenStore) -> None:
    transport, guest = make(store)
    store.release_domain(1)
    guest.send(encode(request(XsType.READ, "data")))
    assert not transport.process(guest.page)


def test_small_page_is_rejected(store: XenStore) -> None:
    with pytest.raises(ValueError):
        RingTransport(store, 1).process(bytearray(100))


def test_memoryview_page(store: XenStore) -> None:
    transport, guest = make(store)
    guest.send(encode(request(XsType.READ, "/local/domain/1", req_id=6)))
    assert transport.process(memoryview(guest.page))
    assert [m.req_id for m in guest.messages()] == [6]


@settings(deadline=None, max_examples=50)
@given(
    start=st.integers(0, 0xFFFFFFFF),
    values=st.lists(st.binary(min_size=0, max_size=1500), min_size=1, max_size=5),
    bites=st.lists(st.integers(1, 700), min_size=1, max_size=8),
)
def test_any_start_index_and_chunking(start: int, values: list[bytes], bites: list[int]) -> None:
    store = XenStore()
    transport = RingTransport(store, 0)
    guest = GuestRing(start)
    transport.attach(guest.page)
    msgs = [
        request(XsType.WRITE, f"/v/{i}", req_id=i, raw_tail=value) for i, value in enumerate(values)
    ]
    msgs += [request(XsType.READ, f"/v/{i}", req_id=100 + i) for i in range(len(values))]
    stream = b"".join(encode(m) for m in msgs)
    sent = 0
    replies: list[Message] = []
    for step in range(10_000):
        if sent < len(stream):
            sent += guest.send(stream[sent : sent + bites[step % len(bites)]])
        transport.process(guest.page)
        replies += guest.messages(bites[(step + 1) % len(bites)])
        if len(replies) == len(msgs):
            break
    assert [m.req_id for m in replies] == [m.req_id for m in msgs]
    assert [m.payload for m in replies[len(values) :]] == values
    assert RingState.read(guest.page).error == RingError.NONE
