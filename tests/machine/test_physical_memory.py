"""The p2m mirrored into Unicorn: bounded regions, each onto the right host bytes."""

from __future__ import annotations

import itertools

import pytest
import unicorn

from xgdbvm.machine.memory import (
    PAGE_SHIFT,
    REGION_MAX,
    Backing,
    Extent,
    FrameKind,
    PhysicalMemory,
)

MiB = 1 << 20
BASE = 0x4008_0000  # not 2 MiB aligned: the first and last regions are partial


def ram_at(base: int, size: int) -> tuple[unicorn.Uc, PhysicalMemory, Backing]:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    memory = PhysicalMemory(uc)
    backing = memory.add_backing(Backing.allocate("ram", size, lambda off: off))
    memory.map(Extent(base >> PAGE_SHIFT, size >> PAGE_SHIFT, FrameKind.RAM, backing, 0))
    return uc, memory, backing


def test_an_extent_is_mapped_as_regions_cut_at_every_2_mib_boundary() -> None:
    uc, _, _ = ram_at(BASE, 7 * MiB)
    regions = sorted((begin, end + 1) for begin, end, _ in uc.mem_regions())
    assert regions[0][0] == BASE and regions[-1][1] == BASE + 7 * MiB
    assert all(a[1] == b[0] for a, b in itertools.pairwise(regions))
    assert all(end - begin <= REGION_MAX for begin, end in regions)
    assert all(begin // REGION_MAX == (end - 1) // REGION_MAX for begin, end in regions)
    half = REGION_MAX - 0x8_0000
    assert [end - begin for begin, end in regions] == [half, REGION_MAX, REGION_MAX, half]


def test_guest_accesses_across_a_region_boundary_reach_the_right_host_bytes() -> None:
    uc, memory, backing = ram_at(BASE, 7 * MiB)
    boundary = 0x4040_0000
    uc.mem_write(boundary - 4, b"abcdefgh")
    offset = boundary - 4 - BASE
    assert bytes(backing.view[offset : offset + 8]) == b"abcdefgh"
    assert memory.read(boundary - 4, 8) == b"abcdefgh"
    backing.view[5 * MiB : 5 * MiB + 4] = b"WXYZ"
    assert bytes(uc.mem_read(BASE + 5 * MiB, 4)) == b"WXYZ"


def test_unmapping_one_page_leaves_its_neighbours_mapped_with_their_contents() -> None:
    uc, memory, backing = ram_at(BASE, 7 * MiB)
    page = 0x4050_3000
    backing.view[page - BASE - 4 : page - BASE] = b"left"
    backing.view[page - BASE + 4096 : page - BASE + 4100] = b"rite"
    removed = memory.unmap(page >> PAGE_SHIFT, 1)
    assert [(e.gfn, e.count) for e in removed] == [(page >> PAGE_SHIFT, 1)]
    with pytest.raises(unicorn.UcError):
        uc.mem_read(page, 4)
    assert bytes(uc.mem_read(page - 4, 4)) == b"left"
    assert bytes(uc.mem_read(page + 4096, 4)) == b"rite"
    assert memory.lookup(page >> PAGE_SHIFT) is None
