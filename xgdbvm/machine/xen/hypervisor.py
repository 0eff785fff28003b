"""The emulated Xen: the services a guest domain reaches through hypercalls.

It knows nothing of Unicorn: the machine hands it a hypercall number and
arguments and a way to reach guest memory, and writes back what it returns.
"""

from __future__ import annotations

from collections.abc import Callable

from xgdbvm.machine.memory import Extent, FrameKind, PhysicalMemory
from xgdbvm.machine.xen.backend import Dom0Backend
from xgdbvm.machine.xen.console import ConsoleIo
from xgdbvm.machine.xen.domain import DomainConfig, DomainState
from xgdbvm.machine.xen.evtchn import EventChannels
from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.hvm import HvmOps, HvmParam, callback_irq_ppi
from xgdbvm.machine.xen.hypercall import Call, Dispatcher
from xgdbvm.machine.xen.memory_op import MemoryOps, P2mChange
from xgdbvm.machine.xen.physmap import DomainMemory
from xgdbvm.machine.xen.pvconsole import PvConsole
from xgdbvm.machine.xen.sched import SchedOps
from xgdbvm.machine.xen.shared_info import SharedInfo, VcpuInfos
from xgdbvm.machine.xen.smccc import Smccc, SmcccResult
from xgdbvm.machine.xen.vcpu import VcpuOps, VmAssist
from xgdbvm.machine.xen.version import XenVersion
from xgdbvm.machine.xen.xenstore import DomainConfig as StoreDomain
from xgdbvm.machine.xen.xenstore import Message
from xgdbvm.machine.xen.xenstored import Xenstored

GUEST_MAGIC_GFN = 0x39000  # console ring page; the xenstore ring is the next one
EVTCHN_PPI = 31
WALLCLOCK_EPOCH = 1_767_225_600  # 2026-01-01T00:00:00Z

CAPABILITIES = {"arm64": "xen-3.0-aarch64 xen-3.0-armv7l ", "arm32": "xen-3.0-armv7l "}


class Hypervisor:
    def __init__(
        self,
        config: DomainConfig,
        arch: str,
        version: tuple[int, int],
        guest: GuestAccess,
        console_line: Callable[[bytes], None],
        p2m: PhysicalMemory,
        initial_p2m: tuple[Extent, ...],
        on_p2m_change: Callable[[P2mChange], None] | None = None,
        raise_upcall: Callable[[int], None] = lambda vcpu: None,
        clock_ns: Callable[[], int] = lambda: 0,
        event_ppi: int = EVTCHN_PPI,
        post: Callable[[Callable[[], None]], None] = lambda work: work(),
        pv_console_output: Callable[[bytes], None] = lambda data: None,
        memory_kib: int = 131072,
        xenstore_observer: Callable[[int, bool, Message, Message], None] | None = None,
    ) -> None:
        self.config = config
        self.version = version
        self.state = DomainState()
        self.dispatcher = Dispatcher()
        self.console = ConsoleIo(config, guest, console_line)
        self.smccc = Smccc(self.state)
        self.memory = DomainMemory(p2m)
        self.memory.set_initial(initial_p2m)
        self.memory_ops = MemoryOps(config, self.memory, guest, on_p2m_change)
        self.shared_info = SharedInfo(self.memory.shared_info_view())
        self.vcpu_infos = VcpuInfos(self.shared_info, 1, self._ram_frame, raise_upcall)
        self.backend = Dom0Backend()
        self.evtchn = EventChannels(
            guest, self.vcpu_infos, domid=config.domid, backend=self.backend, privileged=config.dom0
        )
        self.backend.attach(self.evtchn)
        self._event_ppi = event_ppi
        self._guest = guest
        self.hvm = HvmOps(guest, {}, domid=config.domid, privileged=config.dom0)
        self.vcpu_ops = VcpuOps(
            guest,
            self.vcpu_infos,
            clock=clock_ns,
            pointer_bits=64 if arch == "arm64" else 32,
        )
        self.vm_assist = VmAssist()
        for service in (
            XenVersion(config, version, CAPABILITIES[arch], guest),
            self.console,
            SchedOps(self.state, guest),
            self.memory_ops,
            self.evtchn,
            self.hvm,
            self.vcpu_ops,
            self.vm_assist,
        ):
            self.dispatcher.register(service.hypercalls())

        self._toolstack()
        self.xenstored = Xenstored(
            self.evtchn,
            self.backend,
            lambda: self.memory.p2m.page_view(self.store_gfn),
            StoreDomain(
                domid=config.domid,
                name=config.name,
                uuid=str(config.uuid),
                memory_kib=memory_kib,
                store_port=self.store_port,
                console_port=self.console_port,
                store_gfn=self.store_gfn,
                console_gfn=self.console_gfn,
            ),
            post,
            xenstore_observer,
        )
        self.pv_console = PvConsole(
            self.evtchn,
            self.backend,
            lambda: self.memory.p2m.page_view(self.console_gfn),
            self.console_port,
            pv_console_output,
        )

    def _ram_frame(self, gfn: int) -> memoryview | None:
        extent = self.memory.p2m.lookup(gfn)
        if extent is None or extent.kind is not FrameKind.RAM:
            return None
        return self.memory.p2m.page_view(gfn)

    def _toolstack(self) -> None:
        """What libxl sets up before the first instruction: the store and console
        channels and pages, and the HVM params that publish them; and the wallclock
        Xen keeps in shared_info (a fixed epoch: the guest's boot is deterministic)."""
        self.shared_info.set_wallclock(WALLCLOCK_EPOCH, 0)
        self.store_port = self.evtchn.toolstack_alloc_unbound()
        self.console_port = self.evtchn.toolstack_alloc_unbound()
        self.backend.reserve(self.store_port)
        self.backend.reserve(self.console_port)
        for index, value in {
            HvmParam.CALLBACK_IRQ: callback_irq_ppi(self._event_ppi),
            HvmParam.STORE_PFN: GUEST_MAGIC_GFN + 1,
            HvmParam.STORE_EVTCHN: self.store_port,
            HvmParam.CONSOLE_PFN: GUEST_MAGIC_GFN,
            HvmParam.CONSOLE_EVTCHN: self.console_port,
        }.items():
            self.hvm.toolstack_set(index, value)

    @property
    def store_gfn(self) -> int:
        return GUEST_MAGIC_GFN + 1

    @property
    def console_gfn(self) -> int:
        return GUEST_MAGIC_GFN

    def hypercall(self, number: int, args: tuple[int, ...]) -> tuple[Call, int]:
        call = Call(number, args)
        ret = self.dispatcher.dispatch(call)
        if call.subop == "alloc_unbound" and ret == 0:
            self.backend.adopt_new_channels()
        return call, ret

    def smccc_call(self, args: tuple[int, ...]) -> SmcccResult:
        return self.smccc.call(args)

    def reset(self) -> None:
        self.state.reset()
        self.console.reset()
        self.memory.reset()
        self.memory_ops.reset()
        self.vcpu_infos.reset()
        self.evtchn.reset()
        self.backend.reset()
        self.vcpu_ops.reset()
        self.vm_assist.reset()
        self.hvm.params.clear()
        self._toolstack()
        self.xenstored.start()
        self.pv_console.start()
        self.dispatcher.stats.clear()
