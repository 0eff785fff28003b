"""A fake guest for the event-channel side: RAM at an identity-mapped VA, a
shared_info page, two vCPUs, a recording backend, and all services on one
dispatcher."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from xgdbvm.machine.memory import GuestMemoryFault
from xgdbvm.machine.xen.abi import Hypercall
from xgdbvm.machine.xen.evtchn import EventChannels, EvtchnOp
from xgdbvm.machine.xen.guest import FaultingGuestAccess
from xgdbvm.machine.xen.hvm import HvmOps, HvmParam, callback_irq_ppi
from xgdbvm.machine.xen.hypercall import Call, Dispatcher
from xgdbvm.machine.xen.shared_info import PAGE_SIZE, SharedInfo, VcpuInfos
from xgdbvm.machine.xen.vcpu import VcpuOps, VmAssist

RAM_BASE = 0x4000_0000
RAM_PAGES = 4
RAM_GFN = RAM_BASE >> 12
ARG = RAM_BASE  # where tests put hypercall argument structs
DOMID = 1
NR_VCPUS = 2
STORE_PFN, CONSOLE_PFN = 0x39001, 0x39000


class FakeRam:
    """RAM_PAGES pages at RAM_BASE, MMU off (VA == IPA); anything else faults."""

    def __init__(self) -> None:
        self.mem = bytearray(RAM_PAGES * PAGE_SIZE)

    def _offset(self, va: int, size: int) -> int:
        if not (va >= RAM_BASE and va + size <= RAM_BASE + len(self.mem)):
            raise GuestMemoryFault(va, size)
        return va - RAM_BASE

    def read(self, va: int, size: int) -> bytes:
        off = self._offset(va, size)
        return bytes(self.mem[off : off + size])

    def write(self, va: int, data: bytes) -> None:
        off = self._offset(va, len(data))
        self.mem[off : off + len(data)] = data

    def frame(self, gfn: int) -> memoryview | None:
        index = gfn - RAM_GFN
        if not 0 <= index < RAM_PAGES:
            return None
        return memoryview(self.mem)[index * PAGE_SIZE : (index + 1) * PAGE_SIZE]


@dataclass
class RecordingBackend:
    sends: list[int] = field(default_factory=list)

    def on_send(self, port: int) -> None:
        self.sends.append(port)


class World:
    def __init__(
        self,
        *,
        privileged: bool = False,
        max_evtchn_port: int = 1023,
        raise_upcall: Callable[[int], None] | None = None,
    ) -> None:
        self.ram = FakeRam()
        self.page = bytearray(PAGE_SIZE)  # the shared_info page's host memory
        self.upcalls: list[int] = []
        self.now = 0
        self.shared = SharedInfo(memoryview(self.page))
        upcall = self.upcalls.append if raise_upcall is None else raise_upcall
        self.infos = VcpuInfos(self.shared, NR_VCPUS, self.ram.frame, upcall)
        guest = FaultingGuestAccess(self.ram.read, self.ram.write)
        self.backend = RecordingBackend()
        self.evtchn = EventChannels(
            guest,
            self.infos,
            domid=DOMID,
            backend=self.backend,
            privileged=privileged,
            max_evtchn_port=max_evtchn_port,
        )
        self.store_port = self.evtchn.toolstack_alloc_unbound()
        self.console_port = self.evtchn.toolstack_alloc_unbound()
        self.hvm = HvmOps(
            guest,
            {
                HvmParam.CALLBACK_IRQ: callback_irq_ppi(),
                HvmParam.STORE_PFN: STORE_PFN,
                HvmParam.STORE_EVTCHN: self.store_port,
                HvmParam.CONSOLE_PFN: CONSOLE_PFN,
                HvmParam.CONSOLE_EVTCHN: self.console_port,
                HvmParam.MONITOR_RING_PFN: 0x39002,
            },
            domid=DOMID,
            privileged=privileged,
        )
        self.vcpu = VcpuOps(guest, self.infos, clock=lambda: self.now)
        self.vm_assist = VmAssist()
        self.dispatcher = Dispatcher()
        for service in (self.evtchn, self.hvm, self.vcpu, self.vm_assist):
            self.dispatcher.register(service.hypercalls())

    # -- hypercalls -----------------------------------------------------------

    def call(self, number: Hypercall, *args: int) -> tuple[Call, int]:
        call = Call(number, args)
        return call, self.dispatcher.dispatch(call)

    def evtchn_op(self, op: EvtchnOp, arg: bytes) -> tuple[Call, int]:
        self.ram.write(ARG, arg)
        return self.call(Hypercall.event_channel_op, op, ARG)

    def out(self, size: int, va: int = ARG) -> bytes:
        return self.ram.read(va, size)

    def out_u32(self, offset: int) -> int:
        value: int = struct.unpack_from("<I", self.ram.mem, ARG - RAM_BASE + offset)[0]
        return value

    # -- guest-side views of shared_info ---------------------------------------

    def pending(self, port: int) -> bool:
        return bool(self.page[48 + port // 8] & (1 << port % 8))

    def masked(self, port: int) -> bool:
        return bool(self.page[560 + port // 8] & (1 << port % 8))

    def guest_mask(self, port: int) -> None:
        self.page[560 + port // 8] |= 1 << port % 8

    def guest_clear_pending(self, port: int) -> None:
        self.page[48 + port // 8] &= ~(1 << port % 8) & 0xFF

    def sel(self) -> int:
        value: int = struct.unpack_from("<Q", self.page, 8)[0]
        return value

    def upcall_pending(self) -> int:
        return self.page[0]
