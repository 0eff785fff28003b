"""Breakpoints and watchpoints as address-bounded Unicorn hooks.

A breakpoint is a UC_HOOK_CODE hook whose range is the one instruction, so
code elsewhere is translated without instrumentation: a session with
breakpoints runs the guest at full speed. A watchpoint is a memory hook on
exactly the watched range.

Stop semantics (what gdb expects on ARM, whose watchpoints are not
"steppable"): a breakpoint stops before its instruction executes; a
watchpoint stops with the PC at the accessing instruction. Unicorn has by
then completed the access, and the instruction is executed again on resume,
which repeats a plain load or store (harmless for RAM; documented for MMIO).
Resuming from a stop skips the breakpoint or watchpoint that caused it, for
one instruction, so a continue always makes progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import unicorn

from xgdbvm.machine.stop import Breakpoint, StopReason, Watchpoint


class WatchKind(Enum):
    WRITE = "watch"
    READ = "rwatch"
    ACCESS = "awatch"


HOOK_TYPES = {
    WatchKind.WRITE: unicorn.UC_HOOK_MEM_WRITE,
    WatchKind.READ: unicorn.UC_HOOK_MEM_READ,
    WatchKind.ACCESS: unicorn.UC_HOOK_MEM_WRITE | unicorn.UC_HOOK_MEM_READ,
}


@dataclass(frozen=True)
class WatchRange:
    address: int
    length: int
    kind: WatchKind


class DebugHooks:
    def __init__(
        self, uc: unicorn.Uc, read_pc: Callable[[], int], on_stop: Callable[[StopReason], None]
    ) -> None:
        self._uc = uc
        self._read_pc = read_pc
        self._on_stop = on_stop
        self._breakpoints: dict[int, int] = {}  # address -> hook handle
        # Removed breakpoints whose hooks stay installed, inert, until the next long run:
        # gdb removes every breakpoint at each stop and inserts them again before it
        # resumes, and a new hook costs a translated-code flush at its address.
        self._parked: dict[int, int] = {}
        self._watchpoints: dict[WatchRange, int] = {}
        self._skip_pc: int | None = None

    @property
    def breakpoints(self) -> tuple[int, ...]:
        return tuple(self._breakpoints)

    @property
    def watchpoints(self) -> tuple[WatchRange, ...]:
        return tuple(self._watchpoints)

    def add_breakpoint(self, address: int) -> None:
        if address in self._breakpoints:
            return
        handle = self._parked.pop(address, None)
        if handle is not None:
            self._breakpoints[address] = handle  # its hook never left the translated code
            return
        self._breakpoints[address] = self._uc.hook_add(
            unicorn.UC_HOOK_CODE, self._on_code, begin=address, end=address
        )
        # Code translated before the hook existed has no call to it: without this a
        # breakpoint set inside a loop the guest already ran (after Ctrl-C) never hit.
        self._uc.ctl_remove_cache(address, address + 4)

    def remove_breakpoint(self, address: int) -> bool:
        handle = self._breakpoints.pop(address, None)
        if handle is None:
            return False
        self._parked[address] = handle
        return True

    def drop_parked(self) -> None:
        """Delete the hooks of removed breakpoints: before a long run, where an inert
        hook would still cost a Python call each time its instruction runs."""
        for handle in self._parked.values():
            self._uc.hook_del(handle)
        self._parked.clear()

    def add_watchpoint(self, watch: WatchRange) -> None:
        if watch not in self._watchpoints and watch.length > 0:
            self._watchpoints[watch] = self._uc.hook_add(
                HOOK_TYPES[watch.kind],
                self._make_watch_hook(watch),
                begin=watch.address,
                end=watch.address + watch.length - 1,
            )

    def remove_watchpoint(self, watch: WatchRange) -> bool:
        handle = self._watchpoints.pop(watch, None)
        if handle is None:
            return False
        self._uc.hook_del(handle)
        return True

    def clear(self) -> None:
        for address in self.breakpoints:
            self.remove_breakpoint(address)
        self.drop_parked()
        for watch in self.watchpoints:
            self.remove_watchpoint(watch)
        self._skip_pc = None

    def skip_once_at(self, pc: int | None) -> None:
        """Let the instruction at ``pc`` run once without triggering its own stop."""
        self._skip_pc = pc

    def _on_code(self, uc: unicorn.Uc, address: int, size: int, data: object) -> None:
        if address not in self._breakpoints:
            return  # parked
        if address == self._skip_pc:
            self._skip_pc = None
            return
        self._on_stop(Breakpoint(address))
        uc.emu_stop()

    def _make_watch_hook(self, watch: WatchRange) -> Callable[..., None]:
        def hook(
            uc: unicorn.Uc, access: int, address: int, size: int, value: int, data: object
        ) -> None:
            if self._skip_pc is not None and self._read_pc() == self._skip_pc:
                return
            self._on_stop(Watchpoint(address, watch.kind.value))
            uc.emu_stop()

        return hook
