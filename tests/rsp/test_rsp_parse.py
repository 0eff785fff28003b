"""Packet payload -> typed command, one row per packet form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xgdbvm.rsp import commands as c
from xgdbvm.rsp.constants import BreakpointType, ThreadOp
from xgdbvm.rsp.parse import ParseLimits, packet_name, parse_command
from xgdbvm.rsp.thread_id import ALL, ANY, ThreadId

T = ThreadId
R = c.ResumeKind

PARSE_TABLE: list[tuple[bytes, c.Command]] = [
    (b"?", c.QueryHaltReason()),
    (b"g", c.ReadRegisters()),
    (b"g;thread:1f;", c.ReadRegisters(T(0x1F))),
    (b"G00112233", c.WriteRegisters(b"\x00\x11\x22\x33")),
    (b"G0011;thread:2;", c.WriteRegisters(b"\x00\x11", T(2))),
    (b"p1a", c.ReadRegister(0x1A)),
    (b"p20;thread:p1.2;", c.ReadRegister(0x20, T(2, pid=1))),
    (b"P1a=efbeadde", c.WriteRegister(0x1A, b"\xef\xbe\xad\xde")),
    (b"P0=01;thread:1;", c.WriteRegister(0, b"\x01", T(1))),
    (b"m1000,10", c.ReadMemory(0x1000, 0x10)),
    (b"mffffffffffffffff,1", c.ReadMemory(0xFFFF_FFFF_FFFF_FFFF, 1)),
    (b"m0,0", c.ReadMemory(0, 0)),
    (b"M1000,2:abCD", c.WriteMemory(0x1000, b"\xab\xcd")),
    (b"M1000,0:", c.WriteMemory(0x1000, b"")),
    (b"X1000,3:\x00}:", c.WriteMemory(0x1000, b"\x00}:", binary=True)),
    (b"X1000,0:", c.WriteMemory(0x1000, b"", binary=True)),  # GDB's probe for X support
    (b"c", c.Continue()),
    (b"c40000000", c.Continue(0x4000_0000)),
    (b"C05", c.Continue(signal=5)),
    (b"C0b;1000", c.Continue(0x1000, 0x0B)),
    (b"s", c.Step()),
    (b"s8000", c.Step(0x8000)),
    (b"S02", c.Step(signal=2)),
    (b"S02;8000", c.Step(0x8000, 2)),
    (b"vCont?", c.VContQuery()),
    (b"vCont;c", c.VCont((c.VContAction(R.CONTINUE),))),
    (b"vCont;s:1;c", c.VCont((c.VContAction(R.STEP, thread=T(1)), c.VContAction(R.CONTINUE)))),
    (b"vCont;s:0", c.VCont((c.VContAction(R.STEP, thread=T(ANY)),))),  # gdbstub #152
    (b"vCont;C05:p1.-1", c.VCont((c.VContAction(R.CONTINUE, 5, T(ALL, pid=1)),))),
    (b"vCont;S0b:2", c.VCont((c.VContAction(R.STEP, 0x0B, T(2)),))),
    (
        b"vCont;r1000,1010:1;c",
        c.VCont(
            (c.VContAction(R.RANGE_STEP, None, T(1), 0x1000, 0x1010), c.VContAction(R.CONTINUE))
        ),
    ),
    (b"vCont;t:3", c.VCont((c.VContAction(R.STOP, thread=T(3)),))),
    (b"vCtrlC", c.CtrlC()),
    (b"Z0,8000,4", c.InsertBreakpoint(BreakpointType.SOFTWARE, 0x8000, 4)),
    (b"Z0,8000,2", c.InsertBreakpoint(BreakpointType.SOFTWARE, 0x8000, 2)),
    (b"Z1,8000,3", c.InsertBreakpoint(BreakpointType.HARDWARE, 0x8000, 3)),
    (b"Z2,9000,8", c.InsertBreakpoint(BreakpointType.WRITE_WATCH, 0x9000, 8)),
    (b"Z3,9000,4", c.InsertBreakpoint(BreakpointType.READ_WATCH, 0x9000, 4)),
    (b"Z4,9000,1", c.InsertBreakpoint(BreakpointType.ACCESS_WATCH, 0x9000, 1)),
    (b"Z0,8000,4;X3,220105", c.InsertBreakpoint(BreakpointType.SOFTWARE, 0x8000, 4)),
    (b"Z0,8000,4;X3,220105;cmds:0,X1,00", c.InsertBreakpoint(BreakpointType.SOFTWARE, 0x8000, 4)),
    (b"z0,8000,4", c.RemoveBreakpoint(BreakpointType.SOFTWARE, 0x8000, 4)),
    (b"z4,9000,1", c.RemoveBreakpoint(BreakpointType.ACCESS_WATCH, 0x9000, 1)),
    (b"Hg0", c.SetThread(ThreadOp.GENERAL, T(ANY))),
    (b"Hg-1", c.SetThread(ThreadOp.GENERAL, T(ALL))),
    (b"Hc1", c.SetThread(ThreadOp.CONTINUE, T(1))),
    (b"Hgp1.2", c.SetThread(ThreadOp.GENERAL, T(2, pid=1))),
    (b"Hgp1", c.SetThread(ThreadOp.GENERAL, T(ALL, pid=1))),
    (b"Hcp-1.-1", c.SetThread(ThreadOp.CONTINUE, T(ALL, pid=ALL))),
    (b"T2", c.ThreadAlive(T(2))),
    (b"Tp1.a", c.ThreadAlive(T(10, pid=1))),
    (b"qC", c.QueryCurrentThread()),
    (b"qfThreadInfo", c.QueryThreadInfoFirst()),
    (b"qsThreadInfo", c.QueryThreadInfoNext()),
    (b"qThreadExtraInfo,1", c.QueryThreadExtraInfo(T(1))),
    (b"qThreadExtraInfo,p1.2", c.QueryThreadExtraInfo(T(2, pid=1))),
    (b"qAttached", c.QueryAttached()),
    (b"qAttached:1", c.QueryAttached(1)),
    (b"qSupported", c.QuerySupported()),
    (
        b"qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events-;"
        b"vContSupported+;QThreadEvents?;xmlRegisters=arm,i386",
        c.QuerySupported(
            (
                ("multiprocess", "+"),
                ("swbreak", "+"),
                ("hwbreak", "+"),
                ("qRelocInsn", "+"),
                ("fork-events", "-"),
                ("vContSupported", "+"),
                ("QThreadEvents", "?"),
                ("xmlRegisters", "arm,i386"),
            )
        ),
    ),
    (b"qXfer:features:read:target.xml:0,ffb", c.ReadXfer("features", "target.xml", 0, 0xFFB)),
    (b"qXfer:memory-map:read::100,200", c.ReadXfer("memory-map", "", 0x100, 0x200)),
    (b"qXfer:threads:read::0,1000", c.ReadXfer("threads", "", 0, 0x1000)),
    (b"qXfer:features:read:target.xml:0,100000", c.ReadXfer("features", "target.xml", 0, 0x10000)),
    (b"qSymbol::", c.QuerySymbol()),
    (b"qSymbol:40001000:6d61696e", c.QuerySymbol(0x4000_1000, "main")),
    (b"qSymbol::6d61696e", c.QuerySymbol(None, "main")),
    (b"qRcmd,68656c70", c.MonitorCommand("help")),
    (b"qRcmd,", c.MonitorCommand("")),
    (b"qOffsets", c.QueryOffsets()),
    (b"qTStatus", c.QueryTraceStatus()),
    (b"D", c.Detach()),
    (b"D;1", c.Detach(1)),
    (b"k", c.Kill()),
    (b"vKill;1", c.VKill(1)),
    (b"vKill", c.VKill()),
    (b"vMustReplyEmpty", c.MustReplyEmpty()),
    (b"QStartNoAckMode", c.StartNoAckMode()),
    (b"qHostInfo", c.QueryHostInfo()),
    (b"qProcessInfo", c.QueryProcessInfo()),
    (b"qRegisterInfo0", c.QueryRegisterInfo(0)),
    (b"qRegisterInfo4a", c.QueryRegisterInfo(0x4A)),
    (b"QThreadSuffixSupported", c.ThreadSuffixSupported()),
    (b"QListThreadsInStopReply", c.ListThreadsInStopReply()),
    (b"jThreadsInfo", c.ThreadsInfoJson()),
    (b"qGDBServerVersion", c.QueryServerVersion()),
    (b"QEnableErrorStrings", c.EnableErrorStrings()),
]


@pytest.mark.parametrize(("payload", "command"), PARSE_TABLE, ids=lambda v: repr(v)[:40])
def test_parse_table(payload: bytes, command: c.Command) -> None:
    assert parse_command(payload) == command


MALFORMED_TABLE: list[tuple[bytes, str]] = [
    (b"?x", "?"),
    (b"g00", "g"),
    (b"G", "G"),
    (b"G001", "G"),  # odd hex
    (b"Gzz", "G"),
    (b"p", "p"),
    (b"pxyz", "p"),
    (b"P1a", "P"),
    (b"P1a=", "P"),
    (b"P1a=0g", "P"),
    (b"m1000", "m"),
    (b"m,4", "m"),
    (b"m1000,", "m"),
    (b"m-1,4", "m"),
    (b"m0x10,4", "m"),
    (b"m 10,4", "m"),
    (b"m10000000000000000,1", "m"),  # 17 digits: wider than 64 bits
    (b"m1000,10001", "m"),  # over the read cap
    (b"M1000,4:abcd", "M"),  # fewer bytes than the length says
    (b"M1000,1:abcd", "M"),
    (b"M1000,2", "M"),
    (b"X1000,4:ab", "X"),
    (b"X1000,2", "X"),
    (b"cxyz", "c"),
    (b"C", "C"),
    (b"C123", "C"),  # signals are one byte
    (b"C05;zz", "C"),
    (b"vCont", "vCont"),
    (b"vCont;", "vCont"),
    (b"vCont;x", "vCont"),
    (b"vCont;c:", "vCont"),
    (b"vCont;C", "vCont"),
    (b"vCont;r1000", "vCont"),
    (b"vCont;c5", "vCont"),
    (b"Z0,8000", "Z"),
    (b"Z0,8000,4,5", "Z"),
    (b"Z,8000,4", "Z"),
    (b"z0,xyz,4", "z"),
    (b"H", "H"),
    (b"Hx1", "H"),
    (b"Hg", "H"),
    (b"Hgq", "H"),
    (b"Hgp.1", "H"),
    (b"T", "T"),
    (b"Tzz", "T"),
    (b"qThreadExtraInfo", "qThreadExtraInfo"),
    (b"qThreadExtraInfo,", "qThreadExtraInfo"),
    (b"qAttached:", "qAttached"),
    (b"qAttached:xyz", "qAttached"),
    (b"qSupported;foo", "qSupported"),
    (b"qSupported:foo", "qSupported"),
    (b"qXfer:features:read:target.xml", "qXfer"),
    (b"qXfer:features:read:target.xml:0", "qXfer"),
    (b"qXfer:features", "qXfer"),
    (b"qSymbol", "qSymbol"),
    (b"qSymbol:1000", "qSymbol"),
    (b"qSymbol:1000:", "qSymbol"),
    (b"qSymbol::6d6", "qSymbol"),
    (b"qRcmd", "qRcmd"),
    (b"qRcmd,6", "qRcmd"),
    (b"qRcmd,zz", "qRcmd"),
    (b"qC:1", "qC"),
    (b"qOffsets:1", "qOffsets"),
    (b"D1", "D"),
    (b"D;", "D"),
    (b"D;xyz", "D"),
    (b"k1", "k"),
    (b"vKill;", "vKill"),
    (b"vKill;zz", "vKill"),
    (b"qRegisterInfo", "qRegisterInfo"),
    (b"qRegisterInfozz", "qRegisterInfo"),
    (b"QStartNoAckMode:1", "QStartNoAckMode"),
]


@pytest.mark.parametrize(("payload", "name"), MALFORMED_TABLE, ids=lambda v: repr(v)[:40])
def test_malformed_arguments(payload: bytes, name: str) -> None:
    command = parse_command(payload)
    assert isinstance(command, c.Malformed), command
    assert command.packet == name
    assert command.reason


UNKNOWN_TABLE = [
    b"",
    b"x1000,4",  # both x dialects exist; we implement neither yet
    b"qFoo",
    b"qCRC:1000,10",
    b"QNonStop:1",
    b"vFile:open:2f6574632f706173737764,0,0",
    b"vAttach;1",
    b"Z5,1000,4",
    b"Z9,1000,4",
    b"vCont?x",
    b"qXfer:features:write:target.xml:0:abc",
    b"qMemoryRegionInfo:1000",
    b"jThreadExtendedInfo:{}",
    b"!",
    b"\xff\xfe",
]


@pytest.mark.parametrize("payload", UNKNOWN_TABLE, ids=lambda v: repr(v)[:40])
def test_unknown_packets(payload: bytes) -> None:
    assert parse_command(payload) == c.Unknown(payload)


def test_read_cap_is_configurable() -> None:
    limits = ParseLimits(max_read_length=0x100)
    assert parse_command(b"m0,100", limits) == c.ReadMemory(0, 0x100)
    assert isinstance(parse_command(b"m0,101", limits), c.Malformed)


def test_xfer_length_is_clamped_not_rejected() -> None:
    limits = ParseLimits(max_xfer_length=0x80)
    assert parse_command(b"qXfer:threads:read::0,fff", limits) == c.ReadXfer("threads", "", 0, 0x80)


def test_query_supported_helpers() -> None:
    command = parse_command(b"qSupported:swbreak+;hwbreak-;xmlRegisters=arm")
    assert isinstance(command, c.QuerySupported)
    assert command.supports("swbreak")
    assert not command.supports("hwbreak")
    assert not command.supports("multiprocess")
    assert command.get("xmlRegisters") == "arm"


def test_packet_names() -> None:
    assert packet_name(b"m1000,4") == "m"
    assert packet_name(b"qXfer:features:read:target.xml:0,1") == "qXfer"
    assert packet_name(b"qRegisterInfo3") == "qRegisterInfo"
    assert packet_name(b"vCont?") == "vCont?"
    assert packet_name(b"") == ""


def test_expects_immediate_reply() -> None:
    assert not c.expects_immediate_reply(c.Kill())
    assert not c.expects_immediate_reply(c.Continue())
    assert not c.expects_immediate_reply(c.VCont((c.VContAction(R.STEP),)))
    assert c.expects_immediate_reply(c.VCont((c.VContAction(R.STOP),)))
    assert c.expects_immediate_reply(c.ReadMemory(0, 1))


@given(st.binary(max_size=64))
def test_parser_never_raises(payload: bytes) -> None:
    parse_command(payload)


@given(st.sampled_from([p for p, _ in PARSE_TABLE]), st.binary(max_size=16))
def test_parser_never_raises_on_mutated_packets(payload: bytes, suffix: bytes) -> None:
    parse_command(payload + suffix)
    parse_command(payload[: len(payload) // 2] + suffix)
