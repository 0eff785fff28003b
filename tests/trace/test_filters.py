"""Filters: both spellings parse to the same thing, mistakes are one clear error, and a
selector passes exactly what the documentation says, sub-ops included."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.trace.conftest import sample_events
from xgdbvm.trace.filters import CallName, FilterError, Selector, TraceFilter
from xgdbvm.trace.schema import (
    ConsoleEvent,
    GenericEvent,
    HypercallEnterEvent,
    HypercallExitEvent,
    SmcccEvent,
    TraceEvent,
)

EXAMPLE = "kind=hypercall,console name=memory_op,xen_version.get_features pc=0x40080000-0x40090000"


def test_the_documented_example_parses() -> None:
    spec = TraceFilter.parse(EXAMPLE)
    assert spec == TraceFilter(
        kinds=frozenset({"hypercall", "console"}),
        names=frozenset({CallName("memory_op"), CallName("xen_version", "get_features")}),
        pc=(0x40080000, 0x40090000),
    )
    assert TraceFilter.parse(str(spec)) == spec


def test_json_and_command_line_spellings_agree() -> None:
    spec = TraceFilter.parse(EXAMPLE)
    assert spec.to_json() == {
        "kind": ["console", "hypercall"],
        "name": ["memory_op", "xen_version.get_features"],
        "pc": [0x40080000, 0x40090000],
    }
    assert TraceFilter.from_json(spec.to_json()) == spec
    assert (
        TraceFilter.parse_line(
            '{"kind": "hypercall,console", "name": ["memory_op",'
            ' "xen_version.get_features"], "pc": "0x40080000-0x40090000"}'
        )
        == spec
    )
    assert TraceFilter.parse_line(EXAMPLE) == spec
    assert TraceFilter.parse_line("{}") == TraceFilter() == TraceFilter.parse("")
    assert TraceFilter().empty and str(TraceFilter()) == "(everything)"


def test_repeated_terms_add_up() -> None:
    assert TraceFilter.parse("kind=console kind=smccc name=a name=b.c") == TraceFilter(
        kinds=frozenset({"console", "smccc"}), names=frozenset({CallName("a"), CallName("b", "c")})
    )
    assert TraceFilter.parse("pc=0x1000").pc == (0x1000, 0x1001)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("kind", "'kind' is not KEY=VALUE"),
        ("kind=", "is not KEY=VALUE"),
        ("colour=red", "unknown filter key 'colour'"),
        ("kind=Hypercall", "'Hypercall' is not an event kind"),
        ("name=memory_op.a.b", "'memory_op.a.b' is not NAME or NAME.SUBOP"),
        ("pc=0x2000-0x1000", "pc range 0x2000-0x1000 is empty"),
        ("pc=zz-0x10", "'zz' is not an address"),
        ("pc=1-2 pc=3-4", "give one pc=LO-HI range"),
        ('{"kinds": ["x"]}', "unknown filter key 'kinds'"),
        ('{"kind": 3}', "kind must be a string or a list of strings"),
        ('{"pc": [1]}', "pc must be"),
        ('{"pc": [1, true]}', "pc must be"),
        ("[1]", "is not KEY=VALUE"),
        ("{nope", "filter line is not JSON"),
        ('["kind"]', "is not KEY=VALUE"),
    ],
)
def test_mistakes_are_one_clear_error(text: str, error: str) -> None:
    with pytest.raises(FilterError, match=error.replace("(", r"\(").replace("[", r"\[")):
        TraceFilter.parse_line(text)


def passed(spec: str, events: list[TraceEvent]) -> list[int]:
    selector: Selector[int] = Selector(TraceFilter.parse(spec))
    out = [seq for e in events for seq in selector.feed(e, e.seq)]
    return out + selector.flush()


def test_kinds_select_families() -> None:
    events = sample_events()
    assert passed("", events) == [0, 1, 2, 3, 4, 5, 6]
    assert passed("kind=console", events) == [0]
    assert passed("kind=hypercall", events) == [1, 2, 3, 4, 5, 6]
    assert passed("kind=hypercall_exit", events) == [2, 4, 6]
    irq = GenericEvent(seq=9, event_kind="irq_injected", fields={"irq": 31})
    assert passed("kind=irq", [irq]) == [9]
    assert passed("kind=ir", [irq]) == []


def test_names_select_calls_and_leave_other_kinds_to_kind() -> None:
    events = sample_events()
    assert passed("name=memory_op", events) == [3, 4]  # implies kind=hypercall,smccc
    assert passed("kind=hypercall,console name=memory_op", events) == [0, 3, 4]
    smccc = SmcccEvent(seq=8, function_id=0x84000000, name="PSCI_VERSION")
    assert passed("name=PSCI_VERSION", [*events, smccc]) == [8]


def test_a_sub_op_decides_at_the_exit_and_keeps_the_order() -> None:
    enter = HypercallEnterEvent(seq=1, number=18, name="console_io", args=(0, 3, 0x1000))
    console = ConsoleEvent(seq=2, source="xen", text="(d1) hi\n")
    exit = HypercallExitEvent(seq=3, number=18, name="console_io", subop="write")
    other_vcpu = ConsoleEvent(seq=4, vcpu=1, source="uart", text="x")
    stream = [enter, other_vcpu, console, exit]
    assert passed("kind=hypercall,console name=console_io.write", stream) == [4, 1, 2, 3]
    assert passed("kind=hypercall,console name=console_io.read", stream) == [4, 2]
    assert passed("name=console_io.write", stream) == [1, 3]
    # The stream ends inside the call: what followed the enter still comes out.
    assert passed("kind=hypercall,console name=console_io.write", [enter, console]) == [2]
    # An enter with no exit before the next enter is left out.
    assert passed("name=console_io.write", [enter, enter, exit]) == [1, 3]


def test_sample_events_by_sub_op() -> None:
    events = sample_events()
    assert passed("name=xen_version.version,console_io.write", events) == [1, 2, 5, 6]
    assert passed("name=xen_version.get_features", events) == []


def test_pc_range_is_half_open() -> None:
    events = sample_events()
    assert passed("pc=0x40081000-0x40081010", events) == [1, 2]
    assert passed("pc=0x40081000-0x40081011", events) == [1, 2, 3, 4]
    assert passed("kind=console pc=0x40080100", events) == [0]


@given(
    st.lists(st.sampled_from(sample_events()), max_size=30),
    st.sampled_from(
        [
            "",
            "kind=console",
            "name=xen_version",
            "kind=hypercall pc=0x40081000-0x40081011",
            "kind=hypercall,console name=console_io.write",
        ]
    ),
)
def test_a_selector_passes_a_subsequence_in_order(events: list[TraceEvent], spec: str) -> None:
    numbered = [dataclasses.replace(e, seq=i) for i, e in enumerate(events)]
    out = passed(spec, numbered)
    assert out == sorted(out) or "name=console_io.write" in spec
    assert set(out) <= set(range(len(events)))
    assert len(out) == len(set(out))
