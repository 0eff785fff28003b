"""RspConnection: acks, retransmission, session packets, errors that keep the session."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xgdbvm.rsp import commands as c
from xgdbvm.rsp.connection import (
    FRAMES_MAX,
    RLE_MIN_PAYLOAD,
    CommandReceived,
    Event,
    InterruptRequested,
    ProtocolError,
    ProtocolErrorKind,
    RspConnection,
    UnsupportedPacket,
)
from xgdbvm.rsp.constants import ThreadOp
from xgdbvm.rsp.framing import encode_packet
from xgdbvm.rsp.parse import parse_command
from xgdbvm.rsp.session import Capabilities
from xgdbvm.rsp.thread_id import ThreadId


def pkt(payload: bytes) -> bytes:
    return encode_packet(payload)


def exchange(conn: RspConnection, data: bytes) -> tuple[list[Event], bytes]:
    events = conn.receive_data(data)
    return events, conn.data_to_send()


SUPPORTED = (
    b"PacketSize=4000;qXfer:features:read+;qXfer:memory-map:read-;qXfer:threads:read+;"
    b"QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+;multiprocess-;"
    b"QThreadSuffixSupported+;QListThreadsInStopReply+;QEnableErrorStrings+"
)

# (peer bytes, events, bytes we send back) for a fresh connection in ack mode.
FRESH_TABLE: list[tuple[bytes, list[Event], bytes]] = [
    (pkt(b"m1000,4"), [CommandReceived(c.ReadMemory(0x1000, 4))], b"+"),
    (pkt(b"?"), [CommandReceived(c.QueryHaltReason())], b"+"),
    (b"\x03", [InterruptRequested()], b""),
    (b"+", [], b""),
    (b"-", [], b""),  # nothing outstanding: a stray NAK is ignored
    (b"garbage", [], b""),
    (pkt(b"qSupported:swbreak+"), [], b"+" + pkt(SUPPORTED)),
    (pkt(b"vMustReplyEmpty"), [], b"+$#00"),
    (pkt(b"QStartNoAckMode"), [], b"+$OK#9a"),
    (pkt(b"QEnableErrorStrings"), [], b"+$OK#9a"),
    (pkt(b"QThreadSuffixSupported"), [], b"+$OK#9a"),
    (pkt(b"QListThreadsInStopReply"), [], b"+$OK#9a"),
    (pkt(b"qFoo"), [UnsupportedPacket(b"qFoo")], b"+$#00"),
    (
        pkt(b"m1000"),
        [ProtocolError(ProtocolErrorKind.MALFORMED_COMMAND, "m: expected addr,length")],
        b"+" + pkt(b"E16"),
    ),
    (
        b"$m1000,4#00",
        [ProtocolError(ProtocolErrorKind.CHECKSUM_MISMATCH, "expected 8e, got 00")],
        b"-",
    ),
    (
        b"$g#zz",
        [ProtocolError(ProtocolErrorKind.MALFORMED_FRAME, "non-hex checksum b'zz'")],
        b"-",
    ),
    (
        pkt(b"a")[:-3] + b"}" + b"#" + b"%02x" % ((ord("a") + ord("}")) % 256),
        [ProtocolError(ProtocolErrorKind.MALFORMED_FRAME, "escape at end of packet")],
        b"+" + pkt(b"E16"),
    ),
    (
        b"$ab$g#67",
        [
            ProtocolError(ProtocolErrorKind.ABANDONED_FRAME, "packet restarted before '#'"),
            CommandReceived(c.ReadRegisters()),
        ],
        b"+",
    ),
]


def test_fresh_connection_table() -> None:
    for data, events, reply in FRESH_TABLE:
        conn = RspConnection()
        assert exchange(conn, data) == (events, reply), data


def test_reply_is_framed_and_held_until_acked() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"m1000,4"))
    conn.data_to_send()
    conn.send(b"O6869")  # console output first, then the reply behind it
    conn.send(b"deadbeef")
    assert conn.data_to_send() == pkt(b"O6869")
    assert conn.awaiting_ack
    assert exchange(conn, b"+") == ([], pkt(b"deadbeef"))
    assert exchange(conn, b"+") == ([], b"")
    assert not conn.awaiting_ack


def test_nack_retransmits_the_packet_in_flight() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"g"))
    conn.data_to_send()
    conn.send(b"00112233")
    assert conn.data_to_send() == pkt(b"00112233")
    assert exchange(conn, b"-") == ([], pkt(b"00112233"))
    assert exchange(conn, b"-") == ([], pkt(b"00112233"))
    assert exchange(conn, b"+") == ([], b"")
    assert exchange(conn, b"-") == ([], b""), "acked packets are not resent"


def test_nack_of_a_session_reply_is_served_too() -> None:
    conn = RspConnection()
    assert exchange(conn, pkt(b"qSupported")) == ([], b"+" + pkt(SUPPORTED))
    assert exchange(conn, b"-") == ([], pkt(SUPPORTED))


def test_a_new_packet_acks_the_one_in_flight() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"?"))
    conn.send(b"S05")
    conn.send(b"O41")
    conn.data_to_send()
    # The peer never acked S05 but sent a new command: O41 goes out next.
    events, out = exchange(conn, pkt(b"qC"))
    assert events == [CommandReceived(c.QueryCurrentThread())]
    assert out == b"+" + pkt(b"O41")


def test_bad_checksum_then_session_continues() -> None:
    conn = RspConnection()
    events, out = exchange(conn, b"$m1000,4#00" + pkt(b"m1000,4"))
    assert out == b"-+"
    assert events[0] == ProtocolError(ProtocolErrorKind.CHECKSUM_MISMATCH, "expected 8e, got 00")
    assert events[1] == CommandReceived(c.ReadMemory(0x1000, 4))


def test_oversize_packet_then_next_packet_parses() -> None:
    conn = RspConnection(Capabilities(packet_size=32))
    big = pkt(b"M1000,40:" + b"00" * 0x40)
    events, out = exchange(conn, big + pkt(b"g"))
    assert events == [
        ProtocolError(ProtocolErrorKind.PACKET_TOO_LARGE, "137 bytes, limit 32"),
        CommandReceived(c.ReadRegisters()),
    ]
    # Acked (resending would not help) and answered, then the next packet acked.
    assert out == b"+" + pkt(b"E07") + b"+"


def test_bad_rle_is_answered_with_an_error() -> None:
    conn = RspConnection()
    body = b"m*\x10"
    bad = b"$" + body + b"#%02x" % (sum(body) % 256)
    events, out = exchange(conn, bad + pkt(b"g"))
    assert events == [
        ProtocolError(ProtocolErrorKind.MALFORMED_FRAME, "invalid run-length count 0x10"),
        CommandReceived(c.ReadRegisters()),
    ]
    # Acked (resending would not help) and answered; the next packet acks our E16.
    assert out == b"+" + pkt(b"E16") + b"+"


def test_no_ack_mode_before_qsupported_as_lldb_does() -> None:
    conn = RspConnection()
    # The OK is acknowledged by us with '+' and is itself sent in ack mode.
    assert exchange(conn, pkt(b"QStartNoAckMode")) == ([], b"+" + pkt(b"OK"))
    assert not conn.session.ack_mode
    assert conn.session.client is None
    # The peer acks our OK; from then on nobody acks.
    assert exchange(conn, b"+") == ([], b"")
    events, out = exchange(conn, pkt(b"qSupported:xmlRegisters=arm"))
    assert events == [] and out == pkt(SUPPORTED)
    assert conn.session.xml_registers == ("arm",)
    events, out = exchange(conn, pkt(b"m0,1"))
    assert events == [CommandReceived(c.ReadMemory(0, 1))] and out == b""
    conn.send(b"00")
    conn.send(b"O41")
    assert conn.data_to_send() == pkt(b"00") + pkt(b"O41"), "nothing waits for acks"


def test_no_ack_mode_if_the_peer_nacks_our_ok() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"QStartNoAckMode"))
    conn.data_to_send()
    assert exchange(conn, b"-") == ([], pkt(b"OK"))


def test_no_ack_mode_bad_checksum_gets_an_error_reply() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"QStartNoAckMode") + b"+")
    conn.data_to_send()
    events, out = exchange(conn, b"$m1000,4#00")
    assert out == pkt(b"E05"), "the peer will not resend, and it waits for a reply"
    assert events[0].kind is ProtocolErrorKind.CHECKSUM_MISMATCH  # type: ignore[union-attr]


def test_no_ack_mode_not_offered() -> None:
    conn = RspConnection(Capabilities(no_ack_mode=False))
    assert exchange(conn, pkt(b"QStartNoAckMode")) == ([], b"+$#00")
    assert conn.session.ack_mode


def test_error_strings_once_enabled() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"QEnableErrorStrings"))
    conn.receive_data(b"+")
    conn.data_to_send()
    conn.receive_data(pkt(b"m1000"))
    assert conn.data_to_send() == b"+" + pkt(b"E16;" + b"expected addr,length".hex().encode())
    conn.receive_data(b"+")
    conn.receive_data(pkt(b"m0,1"))
    conn.send_error(0x0E, "unmapped")
    assert conn.data_to_send() == b"+" + pkt(b"E0e;" + b"unmapped".hex().encode())


def test_error_without_strings() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"m0,1"))
    conn.data_to_send()
    conn.send_error(0x0E, "unmapped")
    assert conn.data_to_send() == pkt(b"E0e")


def test_negotiated_features() -> None:
    conn = RspConnection(Capabilities(multiprocess=True, hwbreak=False))
    conn.receive_data(pkt(b"qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+"))
    session = conn.session
    assert session.multiprocess and session.swbreak and session.vcont_supported
    assert not session.hwbreak, "we did not offer it"
    fmt = session.reply_format
    assert (fmt.multiprocess, fmt.swbreak, fmt.hwbreak) == (True, True, False)


def test_nothing_negotiated_without_qsupported() -> None:
    session = RspConnection().session
    assert not (session.multiprocess or session.swbreak or session.hwbreak)
    assert session.xml_registers == ()


def test_set_thread_is_recorded_when_the_server_accepts() -> None:
    conn = RspConnection()
    events = conn.receive_data(pkt(b"Hg2"))
    assert events == [CommandReceived(c.SetThread(ThreadOp.GENERAL, ThreadId(2)))]
    conn.send(b"OK")
    assert conn.session.general_thread == ThreadId(2)
    assert conn.session.selected_thread(ThreadOp.GENERAL) == ThreadId(2)
    conn.receive_data(b"+" + pkt(b"Hc-1"))
    conn.send(b"O41")  # console output does not count as the answer
    conn.send(b"OK")
    assert conn.session.continue_thread == ThreadId(-1)


def test_set_thread_is_not_recorded_when_refused() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"Hg9"))
    conn.send(b"E02")
    assert conn.session.general_thread is None


def test_interrupt_while_running_and_between_packets() -> None:
    conn = RspConnection()
    events = conn.receive_data(pkt(b"vCont;c") + b"\x03")
    assert events == [
        CommandReceived(c.VCont((c.VContAction(c.ResumeKind.CONTINUE),))),
        InterruptRequested(),
    ]


def test_reset_forgets_the_peer() -> None:
    conn = RspConnection()
    conn.receive_data(pkt(b"qSupported:swbreak+") + b"+" + pkt(b"QStartNoAckMode") + b"+")
    conn.receive_data(pkt(b"Hg2"))
    conn.send(b"OK")
    conn.receive_data(b"$partial")
    assert not conn.session.ack_mode
    conn.reset()
    assert conn.data_to_send() == b""
    assert conn.session.ack_mode
    assert conn.session.client is None
    assert conn.session.general_thread is None
    assert exchange(conn, pkt(b"g")) == ([CommandReceived(c.ReadRegisters())], b"+")


def test_rle_replies_long_ones_only() -> None:
    conn = RspConnection(rle=True)
    conn.receive_data(pkt(b"g"))
    conn.data_to_send()
    conn.send(b"0" * RLE_MIN_PAYLOAD)
    sent = conn.data_to_send()
    assert sent == encode_packet(b"0" * RLE_MIN_PAYLOAD, rle=True)
    assert len(sent) < 16
    # A short reply goes out as it is: encoding costs more time than it saves bytes.
    conn.receive_data(pkt(b"g"))
    conn.send(b"0" * 16)
    assert conn.data_to_send() == b"+" + encode_packet(b"0" * 16)


def test_replies_framed_again_from_kept_frames_are_the_same_bytes() -> None:
    conn = RspConnection(rle=True)
    exchange(conn, pkt(b"QStartNoAckMode") + b"+")
    # Escapes and all, the second time as the first; past the bound, still right.
    payloads = [b"T05thread:1;", b"a$b#c}d*e", b"OK", b"0" * RLE_MIN_PAYLOAD]
    payloads += [b"%x" % n for n in range(FRAMES_MAX + 8)]
    for _round in range(2):
        for payload in payloads:
            conn.receive_data(pkt(b"g"))
            conn.send(payload)
            rle = len(payload) >= RLE_MIN_PAYLOAD
            assert conn.data_to_send() == encode_packet(payload, rle=rle)


@given(st.data())
def test_connection_events_do_not_depend_on_chunking(data: st.DataObject) -> None:
    wire = (
        pkt(b"QStartNoAckMode")
        + b"+"
        + pkt(b"qSupported:multiprocess+")
        + pkt(b"m1000,4")
        + b"\x03"
        + b"$g#00"
        + encode_packet(b"X0,8:" + b"}*$#\x03" + b"aaa", rle=True)
        + pkt(b"qFoo")
        + pkt(b"vCont;s:p1.1")
    )
    whole = RspConnection()
    expected_events = whole.receive_data(wire)
    expected_out = whole.data_to_send()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=10)))
    conn = RspConnection()
    events: list[Event] = []
    start = 0
    for cut in [*cuts, len(wire)]:
        events += conn.receive_data(wire[start:cut])
        start = cut
    assert events == expected_events
    assert conn.data_to_send() == expected_out
    assert CommandReceived(c.WriteMemory(0, b"}*$#\x03aaa", binary=True)) in events


# --- reused replies -------------------------------------------------------------


def no_ack_reusing() -> RspConnection:
    conn = RspConnection(reuse_replies=True)
    exchange(conn, pkt(b"QStartNoAckMode") + b"+")
    return conn


def test_a_repeated_read_is_answered_from_the_kept_reply() -> None:
    conn = no_ack_reusing()
    assert exchange(conn, pkt(b"m1000,4")) == ([CommandReceived(c.ReadMemory(0x1000, 4))], b"")
    conn.send(b"deadbeef")
    assert conn.data_to_send() == pkt(b"deadbeef")
    # Byte for byte the same packet: the owner never sees it.
    assert exchange(conn, pkt(b"m1000,4")) == ([], pkt(b"deadbeef"))
    # Another read is asked for, and kept alongside.
    events, _ = exchange(conn, pkt(b"g"))
    assert events == [CommandReceived(c.ReadRegisters())]
    conn.send(b"00")
    assert conn.data_to_send() == pkt(b"00")
    assert exchange(conn, pkt(b"m1000,4")) == ([], pkt(b"deadbeef"))
    assert exchange(conn, pkt(b"g")) == ([], pkt(b"00"))


def test_any_other_packet_drops_the_kept_replies() -> None:
    for other in (b"M1000,4:01020304", b"vCont;s", b"Z0,1000,4", b"qRcmd,6d656d", b"Hg1"):
        conn = no_ack_reusing()
        exchange(conn, pkt(b"m1000,4"))
        conn.send(b"deadbeef")
        events, _ = exchange(conn, pkt(other))
        assert len(events) == 1, other
        conn.send(b"OK")
        conn.data_to_send()
        assert exchange(conn, pkt(b"m1000,4")) == (
            [CommandReceived(c.ReadMemory(0x1000, 4))],
            b"",
        ), other


def test_the_owner_drops_the_kept_replies_when_the_target_changes() -> None:
    conn = no_ack_reusing()
    exchange(conn, pkt(b"?"))
    conn.send(b"S05")
    conn.data_to_send()
    conn.forget_replies()
    assert exchange(conn, pkt(b"?")) == ([CommandReceived(c.QueryHaltReason())], b"")


class MemoryJudge:
    """The owner's answer to "does this read still give that reply?", and the questions."""

    def __init__(self) -> None:
        self.unchanged = True
        self.asked: list[tuple[c.ReadMemory, bytes]] = []

    def __call__(self, command: c.ReadMemory, payload: bytes) -> bool:
        self.asked.append((command, payload))
        return self.unchanged


