"""The shared_info page and the per-vCPU vcpu_info areas of an ARM guest.

Contract (public/xen.h, public/arch-arm.h; offsets checked by compiling the
headers for aarch64 and armv7a, identical on both):

- ``shared_info`` is 1088 bytes at the start of one 4 KiB page: ``vcpu_info[1]``
  (``XEN_LEGACY_MAX_VCPUS`` is 1 on ARM) at 0, ``evtchn_pending[64]`` (u64) at
  48, ``evtchn_mask[64]`` at 560, ``wc_version`` 1072, ``wc_sec`` 1076,
  ``wc_nsec`` 1080, ``wc_sec_hi`` 1084; ``arch`` is empty.
- ``vcpu_info`` is 48 bytes: ``evtchn_upcall_pending`` u8 at 0, one pad byte
  where x86 has ``evtchn_upcall_mask`` (ARM has no upcall mask), six more pad
  bytes, ``evtchn_pending_sel`` u64 at 8, ``time`` (``vcpu_time_info``, 32
  bytes, never updated by Xen on ARM) at 16.
- Port p is bit p%8 of byte p/8 of a bitmap (the u64 words are little endian).

Where a vCPU's vcpu_info lives (``VcpuInfoLocation``): vCPU0 starts in
shared_info's slot, every other vCPU in Xen's single shared scratch
``dummy_vcpu_info`` (what the guest cannot see), and each moves once to guest
RAM with VCPUOP_register_vcpu_info (common/domain.c ``map_guest_area``).

Every byte written here is guest memory the CPU sees directly; ``updates``
counts the writes that changed something, so the machine knows to clear the
exclusive monitor. The machine makes each call happen between two guest
instructions, which is what makes the read-modify-write sequences atomic.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from xgdbvm.machine.xen.structs import Layout

PAGE_SIZE: Final = 4096
XEN_LEGACY_MAX_VCPUS: Final = 1
VCPU_INFO_SIZE: Final = 48
SHARED_INFO_SIZE: Final = 1088
BITS_PER_EVTCHN_WORD: Final = 64
EVTCHN_WORDS: Final = 64
EVTCHN_2L_NR_CHANNELS: Final = BITS_PER_EVTCHN_WORD * EVTCHN_WORDS  # 4096
ALL_ONES64: Final = (1 << 64) - 1

_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")


class VcpuInfoField(IntEnum):
    """Byte offsets inside ``struct vcpu_info`` on ARM."""

    evtchn_upcall_pending = 0
    pad0 = 1
    evtchn_pending_sel = 8
    time = 16


class SharedInfoField(IntEnum):
    """Byte offsets inside ``struct shared_info`` on ARM."""

    vcpu_info = 0
    evtchn_pending = 48
    evtchn_mask = 560
    wc_version = 1072
    wc_sec = 1076
    wc_nsec = 1080
    wc_sec_hi = 1084


class Bitmap(IntEnum):
    """The two event bitmaps, valued as their offsets in shared_info."""

    pending = SharedInfoField.evtchn_pending
    mask = SharedInfoField.evtchn_mask


VCPU_TIME_INFO = Layout(
    lambda c: c.Struct(
        "version" / c.Int32ul,
        "pad0" / c.Int32ul,
        "tsc_timestamp" / c.Int64ul,
        "system_time" / c.Int64ul,
        "tsc_to_system_mul" / c.Int32ul,
        "tsc_shift" / c.Int8sl,
        "flags" / c.Int8ul,
        "pad1" / c.Bytes(2),
    )
)

VCPU_INFO = Layout(
    lambda c: c.Struct(
        "evtchn_upcall_pending" / c.Int8ul,
        "pad0" / c.Int8ul,
        c.Padding(6),
        "evtchn_pending_sel" / c.Int64ul,
        "time" / VCPU_TIME_INFO.get(),
    )
)

SHARED_INFO = Layout(
    lambda c: c.Struct(
        "vcpu_info" / c.Array(XEN_LEGACY_MAX_VCPUS, VCPU_INFO.get()),
        "evtchn_pending" / c.Array(EVTCHN_WORDS, c.Int64ul),
        "evtchn_mask" / c.Array(EVTCHN_WORDS, c.Int64ul),
        "wc_version" / c.Int32ul,
        "wc_sec" / c.Int32ul,
        "wc_nsec" / c.Int32ul,
        "wc_sec_hi" / c.Int32ul,
    )
)


@dataclass(frozen=True)
class VcpuTimeInfo:
    version: int = 0
    pad0: int = 0
    tsc_timestamp: int = 0
    system_time: int = 0
    tsc_to_system_mul: int = 0
    tsc_shift: int = 0
    flags: int = 0
    pad1: bytes = bytes(2)


@dataclass(frozen=True)
class VcpuInfo:
    evtchn_upcall_pending: int = 0
    pad0: int = 0
    evtchn_pending_sel: int = 0
    time: VcpuTimeInfo = VcpuTimeInfo()

    @classmethod
    def parse(cls, data: bytes) -> VcpuInfo:
        c = VCPU_INFO.get().parse(data)
        t = c.time
        return cls(
            c.evtchn_upcall_pending,
            c.pad0,
            c.evtchn_pending_sel,
            VcpuTimeInfo(
                t.version,
                t.pad0,
                t.tsc_timestamp,
                t.system_time,
                t.tsc_to_system_mul,
                t.tsc_shift,
                t.flags,
                bytes(t.pad1),
            ),
        )

    def to_dict(self) -> dict[str, object]:
        t = self.time
        return {
            "evtchn_upcall_pending": self.evtchn_upcall_pending,
            "pad0": self.pad0,
            "evtchn_pending_sel": self.evtchn_pending_sel,
            "time": {
                "version": t.version,
                "pad0": t.pad0,
                "tsc_timestamp": t.tsc_timestamp,
                "system_time": t.system_time,
                "tsc_to_system_mul": t.tsc_to_system_mul,
                "tsc_shift": t.tsc_shift,
                "flags": t.flags,
                "pad1": t.pad1,
            },
        }

    def build(self) -> bytes:
        data: bytes = VCPU_INFO.get().build(self.to_dict())
        return data


@dataclass(frozen=True)
class SharedInfoState:
    """A parsed copy of shared_info, for monitors and tests."""

    vcpu0: VcpuInfo
    evtchn_pending: tuple[int, ...]
    evtchn_mask: tuple[int, ...]
    wc_version: int
    wc_sec: int
    wc_nsec: int
    wc_sec_hi: int

    @classmethod
    def parse(cls, data: bytes) -> SharedInfoState:
        c = SHARED_INFO.get().parse(data)
        return cls(
            VcpuInfo.parse(data[:VCPU_INFO_SIZE]),
            tuple(c.evtchn_pending),
            tuple(c.evtchn_mask),
            c.wc_version,
            c.wc_sec,
            c.wc_nsec,
            c.wc_sec_hi,
        )

    def build(self) -> bytes:
        data: bytes = SHARED_INFO.get().build(
            {
                "vcpu_info": [self.vcpu0.to_dict()],
                "evtchn_pending": list(self.evtchn_pending),
                "evtchn_mask": list(self.evtchn_mask),
                "wc_version": self.wc_version,
                "wc_sec": self.wc_sec,
                "wc_nsec": self.wc_nsec,
                "wc_sec_hi": self.wc_sec_hi,
            }
        )
        return data


class UpdateCounter:
    """Counts hypervisor-side writes that changed guest-visible event state."""

    def __init__(self) -> None:
        self.count = 0

    def bump(self) -> None:
        self.count += 1


def _as_bytes_view(area: memoryview, size: int, what: str) -> memoryview:
    view = area.cast("B") if area.format != "B" or area.ndim != 1 else area
    if view.readonly:
        raise ValueError(f"{what} must be writable")
    if len(view) < size:
        raise ValueError(f"{what} needs {size} bytes, got {len(view)}")
    return view[:size]


class SharedInfo:
    """shared_info over the host memory backing its page (the bytes the guest sees)."""

    def __init__(self, page: memoryview, updates: UpdateCounter | None = None) -> None:
        self._mem = _as_bytes_view(page, PAGE_SIZE, "the shared_info page")
        self.updates = updates if updates is not None else UpdateCounter()

    def vcpu_info_area(self, vcpu: int) -> memoryview:
        if not 0 <= vcpu < XEN_LEGACY_MAX_VCPUS:
            raise IndexError(f"shared_info has no vcpu_info slot for vCPU{vcpu}")
        start = SharedInfoField.vcpu_info + vcpu * VCPU_INFO_SIZE
        return self._mem[start : start + VCPU_INFO_SIZE]

    def _locate(self, bitmap: Bitmap, port: int) -> tuple[int, int]:
        if not 0 <= port < EVTCHN_2L_NR_CHANNELS:
            raise IndexError(f"port {port} is outside the 2-level bitmaps")
        return bitmap + port // 8, 1 << (port % 8)

    def test_bit(self, bitmap: Bitmap, port: int) -> bool:
        index, bit = self._locate(bitmap, port)
        return bool(self._mem[index] & bit)

    def test_and_set_bit(self, bitmap: Bitmap, port: int) -> bool:
        index, bit = self._locate(bitmap, port)
        old = self._mem[index]
        if not old & bit:
            self._mem[index] = old | bit
            self.updates.bump()
        return bool(old & bit)

    def test_and_clear_bit(self, bitmap: Bitmap, port: int) -> bool:
        index, bit = self._locate(bitmap, port)
        old = self._mem[index]
        if old & bit:
            self._mem[index] = old & ~bit
            self.updates.bump()
        return bool(old & bit)

    def word(self, bitmap: Bitmap, index: int) -> int:
        if not 0 <= index < EVTCHN_WORDS:
            raise IndexError(f"bitmap word {index}")
        value: int = _U64.unpack_from(self._mem, bitmap + 8 * index)[0]
        return value

    def set_wallclock(self, sec: int, nsec: int) -> None:
        """Publish the wall-clock base as Xen does: version odd while writing, then even."""
        version = _U32.unpack_from(self._mem, SharedInfoField.wc_version)[0]
        _U32.pack_into(self._mem, SharedInfoField.wc_sec, sec & 0xFFFF_FFFF)
        _U32.pack_into(self._mem, SharedInfoField.wc_nsec, nsec)
        _U32.pack_into(self._mem, SharedInfoField.wc_sec_hi, (sec >> 32) & 0xFFFF_FFFF)
        _U32.pack_into(self._mem, SharedInfoField.wc_version, (version + 2) & 0xFFFF_FFFF)
        self.updates.bump()

    def snapshot(self) -> SharedInfoState:
        return SharedInfoState.parse(bytes(self._mem[:SHARED_INFO_SIZE]))


class VcpuInfoView:
    """One vCPU's 48-byte vcpu_info, wherever it currently lives."""

    def __init__(self, area: memoryview, updates: UpdateCounter) -> None:
        self._mem = _as_bytes_view(area, VCPU_INFO_SIZE, "a vcpu_info area")
        self._updates = updates

    @property
    def upcall_pending(self) -> bool:
        return bool(self._mem[VcpuInfoField.evtchn_upcall_pending])

    def test_and_set_upcall_pending(self) -> bool:
        """Xen's test-and-set of bit 0 of ``evtchn_upcall_pending``; returns the old bit."""
        old = self._mem[VcpuInfoField.evtchn_upcall_pending]
        if not old & 1:
            self._mem[VcpuInfoField.evtchn_upcall_pending] = old | 1
            self._updates.bump()
        return bool(old & 1)

    @property
    def pending_sel(self) -> int:
        value: int = _U64.unpack_from(self._mem, VcpuInfoField.evtchn_pending_sel)[0]
        return value

    def test_and_set_sel_bit(self, bit: int) -> bool:
        old = self.pending_sel
        mask = 1 << bit
        if not old & mask:
            _U64.pack_into(self._mem, VcpuInfoField.evtchn_pending_sel, old | mask)
            self._updates.bump()
        return bool(old & mask)

    def set_pending_sel(self, value: int) -> None:
        _U64.pack_into(self._mem, VcpuInfoField.evtchn_pending_sel, value & ALL_ONES64)
        self._updates.bump()

    def raw(self) -> bytes:
        return bytes(self._mem)

    def write_raw(self, data: bytes) -> None:
        self._mem[:] = data
        self._updates.bump()

    def snapshot(self) -> VcpuInfo:
        return VcpuInfo.parse(self.raw())


