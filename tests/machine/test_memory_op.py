"""memory_op and grant_table_op against the p2m (a fake Unicorn behind it)."""

from __future__ import annotations

import struct

import pytest

from tests.machine.test_hypercalls import BASE, RAM_GFN, RAM_PAGES, make
from xgdbvm.machine.memory import FrameKind, P2mLayout
from xgdbvm.machine.xen.abi import DOMID_SELF, Hypercall
from xgdbvm.machine.xen.errno import XenErrno
from xgdbvm.machine.xen.memory_op import (
    AddToPhysmap,
    GetVersion,
    GnttabOp,
    MapSpace,
    MemOp,
    QuerySize,
    RemoveFromPhysmap,
    Reservation,
)
from xgdbvm.machine.xen.physmap import MAX_GRANT_FRAMES

SHARED_GFN = RAM_GFN + 0x10


def add_to_physmap(hv, guest, space: int, idx: int, gpfn: int, domid: int = DOMID_SELF) -> int:  # type: ignore[no-untyped-def]
    guest.mem[0:24] = AddToPhysmap(domid, 0, space, idx, gpfn).encode()
    return hv.hypercall(Hypercall.memory_op, (MemOp.add_to_physmap, BASE))[1]  # type: ignore[no-any-return]


def test_struct_layouts_match_the_abi() -> None:
    assert AddToPhysmap.byte_size() == 24
    assert Reservation.byte_size() == 32
    assert RemoveFromPhysmap.byte_size() == 16
    assert QuerySize.byte_size() == 16
    raw = struct.pack("<HHIQQ", 0x7FF0, 0, 1, 2, 0x40101)
    assert AddToPhysmap.decode(raw) == AddToPhysmap(0x7FF0, 0, 1, 2, 0x40101)
    assert AddToPhysmap.decode(raw).encode() == raw
    raw = struct.pack("<QQIIH6x", 0x1234, 3, 9, 0, 1)
    assert Reservation.decode(raw) == Reservation(0x1234, 3, 9, 0, 1)


def test_shared_info_appears_at_the_guests_gfn_and_only_there() -> None:
    hv, guest, _ = make()
    hv.memory.shared_info_view()[0:4] = b"XEN!"
    assert add_to_physmap(hv, guest, MapSpace.shared_info, 0, SHARED_GFN) == 0
    extent = hv.memory.p2m.lookup(SHARED_GFN)
    assert extent is not None and extent.kind is FrameKind.SHARED_INFO
    assert hv.memory.p2m.read(SHARED_GFN << 12, 4) == b"XEN!"
    assert hv.memory.tot_pages == RAM_PAGES - 1  # the RAM page it replaced is gone
    # Mapping it again at the same gfn is fine; elsewhere without removing it is not.
    assert add_to_physmap(hv, guest, MapSpace.shared_info, 0, SHARED_GFN) == 0
    assert add_to_physmap(hv, guest, MapSpace.shared_info, 0, SHARED_GFN + 1) == -XenErrno.EBUSY
    assert add_to_physmap(hv, guest, MapSpace.shared_info, 1, SHARED_GFN) == -XenErrno.EINVAL
    guest.mem[0:16] = RemoveFromPhysmap(DOMID_SELF, SHARED_GFN).encode()
    assert hv.hypercall(Hypercall.memory_op, (MemOp.remove_from_physmap, BASE))[1] == 0
    assert hv.memory.p2m.lookup(SHARED_GFN) is None
    assert (
        hv.hypercall(Hypercall.memory_op, (MemOp.remove_from_physmap, BASE))[1] == -XenErrno.ENOENT
    )
    assert add_to_physmap(hv, guest, MapSpace.shared_info, 0, SHARED_GFN + 1) == 0


@pytest.mark.parametrize(
    ("space", "errno"),
    [
        (MapSpace.gmfn, XenErrno.ENOSYS),
        (MapSpace.gmfn_range, XenErrno.ENOSYS),
        (9, XenErrno.ENOSYS),
    ],
)
def test_other_map_spaces_are_refused_on_arm(space: int, errno: XenErrno) -> None:
    hv, guest, _ = make()
    assert add_to_physmap(hv, guest, space, 0, SHARED_GFN) == -errno


def test_a_foreign_domid_is_esrch() -> None:
    hv, guest, _ = make()
    assert (
        add_to_physmap(hv, guest, MapSpace.shared_info, 0, SHARED_GFN, domid=7) == -XenErrno.ESRCH
    )