def probation_conn() -> tuple[RspConnection, MemoryJudge]:
    judge = MemoryJudge()
    conn = RspConnection(reuse_replies=True, memory_unchanged=judge)
    exchange(conn, pkt(b"QStartNoAckMode") + b"+")
    return conn, judge


def answer(conn: RspConnection, request: bytes, reply: bytes) -> None:
    events, _ = exchange(conn, pkt(request))
    assert len(events) == 1, request
    conn.send(reply)
    assert conn.data_to_send() == pkt(reply)


def test_a_memory_reply_outlives_a_resume_while_the_owner_says_it_holds() -> None:
    conn, judge = probation_conn()
    answer(conn, b"m1000,4", b"deadbeef")
    assert judge.asked == []  # answered from the kept reply, no question while halted
    assert exchange(conn, pkt(b"m1000,4")) == ([], pkt(b"deadbeef"))
    conn.forget_replies()  # the guest ran
    assert exchange(conn, pkt(b"m1000,4")) == ([], pkt(b"deadbeef"))
    assert judge.asked == [(c.ReadMemory(0x1000, 4), b"deadbeef")]
    # Confirmed once, it is as good as new until the target changes again.
    assert exchange(conn, pkt(b"m1000,4")) == ([], pkt(b"deadbeef"))
    assert len(judge.asked) == 1