class VcpuInfoHome(Enum):
    SHARED_INFO = "shared_info"
    DUMMY = "dummy"  # Xen's private dummy_vcpu_info: nothing the guest can see
    GUEST_FRAME = "guest frame"


@dataclass(frozen=True)
class VcpuInfoLocation:
    home: VcpuInfoHome
    gfn: int | None = None
    offset: int = 0

    def __str__(self) -> str:
        if self.home is VcpuInfoHome.GUEST_FRAME and self.gfn is not None:
            return f"gfn {self.gfn:#x} + {self.offset:#x}"
        if self.home is VcpuInfoHome.SHARED_INFO:
            return f"shared_info + {self.offset:#x}"
        return str(self.home.value)


MapGuestFrame = Callable[[int], memoryview | None]
RaiseUpcall = Callable[[int], None]


class VcpuInfos:
    """Where each vCPU's vcpu_info lives, and ``vcpu_mark_events_pending``.

    ``map_guest_frame(gfn)`` gives the host memory backing one 4 KiB guest
    frame of ordinary RAM, or None for anything else. ``raise_upcall(vcpu)`` is
    called on every 0->1 transition of that vCPU's ``evtchn_upcall_pending``,
    exactly where Xen calls ``vgic_inject_irq`` for the event PPI.
    """

    def __init__(
        self,
        shared: SharedInfo,
        nr_vcpus: int,
        map_guest_frame: MapGuestFrame,
        raise_upcall: RaiseUpcall,
    ) -> None:
        if nr_vcpus < 1:
            raise ValueError("a domain has at least one vCPU")
        self.shared = shared
        self.nr_vcpus = nr_vcpus
        self._map_guest_frame = map_guest_frame
        self._raise_upcall = raise_upcall
        self._dummy = bytearray(VCPU_INFO_SIZE)
        self._views: list[VcpuInfoView] = []
        self._locations: list[VcpuInfoLocation] = []
        self.reset()

    def reset(self) -> None:
        self._dummy[:] = bytes(VCPU_INFO_SIZE)
        dummy = VcpuInfoView(memoryview(self._dummy), UpdateCounter())
        self._views = []
        self._locations = []
        for vcpu in range(self.nr_vcpus):
            if vcpu < XEN_LEGACY_MAX_VCPUS:
                area = self.shared.vcpu_info_area(vcpu)
                self._views.append(VcpuInfoView(area, self.shared.updates))
                offset = SharedInfoField.vcpu_info + vcpu * VCPU_INFO_SIZE
                self._locations.append(VcpuInfoLocation(VcpuInfoHome.SHARED_INFO, None, offset))
            else:
                self._views.append(dummy)
                self._locations.append(VcpuInfoLocation(VcpuInfoHome.DUMMY))

    def valid(self, vcpu: int) -> bool:
        return 0 <= vcpu < self.nr_vcpus

    def view(self, vcpu: int) -> VcpuInfoView:
        return self._views[vcpu]

    def location(self, vcpu: int) -> VcpuInfoLocation:
        return self._locations[vcpu]

    def registered(self, vcpu: int) -> bool:
        return self._locations[vcpu].home is VcpuInfoHome.GUEST_FRAME

    def map_guest_frame(self, gfn: int) -> memoryview | None:
        return self._map_guest_frame(gfn)

    def move(self, vcpu: int, gfn: int, offset: int, page: memoryview) -> None:
        """Move vcpu_info into guest RAM (``vcpu_info_populate`` + the area swap).

        The caller has checked the registration rules. The new area gets the
        current contents (zeros when coming from the dummy).
        """
        old = self._views[vcpu]
        page_bytes = _as_bytes_view(page, PAGE_SIZE, "a guest frame")
        view = VcpuInfoView(page_bytes[offset : offset + VCPU_INFO_SIZE], self.shared.updates)
        coming_from_dummy = self._locations[vcpu].home is VcpuInfoHome.DUMMY
        view.write_raw(bytes(VCPU_INFO_SIZE) if coming_from_dummy else old.raw())
        self._views[vcpu] = view
        self._locations[vcpu] = VcpuInfoLocation(VcpuInfoHome.GUEST_FRAME, gfn, offset)

    def mark_events_pending(self, vcpu: int) -> None:
        """ARM ``vcpu_mark_events_pending``: set the upcall flag; inject on 0->1."""
        if not self._views[vcpu].test_and_set_upcall_pending():
            self._raise_upcall(vcpu)

    def upcall_pending(self, vcpu: int) -> bool:
        return self._views[vcpu].upcall_pending
