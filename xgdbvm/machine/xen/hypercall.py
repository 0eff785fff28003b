"""The hypercall dispatcher: one table from hypercall number to handler.

A handler receives the call (its arguments as the guest passed them) and
returns the value for x0/r0: >= 0 on success, -errno on failure. It never
raises into the CPU: ``HypercallError`` becomes its -errno, and any other
exception is a bug in the model: it is logged with its traceback and answered
-EIO (not -ENOSYS, which would hide it, nor -EFAULT, which would blame the
guest). Numbers or sub-ops nobody handles return
-ENOSYS, are counted, and say so in the trace note.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from xgdbvm.machine.xen.abi import Hypercall
from xgdbvm.machine.xen.errno import HypercallError, XenErrno

log = logging.getLogger("xgdbvm.hypercall")

NOT_IMPLEMENTED = "not implemented"


@dataclass
class Call:
    """One hypercall in flight. Handlers may fill ``subop`` and ``note``."""

    number: int
    args: tuple[int, ...]
    subop: str | None = None
    note: str = ""
    # Arguments decoded from the guest's structs, by name (for the trace).
    fields: dict[str, int | str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return hypercall_name(self.number)


Handler = Callable[[Call], int]


@dataclass(frozen=True)
class Constant:
    """A handler whose answer is fixed for the machine's life: it reads no guest
    memory, changes no state and sets no note or fields. The native fast path
    (machine/native/hvc.c) answers such calls without entering Python."""

    value: int

    def __call__(self, call: Call) -> int:
        return self.value


@dataclass(frozen=True)
class ConstantCall:
    """One hypercall and command the fast path may answer, and how the trace names it."""

    number: int
    name: str
    cmd: int
    cmd_mask: int
    subop: str | None
    ret: int


class SubopTable:
    """Dispatch on a hypercall's first argument (its command) through a table.

    Commands without a handler return -ENOSYS, or go to ``fallback`` where the
    hypercall answers unknown commands otherwise (vcpu_op's -EINVAL on ARM).
    """

    def __init__(
        self,
        names: type[IntEnum],
        handlers: Mapping[int, Handler],
        cmd_mask: int = 0xFFFF_FFFF,
        fallback: Handler | None = None,
    ) -> None:
        self.names = names
        self.mask = cmd_mask
        # Looked up on every call: a dict, not the enum's constructor.
        self._subop_names = {int(m): m.name.rstrip("_") for m in names}
        self._handlers = dict(handlers)
        self._fallback = fallback

    def subop_name(self, cmd: int) -> str | None:
        """The command's name as traces and breakpoints spell it, or None if unnamed."""
        return self._subop_names.get(cmd & self.mask)

    def constants(self) -> list[tuple[int, int]]:
        """(command, answer) for every command a ``Constant`` answers."""
        return [(cmd, h.value) for cmd, h in self._handlers.items() if isinstance(h, Constant)]

    def __call__(self, call: Call) -> int:
        cmd = call.args[0] & self.mask
        call.subop = self.subop_name(cmd) or str(cmd)
        handler = self._handlers.get(cmd)
        if handler is not None:
            return handler(call)
        if self._fallback is not None:
            return self._fallback(call)
        call.note = NOT_IMPLEMENTED
        return -XenErrno.ENOSYS


_NAMES = {int(h): h.name for h in Hypercall}


def hypercall_name(number: int) -> str:
    # A dict, not Hypercall(number): this runs for every call the model answers.
    name = _NAMES.get(number)
    return name if name is not None else f"hypercall_{number}"


@dataclass
class HypercallStats:
    calls: Counter[str] = field(default_factory=Counter)
    unimplemented: Counter[str] = field(default_factory=Counter)

    def clear(self) -> None:
        self.calls.clear()
        self.unimplemented.clear()


class Dispatcher:
    def __init__(self) -> None:
        self.table: dict[int, Handler] = {}
        self.stats = HypercallStats()

    def subop_table(self, number: int) -> SubopTable | None:
        """The sub-op table a hypercall dispatches through, if it has one."""
        handler = self.table.get(number)
        return handler if isinstance(handler, SubopTable) else None

    def register(self, handlers: Mapping[Hypercall, Handler]) -> None:
        for number, handler in handlers.items():
            if number in self.table:
                raise ValueError(f"two handlers for hypercall {number.name}")
            self.table[int(number)] = handler

    def constant_calls(self) -> list[ConstantCall]:
        """Every (hypercall, command) whose answer is a ``Constant``, for the fast path."""
        return [
            ConstantCall(
                number, hypercall_name(number), cmd, table.mask, table.subop_name(cmd), ret
            )
            for number, table in self.table.items()
            if isinstance(table, SubopTable)
            for cmd, ret in table.constants()
        ]

    def dispatch(self, call: Call) -> int:
        handler = self.table.get(call.number)
        if handler is None:
            call.note = NOT_IMPLEMENTED
            ret = -XenErrno.ENOSYS
        else:
            try:
                ret = handler(call)
            except HypercallError as error:
                call.note = error.why
                ret = -error.errno
            except Exception:
                log.exception("hypercall %s%s failed inside the model", call.name, call.args)
                call.note = "internal error in xgdbvm (logged)"
                ret = -XenErrno.EIO
        self.stats.calls[call.name] += 1
        if call.note == NOT_IMPLEMENTED:
            key = f"{call.name}.{call.subop}" if call.subop else call.name
            self.stats.unimplemented[key] += 1
        return int(ret)