def test_grant_frames_grow_up_to_the_maximum() -> None:
    hv, guest, _ = make()
    window = 0x38000
    for idx in (0, 1, 5):
        assert add_to_physmap(hv, guest, MapSpace.grant_table, idx, window + idx) == 0
    assert hv.memory.grant_frames_in_use == 6
    assert (
        add_to_physmap(hv, guest, MapSpace.grant_table, MAX_GRANT_FRAMES, window + 64)
        == -XenErrno.EINVAL
    )
    guest.mem[0:16] = QuerySize(DOMID_SELF, 0, 0, 0).encode()
    assert hv.hypercall(Hypercall.grant_table_op, (GnttabOp.query_size, BASE, 1))[1] == 0
    assert QuerySize.decode(bytes(guest.mem[0:16])) == QuerySize(DOMID_SELF, 6, 64, 0)


def test_grant_table_versions() -> None:
    hv, guest, _ = make()
    for version, expected in ((1, 0), (2, -XenErrno.ENOSYS), (3, -XenErrno.EINVAL)):
        guest.mem[0:4] = struct.pack("<I", version)
        assert (
            hv.hypercall(Hypercall.grant_table_op, (GnttabOp.set_version, BASE, 1))[1] == expected
        )
    guest.mem[0:8] = GetVersion(DOMID_SELF, 0).encode()
    assert hv.hypercall(Hypercall.grant_table_op, (GnttabOp.get_version, BASE, 1))[1] == 0
    assert GetVersion.decode(bytes(guest.mem[0:8])).version == 1
    assert (
        hv.hypercall(Hypercall.grant_table_op, (GnttabOp.get_version, BASE, 2))[1]
        == -XenErrno.EINVAL
    )


def test_reservations_populate_and_decrease() -> None:
    hv, guest, _ = make()

    def reservation(op: int, gfns: list[int], order: int = 0) -> int:
        guest.mem[0x100 : 0x100 + 8 * len(gfns)] = b"".join(g.to_bytes(8, "little") for g in gfns)
        guest.mem[0:32] = Reservation(BASE + 0x100, len(gfns), order, 0, DOMID_SELF).encode()
        return hv.hypercall(Hypercall.memory_op, (op, BASE))[1]  # type: ignore[no-any-return]

    total = hv.memory.tot_pages
    assert reservation(MemOp.decrease_reservation, [RAM_GFN + 1, RAM_GFN + 2]) == 2
    assert hv.memory.tot_pages == total - 2
    assert hv.memory.p2m.lookup(RAM_GFN + 1) is None
    # A hole cannot be freed twice: decrease stops at the first bad extent.
    assert reservation(MemOp.decrease_reservation, [RAM_GFN + 1]) == 0
    assert reservation(MemOp.populate_physmap, [RAM_GFN + 1, 0x50000], order=0) == 2
    assert hv.memory.p2m.lookup(0x50000) is not None
    guest.mem[0:2] = struct.pack("<H", DOMID_SELF)
    assert hv.hypercall(Hypercall.memory_op, (MemOp.current_reservation, BASE))[1] == total
    assert (
        hv.hypercall(Hypercall.memory_op, (MemOp.maximum_reservation, BASE))[1]
        == hv.memory.max_pages
    )
    assert hv.hypercall(Hypercall.memory_op, (MemOp.maximum_gpfn, BASE))[1] == 0x50000
    # Past max_pages populate stops.
    assert reservation(MemOp.populate_physmap, [0x60000], order=9) == 0
    # An order above 9 is refused outright.
    assert reservation(MemOp.populate_physmap, [0x60000], order=12) == -XenErrno.EPERM


def test_memory_map_is_enosys_on_arm_and_reset_restores_the_toolstack_p2m() -> None:
    hv, guest, _ = make()
    assert hv.hypercall(Hypercall.memory_op, (MemOp.memory_map, BASE))[1] == -XenErrno.ENOSYS
    add_to_physmap(hv, guest, MapSpace.shared_info, 0, SHARED_GFN)
    hv.reset()
    extent = hv.memory.p2m.lookup(SHARED_GFN)
    assert extent is not None and extent.kind is FrameKind.RAM
    assert hv.memory.tot_pages == RAM_PAGES


@pytest.mark.parametrize(
    ("text", "layout"),
    [
        ("scatter", P2mLayout("scatter")),
        ("identity", P2mLayout("identity")),
        ("offset:0x10000000", P2mLayout("offset", 0x10000000)),
    ],
)
def test_p2m_layout_parsing(text: str, layout: P2mLayout) -> None:
    assert P2mLayout.parse(text) == layout
    assert str(P2mLayout.parse(text)) in (text, "offset:0x10000000")


@pytest.mark.parametrize("bad", ["offset:5", "offset:x", "sideways"])
def test_bad_p2m_layouts(bad: str) -> None:
    with pytest.raises(ValueError):
        P2mLayout.parse(bad)
