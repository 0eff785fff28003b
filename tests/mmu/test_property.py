"""Hypothesis: random mappings written into 4K AArch64 tables translate back exactly."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xgdbvm.machine.mmu import (
    Access,
    Arm64Regime,
    FaultKind,
    SctlrEl1,
    check,
    mappings,
    translate,
)

from .tables import LongTables, PhysMem, leaf

ROOT0, ROOT1 = 0x4000_0000, 0x4800_0000
UPPER = 0xFFFF_0000_0000_0000

# (size shift, TTBR1?, level-0 slot, 1G slot, 2M slot, 4K slot, output frame, AP)
mapping = st.tuples(
    st.sampled_from([12, 21, 30]),
    st.booleans(),
    st.sampled_from([0, 1, 255]),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, (1 << 28) - 1),
    st.integers(0, 3),
)


def place(
    wanted: list[tuple[int, bool, int, int, int, int, int, int]], input_bits: int
) -> list[tuple[int, int, int, int]]:
    """Drop mappings that overlap or sit under a block; return (va, size, ipa, ap)."""
    kept: list[tuple[int, int, int, int]] = []
    for shift, upper, l0, gig, two, page, frame, ap in wanted:
        if input_bits == 39:
            l0 = 0
        va = l0 << 39 | gig << 30 | two << 21 | page << 12
        va &= ~((1 << shift) - 1)
        if upper:
            va |= (1 << 64) - (1 << input_bits)
        size = 1 << shift
        if any(va < v + s and v < va + size for v, s, _, _ in kept):
            continue
        kept.append((va, size, (frame << 12) & ~(size - 1), ap))
    return kept


@settings(max_examples=40, deadline=None)
@given(
    wanted=st.lists(mapping, max_size=12),
    input_bits=st.sampled_from([39, 48]),
    offsets=st.lists(st.integers(0, (1 << 30) - 1), min_size=1, max_size=4),
)
def test_random_mappings_translate_back(
    wanted: list[tuple[int, bool, int, int, int, int, int, int]],
    input_bits: int,
    offsets: list[int],
) -> None:
    mem = PhysMem()
    low = LongTables(mem, 12, input_bits, ROOT0, 0x5000_0000)
    high = LongTables(mem, 12, input_bits, ROOT1, 0x5800_0000)
    kept = place(wanted, input_bits)
    for va, size, ipa, ap in kept:
        (high if va >> 63 else low).map(va, ipa, size, leaf(ap=ap, xn=True, pxn=True))
    tsz = 64 - input_bits
    regime = Arm64Regime(
        sctlr=SctlrEl1.M,
        tcr=tsz | tsz << 16 | 0b10 << 30 | 0b101 << 32,
        ttbr0=ROOT0,
        ttbr1=ROOT1,
        mair=0xFF,
    )
    for va, size, ipa, ap in kept:
        for offset in offsets:
            t = translate(regime, mem, va + offset % size)
            assert t.fault is None
            assert t.ipa == ipa + offset % size and t.page_size == size
            assert (check(t, Access.WRITE, privileged=True) is None) == (ap & 0b10 == 0)
            assert (check(t, Access.READ, privileged=False) is None) == bool(ap & 0b01)
            assert check(t, Access.FETCH, privileged=True) is not None
    # A page nobody mapped faults as a translation fault.
    probe = 0x3F << 30 | 0x1FF << 21
    if not any(v <= probe < v + s for v, s, _, _ in kept):
        fault = translate(regime, mem, probe).fault
        assert fault is not None and fault.kind is FaultKind.TRANSLATION
    # The enumerated map covers exactly the mappings, each with its own IPA.
    table = mappings(regime, mem)
    assert not table.truncated
    assert sum(r.size for r in table.ranges) == sum(size for _, size, _, _ in kept)
    for va, size, ipa, _ in kept:
        (r,) = [r for r in table.ranges if r.va <= va < r.va_end]
        assert r.va_end >= va + size and r.ipa + (va - r.va) == ipa
