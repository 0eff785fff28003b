"""memory_op (hypercall 12) and grant_table_op (hypercall 20) as ARM Xen answers them.

Structs (public/memory.h, grant_table.h; identical on arm32 and arm64):
- xen_memory_reservation (32): extent_start h@0, nr_extents u64@8, extent_order u32@16,
  mem_flags u32@20, domid u16@24
- xen_add_to_physmap (24): domid u16@0, size u16@2, space u32@4, idx u64@8, gpfn u64@16
- xen_remove_from_physmap (16): domid u16@0, gpfn u64@8
- gnttab_query_size (16): dom u16@0, nr_frames u32@4, max_nr_frames u32@8, status i16@12
- gnttab_setup_table (24): dom u16@0, nr_frames u32@4, status i16@8, frame_list h@16
- gnttab_set_version (4): version u32@0; gnttab_get_version (8): dom u16@0, version u32@4
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TypeVar

from xgdbvm.machine.xen.abi import DOMID_SELF, Hypercall
from xgdbvm.machine.xen.domain import DomainConfig
from xgdbvm.machine.xen.errno import HypercallError, XenErrno
from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.hypercall import Call, Handler, SubopTable
from xgdbvm.machine.xen.physmap import MAX_GRANT_FRAMES, DomainMemory
from xgdbvm.machine.xen.structs import GuestStruct, Layout

S = TypeVar("S", bound=GuestStruct)

MEMOP_CMD_MASK = 0x3F  # bits 6+ carry continuation progress
GNTTABOP_CMD_MASK = 0xFFF
MAX_EXTENT_ORDER = 9  # a domU may ask for at most 2 MiB per extent
MAX_EXTENTS = 1 << 20  # bound the work one call can ask for


class MemOp(IntEnum):
    increase_reservation = 0
    decrease_reservation = 1
    maximum_ram_page = 2
    current_reservation = 3
    maximum_reservation = 4
    machphys_mfn_list = 5
    populate_physmap = 6
    add_to_physmap = 7
    memory_map = 9
    machine_memory_map = 10
    exchange = 11
    set_memory_map = 13
    maximum_gpfn = 14
    remove_from_physmap = 15
    add_to_physmap_batch = 23
    claim_pages = 24
    get_vnumainfo = 26
    acquire_resource = 28


class MapSpace(IntEnum):
    shared_info = 0
    grant_table = 1
    gmfn = 2
    gmfn_range = 3
    gmfn_foreign = 4
    dev_mmio = 5


class GnttabOp(IntEnum):
    map_grant_ref = 0
    unmap_grant_ref = 1
    setup_table = 2
    dump_table = 3
    transfer = 4
    copy = 5
    query_size = 6
    unmap_and_replace = 7
    set_version = 8
    get_status_frames = 9
    get_version = 10
    swap_grant_ref = 11
    cache_flush = 12


GNTST_okay, GNTST_general_error, GNTST_bad_domain = 0, -1, -2
XENMAPIDX_grant_table_status = 0x8000_0000


@dataclass(frozen=True)
class Reservation(GuestStruct):
    LAYOUT = Layout(
        lambda c: c.Struct(
            "extent_start" / c.Int64ul,
            "nr_extents" / c.Int64ul,
            "extent_order" / c.Int32ul,
            "mem_flags" / c.Int32ul,
            "domid" / c.Int16ul,
            c.Padding(6),
        )
    )
    extent_start: int
    nr_extents: int
    extent_order: int
    mem_flags: int
    domid: int


@dataclass(frozen=True)
class AddToPhysmap(GuestStruct):
    LAYOUT = Layout(
        lambda c: c.Struct(
            "domid" / c.Int16ul,
            "size" / c.Int16ul,
            "space" / c.Int32ul,
            "idx" / c.Int64ul,
            "gpfn" / c.Int64ul,
        )
    )
    domid: int
    size: int
    space: int
    idx: int
    gpfn: int


@dataclass(frozen=True)
class RemoveFromPhysmap(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("domid" / c.Int16ul, c.Padding(6), "gpfn" / c.Int64ul))
    domid: int
    gpfn: int


@dataclass(frozen=True)
class QuerySize(GuestStruct):
    LAYOUT = Layout(
        lambda c: c.Struct(
            "dom" / c.Int16ul,
            c.Padding(2),
            "nr_frames" / c.Int32ul,
            "max_nr_frames" / c.Int32ul,
            "status" / c.Int16sl,
            c.Padding(2),
        )
    )
    dom: int
    nr_frames: int
    max_nr_frames: int
    status: int


@dataclass(frozen=True)
class SetupTable(GuestStruct):
    LAYOUT = Layout(
        lambda c: c.Struct(
            "dom" / c.Int16ul,
            c.Padding(2),
            "nr_frames" / c.Int32ul,
            "status" / c.Int16sl,
            c.Padding(6),
            "frame_list" / c.Int64ul,
        )
    )
    dom: int
    nr_frames: int
    status: int
    frame_list: int


@dataclass(frozen=True)
class GetVersion(GuestStruct):
    LAYOUT = Layout(lambda c: c.Struct("dom" / c.Int16ul, c.Padding(2), "version" / c.Int32ul))
    dom: int
    version: int


@dataclass(frozen=True)
class P2mChange:
    """What a memory_op did to the p2m, for observers (the trace channel)."""

    op: str
    gfn: int
    count: int
    detail: str


class MemoryOps:
    def __init__(
        self,
        config: DomainConfig,
        memory: DomainMemory,
        guest: GuestAccess,
        on_change: Callable[[P2mChange], None] | None = None,
    ) -> None:
        self._config = config
        self._memory = memory
        self._guest = guest
        self._on_change = on_change or (lambda change: None)
        self._gnttab_version = 1

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        return {
            Hypercall.memory_op: SubopTable(
                MemOp,
                {
                    MemOp.increase_reservation: self._increase,
                    MemOp.decrease_reservation: self._decrease,
                    MemOp.populate_physmap: self._populate,
                    MemOp.current_reservation: self._current,
                    MemOp.maximum_reservation: self._maximum,
                    MemOp.maximum_gpfn: self._maximum_gpfn,
                    MemOp.add_to_physmap: self._add_to_physmap,
                    MemOp.remove_from_physmap: self._remove_from_physmap,
                },
                cmd_mask=MEMOP_CMD_MASK,
            ),
            Hypercall.grant_table_op: SubopTable(
                GnttabOp,
                {
                    GnttabOp.query_size: self._query_size,
                    GnttabOp.setup_table: self._setup_table,
                    GnttabOp.set_version: self._set_version,
                    GnttabOp.get_version: self._get_version,
                },
                cmd_mask=GNTTABOP_CMD_MASK,
            ),
        }

    def reset(self) -> None:
        self._gnttab_version = 1

    # -- helpers --------------------------------------------------------------------------

    def _read(self, struct: type[S], va: int) -> S:
        return struct.decode(self._guest.read(va, struct.byte_size()))

    def _check_domid(self, domid: int) -> None:
        if domid not in (DOMID_SELF, self._config.domid):
            raise HypercallError(XenErrno.ESRCH, f"domain {domid} is not this guest")

    def _extents(self, call: Call) -> tuple[Reservation, list[int]]:
        res = self._read(Reservation, call.args[1])
        self._check_domid(res.domid)
        order, count = res.extent_order, res.nr_extents
        if order > MAX_EXTENT_ORDER:
            raise HypercallError(XenErrno.EPERM, f"extent order {order} above {MAX_EXTENT_ORDER}")
        if count > MAX_EXTENTS:
            raise HypercallError(XenErrno.EINVAL, f"{count} extents")
        gfns: list[int] = []
        if res.extent_start:
            raw = self._guest.read(res.extent_start, 8 * count)
            gfns = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
        return res, gfns

    # -- reservations ---------------------------------------------------------------------

    def _populate(self, call: Call) -> int:
        return self._each_extent(call, self._memory.populate, "populate_physmap", "ram")

    def _decrease(self, call: Call) -> int:
        return self._each_extent(call, self._memory.decrease, "decrease_reservation", "freed")

    def _each_extent(
        self, call: Call, apply: Callable[[int, int], bool], op: str, detail: str
    ) -> int:
        """Apply to each listed extent until one fails; Xen returns how many were done."""
        res, gfns = self._extents(call)
        order = res.extent_order
        done = 0
        for gfn in gfns:
            if not apply(gfn, order):
                break
            done += 1
            self._on_change(P2mChange(op, gfn, 1 << order, detail))
        call.note = f"{done} of {len(gfns)} extents of order {order}"
        return done

    def _increase(self, call: Call) -> int:
        # Auto-translated guests populate the frames afterwards; nothing is mapped here.
        res, _ = self._extents(call)
        return min(res.nr_extents, self._memory.headroom(res.extent_order))

    def _current(self, call: Call) -> int:
        self._check_domid(int.from_bytes(self._guest.read(call.args[1], 2), "little"))
        return self._memory.tot_pages

    def _maximum(self, call: Call) -> int:
        self._check_domid(int.from_bytes(self._guest.read(call.args[1], 2), "little"))
        return self._memory.max_pages

    def _maximum_gpfn(self, call: Call) -> int:
        self._check_domid(int.from_bytes(self._guest.read(call.args[1], 2), "little"))
        return self._memory.maximum_gpfn()

    # -- physmap ---------------------------------------------------------------------------

    def _add_to_physmap(self, call: Call) -> int:
        arg = self._read(AddToPhysmap, call.args[1])
        self._check_domid(arg.domid)
        space, idx, gpfn = arg.space, arg.idx, arg.gpfn
        try:
            space_name = MapSpace(space).name
        except ValueError:
            space_name = str(space)
        call.fields.update(space=space_name, idx=idx, gpfn=gpfn)
        if space == MapSpace.shared_info:
            if idx != 0:
                return -XenErrno.EINVAL
            ret = self._memory.map_shared_info(gpfn)
        elif space == MapSpace.grant_table:
            if idx & XENMAPIDX_grant_table_status:
                return -XenErrno.EINVAL  # status frames exist only with v2
            ret = self._memory.map_grant_frame(idx, gpfn)
        else:
            call.note = "not available on ARM"
            return -XenErrno.ENOSYS
        if ret == 0:
            self._on_change(P2mChange("add_to_physmap", gpfn, 1, f"{space_name} {idx}"))
        return ret

    def _remove_from_physmap(self, call: Call) -> int:
        arg = self._read(RemoveFromPhysmap, call.args[1])
        self._check_domid(arg.domid)
        call.fields["gpfn"] = arg.gpfn
        ret = self._memory.remove(arg.gpfn)
        if ret == 0:
            self._on_change(P2mChange("remove_from_physmap", arg.gpfn, 1, ""))
        return ret

    # -- grant table -------------------------------------------------------------------------

    def _single(self, call: Call) -> None:
        if call.args[2] != 1:
            raise HypercallError(XenErrno.EINVAL, "count must be 1")

    def _query_size(self, call: Call) -> int:
        self._single(call)
        va = call.args[1]
        arg = self._read(QuerySize, va)
        ok = arg.dom in (DOMID_SELF, self._config.domid)
        reply = QuerySize(
            dom=arg.dom,
            nr_frames=self._memory.grant_frames_in_use if ok else 0,
            max_nr_frames=MAX_GRANT_FRAMES if ok else 0,
            status=GNTST_okay if ok else GNTST_bad_domain,
        )
        self._guest.write(va, reply.encode())
        return 0

    def _setup_table(self, call: Call) -> int:
        # ARM guests map grant frames with add_to_physmap; setup_table reports no frames.
        self._single(call)
        va = call.args[1]
        arg = self._read(SetupTable, va)
        ok = arg.dom in (DOMID_SELF, self._config.domid)
        status = GNTST_okay if ok else GNTST_bad_domain
        if ok and arg.nr_frames > MAX_GRANT_FRAMES:
            status = GNTST_general_error
        if ok and status == GNTST_okay:
            frames = arg.nr_frames
            self._memory.grant_frames_in_use = max(self._memory.grant_frames_in_use, frames)
            gfns = [page.gfn or 0 for page in self._memory.grant_frames[:frames]]
            if frames:
                self._guest.write(
                    arg.frame_list,
                    b"".join(g.to_bytes(8, "little") for g in gfns),
                )
        self._guest.write(va + 8, status.to_bytes(2, "little", signed=True))
        return 0

    def _set_version(self, call: Call) -> int:
        self._single(call)
        version = int.from_bytes(self._guest.read(call.args[1], 4), "little")
        if version == 2:
            call.note = "ARM supports grant table version 1 only"
            return -XenErrno.ENOSYS
        if version != 1:
            return -XenErrno.EINVAL
        self._gnttab_version = 1
        return 0

    def _get_version(self, call: Call) -> int:
        self._single(call)
        va = call.args[1]
        arg = self._read(GetVersion, va)
        if arg.dom not in (DOMID_SELF, self._config.domid):
            return -XenErrno.ESRCH
        self._guest.write(va + 4, self._gnttab_version.to_bytes(4, "little"))
        return 0