def test_a_memory_reply_the_owner_disowns_is_asked_for_and_dropped() -> None:
    conn, judge = probation_conn()
    answer(conn, b"m1000,4", b"deadbeef")
    conn.forget_replies()
    judge.unchanged = False
    assert exchange(conn, pkt(b"m1000,4"))[0] == [CommandReceived(c.ReadMemory(0x1000, 4))]
    conn.send(b"01020304")
    assert conn.data_to_send() == pkt(b"01020304")
    # The new reply is the one on record now.
    conn.forget_replies()
    judge.unchanged = True
    assert exchange(conn, pkt(b"m1000,4")) == ([], pkt(b"01020304"))
    assert judge.asked[-1] == (c.ReadMemory(0x1000, 4), b"01020304")


def test_only_memory_replies_that_read_something_go_on_probation() -> None:
    conn, judge = probation_conn()
    answer(conn, b"m10000000,4", b"E0e")
    answer(conn, b"g", b"00" * 8)
    answer(conn, b"qXfer:threads:read::0,1000", b"l<threads/>")
    conn.forget_replies()
    for request in (b"m10000000,4", b"g", b"qXfer:threads:read::0,1000"):
        assert len(exchange(conn, pkt(request))[0]) == 1, request
        conn.send(b"OK")
        conn.data_to_send()
    assert judge.asked == []


