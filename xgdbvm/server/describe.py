"""Stops in words, for the console stream and the summary line."""

from __future__ import annotations

from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import (
    Breakpoint,
    BudgetExhausted,
    GuestFault,
    HostInterrupt,
    Idle,
    MachineFault,
    Shutdown,
    SingleStep,
    StopReason,
    Watchpoint,
)
from xgdbvm.trace.convert import Symbolizer


def describe_stop(stop: StopReason, machine: Machine, symbolize: Symbolizer | None = None) -> str:
    """``symbolize`` saves building one from the image's symbols at every stop."""
    if symbolize is None:
        symbolize = Symbolizer(machine.layout.image.symbols)

    def where(address: int) -> str:
        name = symbolize(address)
        return f"{address:#x}" + (f" <{name}>" if name else "")

    match stop:
        case Shutdown(reason, via):
            text = f"guest shutdown: {reason.name} (via {via})"
        case Breakpoint(address):
            text = f"breakpoint at {where(address)}"
        case Watchpoint(address, kind):
            text = f"{kind} watchpoint on {where(address)} at pc {where(machine.cpu.pc)}"
        case SingleStep():
            text = f"stepped to {where(machine.cpu.pc)}"
        case HostInterrupt():
            text = f"interrupted at {where(machine.cpu.pc)}"
        case BudgetExhausted(count):
            text = f"instruction budget exhausted after {count} instructions"
        case Idle(pc):
            text = f"guest idle in WFI at {where(pc)} with nothing to wake it"
        case GuestFault(access, va, ipa, pc, why):
            where_ipa = f"ipa {ipa:#x}" if ipa is not None else "no ipa (stage 1 fails too)"
            kind = "prefetch" if access == "fetch" else "data"
            text = (
                f"stage-2 fault: {access} of va {va:#x} ({where_ipa}) at pc {where(pc)}: {why}; "
                f"resuming delivers the {kind} abort Xen would inject"
            )
        case MachineFault(message):
            text = f"machine fault: {message}"
    return f"xgdbvm: vCPU 0 stopped: {text}"
