"""The emulated Xen: the services a guest domain reaches through hypercalls.

It knows nothing of Unicorn: the machine hands it a hypercall number and
arguments and a way to reach guest memory, and writes back what it returns.
"""

from __future__ import annotations

from collections.abc import Callable

from xgdbvm.machine.memory import Extent, PhysicalMemory
from xgdbvm.machine.xen.console import ConsoleIo
from xgdbvm.machine.xen.domain import DomainConfig, DomainState
from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.hypercall import Call, Dispatcher
from xgdbvm.machine.xen.memory_op import MemoryOps, P2mChange
from xgdbvm.machine.xen.physmap import DomainMemory
from xgdbvm.machine.xen.sched import SchedOps
from xgdbvm.machine.xen.smccc import Smccc, SmcccResult
from xgdbvm.machine.xen.version import XenVersion

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
        for service in (
            XenVersion(config, version, CAPABILITIES[arch], guest),
            self.console,
            SchedOps(self.state, guest),
            self.memory_ops,
        ):
            self.dispatcher.register(service.hypercalls())

    def hypercall(self, number: int, args: tuple[int, ...]) -> tuple[Call, int]:
        call = Call(number, args)
        return call, self.dispatcher.dispatch(call)

    def smccc_call(self, args: tuple[int, ...]) -> SmcccResult:
        return self.smccc.call(args)

    def reset(self) -> None:
        self.state.reset()
        self.console.reset()
        self.memory.reset()
        self.memory_ops.reset()
        self.dispatcher.stats.clear()