def test_probation_is_bounded_and_the_oldest_goes_first() -> None:
    from xgdbvm.rsp.connection import PROBATION_MAX

    conn, _ = probation_conn()
    for n in range(PROBATION_MAX + 1):
        answer(conn, b"m%x,1" % (0x2000 + n), b"%02x" % n)
    conn.forget_replies()
    assert len(exchange(conn, pkt(b"m2000,1"))[0]) == 1  # the oldest: gone
    conn.send(b"00")
    conn.data_to_send()
    newest = b"m%x,1" % (0x2000 + PROBATION_MAX)
    assert exchange(conn, pkt(newest)) == ([], pkt(b"%02x" % PROBATION_MAX))


def test_replies_are_not_reused_in_ack_mode_or_unless_asked() -> None:
    conn = RspConnection(reuse_replies=True)
    exchange(conn, pkt(b"m1000,4"))
    conn.send(b"deadbeef")
    conn.data_to_send()
    assert exchange(conn, pkt(b"m1000,4"))[0] == [CommandReceived(c.ReadMemory(0x1000, 4))]
    conn = RspConnection()
    exchange(conn, pkt(b"QStartNoAckMode") + b"+")
    exchange(conn, pkt(b"m1000,4"))
    conn.send(b"deadbeef")
    assert exchange(conn, pkt(b"m1000,4"))[0] == [CommandReceived(c.ReadMemory(0x1000, 4))]


