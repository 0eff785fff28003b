"""``monitor`` commands: one table from command words to handlers.

Each handler takes the context and the remaining words and returns the text
GDB prints. Later capabilities register their commands in the same table
(``COMMANDS``); ``monitor help`` lists whatever is there.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xgdbvm.adapters.console_history import ConsoleHistory
from xgdbvm.machine.hypercall_breaks import HypercallBreakError, HypercallBreaks
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import Breakpoint
from xgdbvm.trace.formatter import TraceFormatter
from xgdbvm.trace.recorder import TraceRecorder

if TYPE_CHECKING:
    from xgdbvm.adapters.gdb_target import GdbTarget


@dataclass
class MonitorContext:
    machine: Machine
    console: ConsoleHistory
    target: GdbTarget


class MonitorError(Exception):
    """A bad monitor command line: its message is shown to the user."""


Handler = Callable[[MonitorContext, list[str]], str]


@dataclass(frozen=True)
class MonitorCommand:
    words: tuple[str, ...]
    usage: str
    summary: str
    handler: Handler


COMMANDS: list[MonitorCommand] = []


def command(*words: str, usage: str = "", summary: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        COMMANDS.append(MonitorCommand(words, usage, summary, handler))
        return handler

    return register


def run_monitor(context: MonitorContext, text: str) -> str:
    try:
        words = shlex.split(text)
    except ValueError as error:
        return f"monitor: {error}\n"
    if not words:
        words = ["help"]
    # Longest match first, so "info hypercalls" wins over a bare "info".
    for entry in sorted(COMMANDS, key=lambda c: -len(c.words)):
        if tuple(words[: len(entry.words)]) == entry.words:
            try:
                return entry.handler(context, words[len(entry.words) :])
            except MonitorError as error:
                return f"monitor {' '.join(entry.words)}: {error}\n"
    return f"monitor: unknown command {text.strip()!r}; try 'monitor help'\n"


@command("help", summary="list the monitor commands")
def _help(context: MonitorContext, args: list[str]) -> str:
    width = max(len(" ".join(c.words) + " " + c.usage) for c in COMMANDS)
    lines = [
        f"  {(' '.join(c.words) + ' ' + c.usage).strip():<{width}}  {c.summary}"
        for c in sorted(COMMANDS, key=lambda c: c.words)
    ]
    return "xgdbvm monitor commands:\n" + "\n".join(lines) + "\n"


@command("info", "hypercalls", summary="hypercall counts by name, and any that returned -ENOSYS")
def _info_hypercalls(context: MonitorContext, args: list[str]) -> str:
    stats = context.machine.hypervisor.dispatcher.stats
    if not stats.calls:
        return "no hypercalls yet\n"
    lines = [f"  {name:<24} {count}" for name, count in sorted(stats.calls.items())]
    if stats.unimplemented:
        lines.append("returned -ENOSYS (not implemented):")
        lines += [f"  {name:<24} {count}" for name, count in sorted(stats.unimplemented.items())]
    return "hypercalls:\n" + "\n".join(lines) + "\n"


@command("reset", summary="reboot the guest from its image (breakpoints stay)")
def _reset(context: MonitorContext, args: list[str]) -> str:
    context.machine.reset()
    context.target.last_stop = None
    pc = context.machine.cpu.pc
    return f"guest reset; vCPU 0 at its entry point {pc:#x}\n"


@command("console", usage="[N]", summary="the last N console lines (20)")
def _console(context: MonitorContext, args: list[str]) -> str:
    try:
        count = int(args[0]) if args else 20
    except ValueError:
        raise MonitorError(f"{args[0]!r} is not a number of lines") from None
    lines = context.console.last(count)
    return "".join(line + "\n" for line in lines) or "(no console output yet)\n"


# -- tracing and hypercall breakpoints -------------------------------------------------------


def _count(args: list[str], default: int) -> int:
    try:
        return int(args[0]) if args else default
    except ValueError:
        raise MonitorError(f"{args[0]!r} is not a number") from None


def _recorder(context: MonitorContext) -> TraceRecorder:
    recorder = TraceRecorder.of(context.machine)
    if recorder is None:
        raise MonitorError("no trace recorder is attached to this machine")
    return recorder


def _hypercall_breaks(context: MonitorContext) -> HypercallBreaks:
    breaks = getattr(context.machine, "hypercall_breaks", None)
    if not isinstance(breaks, HypercallBreaks):
        raise MonitorError("this machine does not check hypercall breakpoints")
    return breaks


@command("trace", summary="whether tracing is on, where it goes, and drop counts")
def _trace(context: MonitorContext, args: list[str]) -> str:
    if args:
        raise MonitorError(f"unknown argument {args[0]!r} (try 'monitor trace last N')")
    return _recorder(context).status().render()


@command("trace", "last", usage="[N]", summary="the last N trace events, as the log (20)")
def _trace_last(context: MonitorContext, args: list[str]) -> str:
    count = _count(args, 20)
    # A hypercall is two events (enter, exit) and one line: take enough events.
    lines = TraceFormatter().feed_all(_recorder(context).last(2 * count))[-count:] if count else []
    breaks = getattr(context.machine, "hypercall_breaks", None)
    hit = breaks.last_hit if isinstance(breaks, HypercallBreaks) else None
    stop = context.target.last_stop
    if hit is not None and isinstance(stop, Breakpoint) and stop.address == hit.pc:
        registers = ", ".join(f"{a:#x}" for a in hit.args)
        lines.append(f"(stopped at the entry of {hit.breakpoint}({registers}) at {hit.pc:#x})")
    return "".join(line + "\n" for line in lines) or "(no trace events yet)\n"


@command(
    "break",
    "hypercall",
    usage="[NAME[.SUBOP]]",
    summary="stop at the entry of a hypercall (no NAME: list them)",
)
def _break_hypercall(context: MonitorContext, args: list[str]) -> str:
    breaks = _hypercall_breaks(context)
    if not args:
        listed = [f"  {b}" for b in breaks.breaks]
        return "hypercall breakpoints:\n" + "\n".join(listed) + "\n" if listed else "none\n"
    try:
        added = [breaks.add(spec) for spec in args]
    except HypercallBreakError as error:
        raise MonitorError(str(error)) from None
    return "".join(f"hypercall breakpoint: stop at the entry of {b}\n" for b in added)


@command("delete", "hypercall", usage="[NAME[.SUBOP]]", summary="remove hypercall breakpoints")
def _delete_hypercall(context: MonitorContext, args: list[str]) -> str:
    breaks = _hypercall_breaks(context)
    try:
        removed = [b for spec in args for b in breaks.remove(spec)] if args else breaks.remove()
    except HypercallBreakError as error:
        raise MonitorError(str(error)) from None
    return "".join(f"deleted hypercall breakpoint {b}\n" for b in removed) or "none matched\n"
