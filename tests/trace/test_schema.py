"""The schema: every kind round-trips through JSON lines; machine events convert to it,
unknown machine event kinds generically; bad lines are one clear error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.trace.conftest import sample_events
from xgdbvm.machine.events import (
    ConsoleOutput,
    ConsoleSource,
    EventContext,
    ExceptionInjected,
    HypercallEnter,
    HypercallExit,
    Lifecycle,
    SmcccCall,
)
from xgdbvm.machine.image import Symbol
from xgdbvm.trace.convert import EventConverter, Symbolizer, snake_case
from xgdbvm.trace.filters import TraceFilter
from xgdbvm.trace.recorder import TraceRecorder, TraceSource
from xgdbvm.trace.schema import (
    COMMON_KEYS,
    SCHEMA_VERSION,
    ConsoleEvent,
    DroppedEvent,
    ErrorRecord,
    ExceptionEvent,
    GenericEvent,
    Hello,
    HypercallEnterEvent,
    HypercallExitEvent,
    LifecycleEvent,
    SmcccEvent,
    TraceFormatError,
    decode_line,
    encode_line,
    icount_to_ns,
    read_records,
)

u64 = st.integers(0, 2**64 - 1)
text = st.text(max_size=40)
common = {
    "seq": st.integers(0, 2**40),
    "vcpu": st.integers(0, 63),
    "pc": u64,
    "icount": st.integers(0, 2**50),
    "t_ns": st.integers(0, 2**50),
    "sym": st.none() | text,
}
json_scalar = st.none() | st.booleans() | st.integers(-(2**63), 2**64) | text
events = st.one_of(
    st.builds(
        HypercallEnterEvent,
        **common,
        number=st.integers(0, 63),
        name=text,
        args=st.tuples(u64, u64, u64, u64, u64),
        subop=st.none() | text,
    ),
    st.builds(
        HypercallExitEvent,
        **common,
        number=st.integers(0, 63),
        name=text,
        subop=st.none() | text,
        ret=st.integers(-(2**63), 2**63),
        errno=st.none() | text,
        note=text,
        fields=st.none() | st.dictionaries(text, json_scalar, max_size=4),
    ),
    st.builds(ConsoleEvent, **common, source=st.sampled_from(["uart", "xen", "pv"]), text=text),
    st.builds(
        SmcccEvent,
        **common,
        function_id=st.integers(0, 2**32 - 1),
        name=text,
        args=st.tuples(u64, u64, u64),
        ret=u64,
    ),
    st.builds(ExceptionEvent, **common, type=text, detail=text),
    st.builds(
        LifecycleEvent,
        **common,
        type=text,
        detail=text,
        extra=st.dictionaries(text, text, max_size=3),
    ),
    st.builds(
        GenericEvent,
        **common,
        event_kind=st.sampled_from(["irq_injected", "p2m_changed"]),
        fields=st.dictionaries(st.sampled_from(["irq", "gfn", "path", "value"]), json_scalar),
    ),
)


@given(events)
def test_every_event_round_trips_through_a_json_line(event: object) -> None:
    line = encode_line(event)  # type: ignore[arg-type]
    assert "\n" not in line
    assert decode_line(line) == event


@given(events)
def test_every_event_has_the_common_fields_first(event: object) -> None:
    obj = json.loads(encode_line(event))  # type: ignore[arg-type]
    assert tuple(obj)[: len(COMMON_KEYS)] == COMMON_KEYS


def test_stream_records_round_trip() -> None:
    hello = Hello(arch="arm64", image="/g.elf", domid=1, domain="guest", filter={"kind": ["x"]})
    for record in (hello, DroppedEvent(12), ErrorRecord("bad filter: x")):
        assert decode_line(encode_line(record)) == record
    assert json.loads(encode_line(DroppedEvent(3))) == {"kind": "dropped", "count": 3}
    assert json.loads(encode_line(hello))["schema"] == SCHEMA_VERSION == "1"


def test_sample_events_round_trip_as_a_file() -> None:
    lines = [encode_line(e) for e in sample_events()]
    assert list(read_records(lines)) == sample_events()


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("not json", "t.jsonl:1: not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"seq": 1}', "no 'kind'"),
        ('{"kind": "hypercall_exit", "seq": 1, "name": "x"}', "bad hypercall_exit record"),
        ('{"kind": "console", "seq": "x", "source": "uart", "text": ""}', "bad console"),
        ('{"kind": "hello", "schema": "2"}', "trace schema 2 is not supported"),
    ],
)
def test_bad_lines_are_one_clear_error(line: str, error: str) -> None:
    with pytest.raises(TraceFormatError, match=error.replace("(", r"\(")):
        list(read_records([line], "t.jsonl"))


def test_unknown_kinds_are_kept_generically() -> None:
    record = decode_line('{"seq":4,"kind":"xenstore_request","t_ns":9,"path":"/a","tx":0}')
    assert isinstance(record, GenericEvent)
    assert record.kind == "xenstore_request"
    assert record.fields == {"path": "/a", "tx": 0}


def test_virtual_time_is_one_nanosecond_per_instruction() -> None:
    assert icount_to_ns(0) == 0
    assert icount_to_ns(52_315) == 52_315


# -- machine events -> trace events ------------------------------------------------------------


def test_machine_events_convert_with_symbols_and_time() -> None:
    symbols = (Symbol("hypercall_entry", 0x1000, 0x40, "func"), Symbol("data", 0x2000, 8, "object"))
    convert = EventConverter(Symbolizer(symbols)).convert
    enter = convert(
        HypercallEnter(number=17, name="xen_version", args=(0, 0), pc=0x1008, icount=500), 7
    )
    assert enter == HypercallEnterEvent(
        seq=7,
        pc=0x1008,
        icount=500,
        t_ns=500,
        sym="hypercall_entry+0x8",
        number=17,
        name="xen_version",
        args=(0, 0),
    )
    exit = convert(
        HypercallExit(
            number=17,
            name="xen_version",
            subop="version",
            ret=-22,
            errno="EINVAL",
            note="n",
            pc=0x1000,
            icount=500,
        ),
        8,
    )
    assert isinstance(exit, HypercallExitEvent)
    assert (exit.sym, exit.subop, exit.ret, exit.errno, exit.note, exit.fields) == (
        "hypercall_entry",
        "version",
        -22,
        "EINVAL",
        "n",
        None,
    )
    console = convert(ConsoleOutput(source=ConsoleSource.PV, data=b"hi \xff\n", pc=0x2004), 9)
    assert console == ConsoleEvent(
        seq=9, pc=0x2004, sym="data+0x4", source="pv", text="hi \ufffd\n"
    )
    outside = convert(ConsoleOutput(source=ConsoleSource.UART, data=b"", pc=0x1040), 10)
    assert outside.sym is None  # past the end of hypercall_entry
    smccc = convert(
        SmcccCall(function_id=0x84000000, name="PSCI_VERSION", args=(0, 0, 0), ret=0x10001), 11
    )
    assert isinstance(smccc, SmcccEvent) and smccc.ret == 0x10001
    exc = convert(ExceptionInjected(kind="undef", detail="hvc #0x1", pc=4, icount=3), 12)
    assert exc == ExceptionEvent(seq=12, pc=4, icount=3, t_ns=3, type="undef", detail="hvc #0x1")
    life = convert(Lifecycle(kind="shutdown", detail="poweroff", extra={"via": "psci"}), 13)
    assert life == LifecycleEvent(seq=13, type="shutdown", detail="poweroff", extra={"via": "psci"})


class Line(Enum):
    PPI = "ppi"


@dataclass(frozen=True, kw_only=True)
class IRQInjected(EventContext):
    """A machine event kind trace/ has never heard of."""

    irq: int
    line: Line
    kind: str  # collides with the schema's own key
    seq: int  # so does this
    payload: bytes
    targets: tuple[int, ...]


def test_unknown_machine_events_are_encoded_from_their_dataclass_fields() -> None:
    event = IRQInjected(
        irq=31,
        line=Line.PPI,
        kind="edge",
        seq=99,
        payload=b"\xffab",
        targets=(0, 1),
        vcpu=1,
        pc=0x40,
        icount=77,
    )
    converted = EventConverter().convert(event, 5)
    assert converted == GenericEvent(
        seq=5,
        vcpu=1,
        pc=0x40,
        icount=77,
        t_ns=77,
        event_kind="irq_injected",
        fields={
            "irq": 31,
            "line": "ppi",
            "type": "edge",
            "event_seq": 99,
            "payload": "\\xffab",
            "targets": [0, 1],
        },
    )
    assert decode_line(encode_line(converted)) == converted


@dataclass(frozen=True, kw_only=True)
class HypercallExit2(HypercallExit):
    """A future exit event that carries its decoded arguments."""

    decoded: dict[str, object]


def test_extra_fields_of_a_hypercall_exit_become_its_decoded_fields() -> None:
    # The converter matches classes by name, so give this one the machine's name.
    HypercallExit2.__name__ = "HypercallExit"
    event = HypercallExit2(
        number=12,
        name="memory_op",
        subop="add_to_physmap",
        ret=0,
        errno=None,
        decoded={"space": Line.PPI, "gpfn": 0x40101},
    )
    converted = EventConverter().convert(event, 1)
    assert isinstance(converted, HypercallExitEvent)
    assert converted.fields == {"space": "ppi", "gpfn": 0x40101}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("IrqInjected", "irq_injected"),
        ("IRQAcked", "irq_acked"),
        ("Stage2Fault", "stage2_fault"),
        ("P2mChanged", "p2m_changed"),
        ("XenstoreRequest", "xenstore_request"),
        ("EvtchnSend", "evtchn_send"),
    ],
)
def test_kind_names_are_snake_case(name: str, kind: str) -> None:
    assert snake_case(name) == kind


def test_a_converter_failure_never_reaches_the_machine() -> None:
    class Broken:
        @property
        def pc(self) -> int:
            raise RuntimeError("boom")

    recorder = TraceRecorder(TraceSource("arm64", "g", 1, "guest"))
    recorder.subscribe(TraceFilter(), lambda: None)
    recorder.machine_event(Broken())  # logged, not raised
    assert recorder.events == 1


machine_events = st.one_of(
    st.builds(
        HypercallEnter,
        number=st.integers(0, 63),
        name=text,
        args=st.lists(u64, max_size=5).map(tuple),
        vcpu=st.integers(0, 7),
        pc=u64,
        icount=st.integers(0, 2**50),
    ),
    st.builds(
        HypercallExit,
        number=st.integers(0, 63),
        name=text,
        subop=st.none() | text,
        ret=st.integers(-(2**63), 2**64 - 1),
        errno=st.none() | text,
        note=text,
        pc=u64,
    ),
    st.builds(
        ConsoleOutput,
        source=st.sampled_from(ConsoleSource),
        data=st.binary(max_size=40),
        icount=st.integers(0, 2**50),
    ),
    st.builds(
        SmcccCall,
        function_id=st.integers(0, 2**32 - 1),
        name=text,
        args=st.tuples(u64, u64, u64),
        ret=u64,
    ),
)


@given(machine_events, st.integers(0, 2**40))
def test_the_fast_line_is_the_same_json_as_the_general_path(event: object, seq: int) -> None:
    symbols = (Symbol("f", 0x1000, 0x100, "func"), Symbol('g\u00e9"\n', 0x2000, 0, "func"))
    converter = EventConverter(Symbolizer(symbols))
    encoded = converter.encode(event, seq)
    obj = converter.to_json(event, seq)
    assert json.loads(encoded.line) == obj
    assert "\n" not in encoded.line
    assert (encoded.kind, encoded.vcpu, encoded.pc) == (obj["kind"], obj["vcpu"], obj["pc"])
    assert (encoded.name, encoded.subop) == (obj.get("name"), obj.get("subop"))
    assert converter.convert(event, seq) == decode_line(encoded.line)
