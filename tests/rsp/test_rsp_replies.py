"""Reply builders: values -> exact payload bytes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xgdbvm.rsp import replies as r
from xgdbvm.rsp.constants import ErrorCode, GdbSignal
from xgdbvm.rsp.hexutil import HexError, from_le, hex_decode, hex_le, parse_hex_int, to_le
from xgdbvm.rsp.session import PLAIN, Capabilities, ReplyFormat
from xgdbvm.rsp.thread_id import ALL, ThreadId

MP = ReplyFormat(multiprocess=True, swbreak=True, hwbreak=True)
LLDB = ReplyFormat(error_strings=True, threads_in_stop_reply=True)
PC_SP = r.ExpeditedRegisters([(32, 8), (31, 8)])
PC_SP_VALUES = (0x4000_0080, 0x4010_0000)

REPLY_TABLE: list[tuple[Callable[[], bytes], bytes]] = [
    (r.ok, b"OK"),
    (r.empty, b""),
    (lambda: r.error(ErrorCode.EFAULT), b"E0e"),
    (lambda: r.error(ErrorCode.EINVAL, "bad length"), b"E16"),
    (lambda: r.error(ErrorCode.EINVAL, "bad", fmt=LLDB), b"E16;626164"),
    (lambda: r.error(0x45), b"E45"),
    (lambda: r.error_text("no such register"), b"E.no such register"),
    (lambda: r.error_text("a*b#c"), b"E.a?b?c"),
    (lambda: r.register(b"\x78\x56\x34\x12"), b"78563412"),
    (lambda: r.unavailable_register(4), b"xxxxxxxx"),
    (lambda: r.registers([b"\x01\x00", b"\xff"]), b"0100ff"),
    (lambda: r.registers([b"\x01", None], sizes=[1, 2]), b"01xxxx"),
    (lambda: r.memory(b"\xde\xad\xbe\xef"), b"deadbeef"),
    (lambda: r.memory(b""), b""),
    # stop replies
    (lambda: r.stop(GdbSignal.TRAP), b"T05"),
    (lambda: r.stop(GdbSignal.TRAP, thread=ThreadId(1)), b"T05thread:1;"),
    (lambda: r.stop(GdbSignal.TRAP, thread=ThreadId(2), fmt=MP), b"T05thread:p1.2;"),
    (
        lambda: r.stop(GdbSignal.TRAP, thread=ThreadId(2, pid=3), fmt=MP),
        b"T05thread:p3.2;",
    ),
    (
        lambda: r.stop(GdbSignal.TRAP, thread=ThreadId(1), expedited=PC_SP.encode(PC_SP_VALUES)),
        b"T0520:8000004000000000;1f:0000104000000000;thread:1;",
    ),
    (
        lambda: r.stop(5, reason=r.StopReason(r.StopReasonKind.SWBREAK), thread=ThreadId(1)),
        b"T05thread:1;",  # client did not advertise swbreak+
    ),
    (
        lambda: r.stop(5, reason=r.StopReason(r.StopReasonKind.SWBREAK), fmt=MP),
        b"T05swbreak:;",
    ),
    (
        lambda: r.stop(5, reason=r.StopReason(r.StopReasonKind.HWBREAK), fmt=MP),
        b"T05hwbreak:;",
    ),
    (
        lambda: r.stop(5, reason=r.StopReason(r.StopReasonKind.HWBREAK)),
        b"T05",
    ),
    (
        lambda: r.stop(5, reason=r.StopReason(r.StopReasonKind.WATCH, 0x9000)),
        b"T05watch:9000;",
    ),
    (
        lambda: r.stop(5, reason=r.StopReason(r.StopReasonKind.RWATCH, 0x9004)),
        b"T05rwatch:9004;",
    ),
    (
        lambda: r.stop(5, reason=r.StopReason(r.StopReasonKind.AWATCH, 0x9008)),
        b"T05awatch:9008;",
    ),
    (lambda: r.stop(GdbSignal.INT, thread=ThreadId(1), core=0), b"T02thread:1;core:0;"),
    (
        lambda: r.stop(5, thread=ThreadId(1), threads=[ThreadId(1), ThreadId(2)], fmt=LLDB),
        b"T05thread:1;threads:1,2;",
    ),
    (lambda: r.stop(5, threads=[ThreadId(1)]), b"T05"),  # not enabled by the client
    (lambda: r.signal_stop(GdbSignal.SEGV), b"S0b"),
    (lambda: r.exited(0), b"W00"),
    (lambda: r.exited(3, fmt=MP), b"W03;process:1"),
    (lambda: r.terminated(GdbSignal.KILL), b"X09"),
    (lambda: r.terminated(GdbSignal.KILL, fmt=MP), b"X09;process:1"),
    (lambda: r.console_output("hi\n"), b"O68690a"),
    (lambda: r.console_output(b"\x00"), b"O00"),
    # queries
    (lambda: r.xfer_chunk(b"abcdef", 0, 4), b"mabcd"),
    (lambda: r.xfer_chunk(b"abcdef", 4, 4), b"lef"),
    (lambda: r.xfer_chunk(b"abcdef", 0, 6), b"labcdef"),
    (lambda: r.xfer_chunk(b"abcdef", 6, 4), b"l"),
    (lambda: r.xfer_chunk(b"abcdef", 100, 4), b"l"),
    (lambda: r.xfer_chunk(b"a}*$#", 0, 10), b"la}*$#"),  # escaping is the framing's job
    (lambda: r.thread_list([ThreadId(1), ThreadId(2)]), b"m1,2"),
    (lambda: r.thread_list([ThreadId(1), ThreadId(0x1F)], fmt=MP), b"mp1.1,p1.1f"),
    (lambda: r.thread_list([]), b"l"),
    (lambda: r.current_thread(ThreadId(1)), b"QC1"),
    (lambda: r.current_thread(ThreadId(1), fmt=MP), b"QCp1.1"),
    (lambda: r.thread_extra_info("vCPU 0 [EL1]"), b"764350552030205b454c315d"),
    (lambda: r.attached(True), b"1"),
    (lambda: r.attached(False), b"0"),
    (lambda: r.offsets(), b"Text=0;Data=0;Bss=0"),
    (lambda: r.offsets(0x1000, 0x2000), b"Text=1000;Data=2000;Bss=2000"),
    (lambda: r.vcont_actions(), b"vCont;c;C;s;S;r;t"),
    (lambda: r.vcont_actions("cs"), b"vCont;c;s"),
    (lambda: r.symbol_lookup("main"), b"qSymbol:6d61696e"),
    (r.trace_status, b"T0"),
    (lambda: r.server_version("xgdbvm", "0.1.0"), b"name:xgdbvm;version:0.1.0;"),
]


@pytest.mark.parametrize(("build", "expected"), REPLY_TABLE, ids=lambda v: repr(v)[:40])
def test_reply_table(build: Callable[[], bytes], expected: bytes) -> None:
    assert build() == expected


def test_supported_reply_default() -> None:
    assert r.supported(Capabilities()) == (
        b"PacketSize=4000;qXfer:features:read+;qXfer:memory-map:read-;qXfer:threads:read+;"
        b"QStartNoAckMode+;vContSupported+;swbreak+;hwbreak+;multiprocess-;"
        b"QThreadSuffixSupported+;QListThreadsInStopReply+;QEnableErrorStrings+"
    )


def test_supported_reply_custom() -> None:
    caps = Capabilities(
        packet_size=0x8000,
        xfer_memory_map=True,
        multiprocess=True,
        no_ack_mode=False,
        extra=("qXfer:exec-file:read+",),
    )
    reply = r.supported(caps).split(b";")
    assert reply[0] == b"PacketSize=8000"
    assert b"qXfer:memory-map:read+" in reply
    assert b"multiprocess+" in reply
    assert b"QStartNoAckMode-" in reply
    assert reply[-1] == b"qXfer:exec-file:read+"


def test_watch_stop_needs_an_address() -> None:
    with pytest.raises(ValueError):
        r.stop(5, reason=r.StopReason(r.StopReasonKind.WATCH))


def test_unavailable_register_needs_a_size() -> None:
    with pytest.raises(ValueError):
        r.registers([None])


def test_empty_console_output_is_refused() -> None:
    with pytest.raises(ValueError):
        r.console_output("")


def test_plain_format_is_the_default() -> None:
    assert ReplyFormat() == PLAIN


# --- hex helpers --------------------------------------------------------------


def test_hex_helpers() -> None:
    assert to_le(0x12345678, 4) == b"\x78\x56\x34\x12"
    assert to_le(-1, 2) == b"\xff\xff"
    assert from_le(b"\x78\x56\x34\x12") == 0x12345678
    assert hex_le(0x4000_0000, 8) == b"0000004000000000"
    assert hex_decode(b"ABcd") == b"\xab\xcd"
    assert parse_hex_int(b"00000000000000000001") == 1  # leading zeros do not count
    for bad in (b"", b"0x1", b"-1", b"1_0", b" 1", b"g"):
        with pytest.raises(HexError):
            parse_hex_int(bad)
    with pytest.raises(HexError):
        parse_hex_int(b"1" * 17)
    with pytest.raises(HexError):
        hex_decode(b"abc")


def test_thread_id_spelling() -> None:
    assert ThreadId(ALL).encode(multiprocess=False) == b"-1"
    assert ThreadId(ALL, pid=ALL).encode(multiprocess=True) == b"p-1.-1"
    assert ThreadId(0x10).encode(multiprocess=True, default_pid=2) == b"p2.10"
    assert ThreadId.parse(b"p2.10") == ThreadId(0x10, pid=2)
    assert ThreadId.parse(b"p2") == ThreadId(ALL, pid=2)
    assert ThreadId(ALL).is_all
    assert ThreadId(0).is_any
    for bad in (b"", b"p", b"p.1", b"-2", b"123456789", b"x"):
        with pytest.raises(ValueError):
            ThreadId.parse(bad)


def test_expedited_registers_are_encoded_at_their_widths_in_order() -> None:
    fields = r.ExpeditedRegisters([(0x20, 8), (0x1F, 8), (0x21, 4)])
    assert fields.encode((0x4008_91A8, 0, 0x3C5)) == (
        b"20:a891084000000000;1f:0000000000000000;21:c5030000;"
    )
    # Wider or negative values are cut to the register, as the target holds them.
    assert fields.encode((-1, 1 << 64, 0x1_0000_0005)) == (
        b"20:ffffffffffffffff;1f:0000000000000000;21:05000000;"
    )
    assert r.ExpeditedRegisters([(0xF, 4)]).encode((0x4001_0CD8,)) == b"0f:d80c0140;"
    stop = r.stop(5, expedited=fields.encode((1, 2, 3)))
    assert stop == b"T0520:0100000000000000;1f:0200000000000000;21:03000000;"
