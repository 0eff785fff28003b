"""xgdbvm's scripting API: boot or reach a VM, drive it with GDB, read its trace.

    import xgdbvm

    async with xgdbvm.open_vm(arch="arm64") as vm:
        gdb = await vm.gdb()
        await gdb.break_at("guest_main")
        stop = await gdb.cont()
        await vm.trace.expect(hypercall="xen_version", subop="version")

See docs/testing.md for the whole API and the pytest plugin.
"""

from xgdbvm.api.gdb import Breakpoint, GdbClient, GdbError, Watchpoint
from xgdbvm.api.registers import RegisterError, RegisterInfo, RegisterTable
from xgdbvm.api.stops import (
    BreakpointStop,
    ExitedStop,
    SignalStop,
    Stop,
    TerminatedStop,
    WatchpointStop,
)
from xgdbvm.api.symbols import SymbolError, Symbols
from xgdbvm.api.trace import Console, ExpectationFailed, Trace, TraceError, TraceLog
from xgdbvm.api.vm import VM, connect, open_vm
from xgdbvm.api.xenstore import XenstoreClient, XenstoreError
from xgdbvm.trace.schema import (
    ConsoleEvent,
    ExceptionEvent,
    GenericEvent,
    HypercallEnterEvent,
    HypercallExitEvent,
    LifecycleEvent,
    SmcccEvent,
    TraceEvent,
)

__all__ = [
    "VM",
    "Breakpoint",
    "BreakpointStop",
    "Console",
    "ConsoleEvent",
    "ExceptionEvent",
    "ExitedStop",
    "ExpectationFailed",
    "GdbClient",
    "GdbError",
    "GenericEvent",
    "HypercallEnterEvent",
    "HypercallExitEvent",
    "LifecycleEvent",
    "RegisterError",
    "RegisterInfo",
    "RegisterTable",
    "SignalStop",
    "SmcccEvent",
    "Stop",
    "SymbolError",
    "Symbols",
    "TerminatedStop",
    "Trace",
    "TraceError",
    "TraceEvent",
    "TraceLog",
    "Watchpoint",
    "WatchpointStop",
    "XenstoreClient",
    "XenstoreError",
    "connect",
    "open_vm",
]