def test_what_reuse_keeps_is_bounded_in_size_and_number() -> None:
    from xgdbvm.rsp.connection import REUSE_MAX_FRAME, REUSE_MAX_REPLIES

    conn = no_ack_reusing()
    # A dump-sized reply is sent but not kept: the same packet is asked for again.
    exchange(conn, pkt(b"m1000,1000"))
    conn.send(bytes(range(256)).hex().encode() * 16)
    assert len(conn.data_to_send()) > REUSE_MAX_FRAME
    assert exchange(conn, pkt(b"m1000,1000"))[0] == [CommandReceived(c.ReadMemory(0x1000, 0x1000))]
    conn.send(b"00")
    conn.data_to_send()
    # Small replies are kept up to the limit, and no more.
    for n in range(REUSE_MAX_REPLIES + 1):
        exchange(conn, pkt(b"m%x,1" % (0x2000 + n)))
        conn.send(b"%02x" % (n & 0xFF))
        conn.data_to_send()
    assert exchange(conn, pkt(b"m2000,1")) == ([], pkt(b"00"))
    last = b"m%x,1" % (0x2000 + REUSE_MAX_REPLIES)
    assert exchange(conn, pkt(last))[0] == [
        CommandReceived(c.ReadMemory(0x2000 + REUSE_MAX_REPLIES, 1))
    ]


@pytest.mark.parametrize("no_ack", [False, True])
def test_a_repeated_packet_is_the_same_command_each_time(no_ack: bool) -> None:
    # No-ack mode answers a chunk it has parsed before without decoding it again.
    conn = RspConnection()
    if no_ack:
        conn.receive_data(pkt(b"QStartNoAckMode"))
        conn.receive_data(b"+")
        conn.data_to_send()
    for _ in range(3):
        events = conn.receive_data(pkt(b"vCont;s:1"))
        assert [type(e) for e in events] == [CommandReceived]
        assert events[0] == CommandReceived(parse_command(b"vCont;s:1"))
        assert conn.data_to_send() == (b"" if no_ack else b"+")
        conn.send(b"T05")
        conn.data_to_send()
        conn.receive_data(b"+")
    # Two packets in one chunk are still both seen.
    events = conn.receive_data(pkt(b"g") + pkt(b"?"))
    assert events == [CommandReceived(c.ReadRegisters()), CommandReceived(c.QueryHaltReason())]
