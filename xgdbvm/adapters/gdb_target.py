"""The GDB target: RSP commands answered from the machine, without I/O.

The server feeds each parsed command to ``GdbTarget.handle`` while the
machine is halted and gets back one of three outcomes:

- ``Reply``: send this payload now (``console`` first, as ``O`` packets);
- ``Resume``: run the machine as asked, then send ``stop_reply(stop)``;
- ``Close``: send the payload if any, then end the session.

Conventions: one vCPU is one thread (tid = vCPU index + 1); memory goes
through the vCPU's view of guest memory and answers E14 where nothing is
mapped; breakpoints and watchpoints are the machine's address-bounded hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from xgdbvm.adapters import (  # noqa: F401 - importing them registers their commands
    monitor_interrupts,
    monitor_memory,
    monitor_xenstore,
)
from xgdbvm.adapters.console_history import ConsoleHistory
from xgdbvm.adapters.monitor import MonitorContext, run_monitor
from xgdbvm.adapters.registers import RegisterMap
from xgdbvm.adapters.resume import Resume, ResumeMode
from xgdbvm.machine.debug import WatchKind, WatchRange
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.memory import GuestMemoryFault
from xgdbvm.machine.stop import (
    Breakpoint,
    GuestFault,
    HostInterrupt,
    MachineFault,
    Shutdown,
    StopReason,
    Watchpoint,
)
from xgdbvm.machine.xen.abi import ShutdownReason
from xgdbvm.machine.xen.xenstore import Connection
from xgdbvm.rsp import commands as cmd
from xgdbvm.rsp import lldb, replies
from xgdbvm.rsp.constants import BreakpointType, ErrorCode, GdbSignal
from xgdbvm.rsp.replies import StopReason as RspStopReason
from xgdbvm.rsp.replies import StopReasonKind
from xgdbvm.rsp.session import ReplyFormat
from xgdbvm.rsp.target_xml import MemoryRegion, MemoryType, ThreadEntry, memory_map_xml
from xgdbvm.rsp.target_xml import threads_xml as build_threads_xml
from xgdbvm.rsp.thread_id import ThreadId

THREAD = ThreadId(1)
TRIPLES = {"arm64": lldb.AARCH64_TRIPLE, "arm32": lldb.ARM_TRIPLE}
# How each shutdown reason reaches GDB: W (exited with a status) or X (killed by a signal).
SHUTDOWN_REPLIES: dict[ShutdownReason, tuple[str, int]] = {
    ShutdownReason.poweroff: ("W", 0),
    ShutdownReason.reboot: ("W", 1),
    ShutdownReason.suspend: ("W", 2),
    ShutdownReason.soft_reset: ("W", 5),
    ShutdownReason.crash: ("X", GdbSignal.ABRT),
    ShutdownReason.watchdog: ("X", GdbSignal.ALRM),
}

STOP_REPLIES_MAX = 64
SWBREAK = RspStopReason(StopReasonKind.SWBREAK)
HWBREAK = RspStopReason(StopReasonKind.HWBREAK)

# The signal of every stop reply but a shutdown's; the rest are SIGTRAP.
STOP_SIGNALS: dict[type, GdbSignal] = {
    HostInterrupt: GdbSignal.INT,
    MachineFault: GdbSignal.SEGV,
    GuestFault: GdbSignal.SEGV,
}
WATCH_TYPES = {
    BreakpointType.WRITE_WATCH: WatchKind.WRITE,
    BreakpointType.READ_WATCH: WatchKind.READ,
    BreakpointType.ACCESS_WATCH: WatchKind.ACCESS,
}


@dataclass(frozen=True)
class Reply:
    payload: bytes
    console: tuple[str, ...] = ()


class AddressSpace(Enum):
    """What addresses in m/M/X packets mean (``monitor mem``)."""

    VIRTUAL = "virtual"  # through the guest's current stage 1, as GDB expects
    IPA = "ipa"  # guest-physical, through the p2m only
    MACHINE = "machine"  # machine addresses (read-only)


@dataclass(frozen=True)
class Close:
    payload: bytes | None
    kill: bool = False  # reboot the guest from its image once the session is gone


Outcome = Reply | Resume | Close


@dataclass
class SessionBreakpoints:
    """What this session inserted, so it can be removed when the session ends."""

    code: dict[int, set[BreakpointType]] = field(default_factory=dict)
    watches: set[WatchRange] = field(default_factory=set)


class GdbTarget:
    def __init__(self, machine: Machine, console: ConsoleHistory) -> None:
        self.machine = machine
        self.console = console
        cpu = machine.cpu
        self.registers = RegisterMap(machine.config.arch, cpu.register_table(), cpu.read_regs)
        self.inserted = SessionBreakpoints()
        self.last_stop: StopReason | None = None
        # Stop replies by what makes them (stop type, reason, expedited register values)
        # for one reply format: stepping through a loop stops at the same few pcs.
        self._stop_replies: dict[tuple[object, ...], bytes] = {}
        self._stop_replies_format: ReplyFormat | None = None
        self.address_space = AddressSpace.VIRTUAL
        self._readers: dict[AddressSpace, Callable[[int, int], bytes]] = {
            AddressSpace.VIRTUAL: machine.debug_read,
            AddressSpace.IPA: machine.memory.read,
            AddressSpace.MACHINE: machine.memory.read_machine,
        }
        self._xs_conn: Connection | None = None
        # gdb reads the thread list at every stop; it only changes with the vCPU's state.
        self._threads_doc: tuple[tuple[str, ReplyFormat], bytes] | None = None
        self._handlers: dict[type, Callable[..., Outcome]] = {
            cmd.QueryHaltReason: self._halt_reason,
            cmd.ReadRegisters: self._read_registers,
            cmd.WriteRegisters: self._write_registers,
            cmd.ReadRegister: self._read_register,
            cmd.WriteRegister: self._write_register,
            cmd.ReadMemory: self._read_memory,
            cmd.WriteMemory: self._write_memory,
            cmd.Continue: lambda c, f: Resume(ResumeMode.CONTINUE),
            cmd.Step: lambda c, f: Resume(ResumeMode.STEP),
            cmd.VContQuery: lambda c, f: Reply(replies.vcont_actions("cCsSr")),
            cmd.VCont: self._vcont,
            cmd.InsertBreakpoint: self._insert,
            cmd.RemoveBreakpoint: self._remove,
            cmd.SetThread: self._set_thread,
            cmd.ThreadAlive: self._thread_alive,
            cmd.QueryCurrentThread: lambda c, f: Reply(replies.current_thread(THREAD, fmt=f)),
            cmd.QueryThreadInfoFirst: lambda c, f: Reply(replies.thread_list([THREAD], fmt=f)),
            cmd.QueryThreadInfoNext: lambda c, f: Reply(replies.thread_list([], fmt=f)),
            cmd.QueryThreadExtraInfo: self._thread_extra_info,
            cmd.ThreadsInfoJson: self._threads_json,
            cmd.QueryAttached: lambda c, f: Reply(replies.attached(True)),
            cmd.ReadXfer: self._xfer,
            cmd.QuerySymbol: lambda c, f: Reply(replies.ok()),
            cmd.MonitorCommand: self._monitor,
            cmd.QueryOffsets: lambda c, f: Reply(replies.empty()),
            cmd.QueryTraceStatus: lambda c, f: Reply(replies.empty()),
            cmd.QueryServerVersion: lambda c, f: Reply(replies.server_version("xgdbvm", "0.1")),
            cmd.QueryHostInfo: self._host_info,
            cmd.QueryProcessInfo: self._process_info,
            cmd.QueryRegisterInfo: self._register_info,
            cmd.Detach: lambda c, f: Close(replies.ok()),
            cmd.Kill: lambda c, f: Close(None, kill=True),
            cmd.VKill: lambda c, f: Close(replies.ok(), kill=True),
            cmd.CtrlC: lambda c, f: Reply(replies.ok()),
        }

    # -- dispatch -------------------------------------------------------------------

    def handle(self, command: cmd.Command, fmt: ReplyFormat) -> Outcome:
        handler = self._handlers.get(type(command))
        if handler is None:
            return Reply(replies.empty())
        return handler(command, fmt)

    def xenstore_connection(self) -> Connection:
        """This session's dom0 xenstore connection (monitor xs), opened on first use."""
        if self._xs_conn is None:
            self._xs_conn = self.machine.hypervisor.xenstored.connect()
        return self._xs_conn

    def end_session(self) -> None:
        """Remove everything this session inserted; the guest stays halted."""
        if self._xs_conn is not None:
            self.machine.hypervisor.xenstored.disconnect(self._xs_conn)
            self._xs_conn = None
        for address in self.inserted.code:
            self.machine.debug.remove_breakpoint(address)
        for watch in self.inserted.watches:
            self.machine.debug.remove_watchpoint(watch)
        self.inserted = SessionBreakpoints()

    # -- stops ----------------------------------------------------------------------

    def stop_reply(self, stop: StopReason, fmt: ReplyFormat) -> bytes:
        """The reply for a stop that just happened (also what ``?`` repeats later)."""
        self.last_stop = stop
        return self._encode_stop(stop, fmt)

    def _encode_stop(self, stop: StopReason | None, fmt: ReplyFormat) -> bytes:
        """``None`` is the plain SIGTRAP stop of a guest halted before anything ran."""
        if isinstance(stop, Shutdown):
            kind, value = SHUTDOWN_REPLIES.get(stop.reason, ("X", GdbSignal.TERM))
            return (
                replies.exited(value, fmt=fmt)
                if kind == "W"
                else replies.terminated(value, fmt=fmt)
            )
        stop_type = type(stop)
        reason_of = _STOP_REASONS.get(stop_type)
        reason = None if reason_of is None else reason_of(self, stop)
        values = self.registers.expedited_values()
        if fmt is not self._stop_replies_format:
            self._stop_replies.clear()
            self._stop_replies_format = fmt
        key = (stop_type, reason, values)
        reply = self._stop_replies.get(key)
        if reply is None:
            if len(self._stop_replies) >= STOP_REPLIES_MAX:
                self._stop_replies.clear()
            reply = self._stop_replies[key] = replies.stop(
                STOP_SIGNALS.get(stop_type, GdbSignal.TRAP),
                fmt=fmt,
                thread=THREAD,
                reason=reason,
                expedited=self.registers.encode_expedited(values),
            )
        return reply

    def _breakpoint_reason(self, stop: StopReason | None) -> RspStopReason:
        assert isinstance(stop, Breakpoint)
        types = self.inserted.code.get(stop.address)
        if types is None or BreakpointType.SOFTWARE in types:
            return SWBREAK
        return HWBREAK if BreakpointType.HARDWARE in types else SWBREAK

    def _watchpoint_reason(self, stop: StopReason | None) -> RspStopReason:
        assert isinstance(stop, Watchpoint)
        return RspStopReason(StopReasonKind(stop.kind), stop.address)

    def _halt_reason(self, command: cmd.QueryHaltReason, fmt: ReplyFormat) -> Outcome:
        return Reply(self._encode_stop(self.last_stop, fmt))

    # -- registers ------------------------------------------------------------------

    def _read_registers(self, command: cmd.ReadRegisters, fmt: ReplyFormat) -> Outcome:
        return Reply(replies.registers([self.registers.read_g()]))

    def _write_registers(self, command: cmd.WriteRegisters, fmt: ReplyFormat) -> Outcome:
        if not self.registers.write_g(command.data):
            return Reply(replies.error(ErrorCode.EINVAL, "wrong register block size", fmt=fmt))
        return Reply(replies.ok())

    def _read_register(self, command: cmd.ReadRegister, fmt: ReplyFormat) -> Outcome:
        reg = self.registers.by_number.get(command.regnum)
        if reg is None:
            return Reply(replies.error(ErrorCode.EINVAL, "no such register", fmt=fmt))
        return Reply(replies.register(reg.read_bytes()))

    def _write_register(self, command: cmd.WriteRegister, fmt: ReplyFormat) -> Outcome:
        reg = self.registers.by_number.get(command.regnum)
        if reg is None or not reg.write_bytes(command.value):
            return Reply(replies.error(ErrorCode.EINVAL, "register not writable", fmt=fmt))
        return Reply(replies.ok())

    # -- memory ---------------------------------------------------------------------

    def _reader(self) -> Callable[[int, int], bytes]:
        return self._readers[self.address_space]

    def _read_memory(self, command: cmd.ReadMemory, fmt: ReplyFormat) -> Outcome:
        try:
            data = self._reader()(command.address, command.length)
        except GuestMemoryFault:
            data = self._read_partial(command.address, command.length)
            if not data:
                return Reply(replies.error(ErrorCode.EFAULT, fmt=fmt))
        return Reply(replies.memory(data))

    def memory_unchanged(self, command: cmd.ReadMemory, payload: bytes) -> bool:
        """Whether ``command`` still reads as ``payload``, a reply it got before: the
        same read as ``m`` makes, without building a reply."""
        try:
            data = self._reader()(command.address, command.length)
        except GuestMemoryFault:
            return False
        return replies.memory(data) == payload

    def _read_partial(self, address: int, length: int) -> bytes:
        """The readable prefix of a range that runs into unmapped memory (a legal short read)."""
        page = 0x1000
        data = bytearray()
        while length > 0:
            chunk = min(length, page - (address % page))
            try:
                data += self._reader()(address, chunk)
            except GuestMemoryFault:
                break
            address += chunk
            length -= chunk
        return bytes(data)

    def _write_memory(self, command: cmd.WriteMemory, fmt: ReplyFormat) -> Outcome:
        if self.address_space is AddressSpace.MACHINE:
            return Reply(replies.error(ErrorCode.EPERM, "machine memory is read-only", fmt=fmt))
        try:
            if self.address_space is AddressSpace.IPA:
                self.machine.debug_write_physical(command.address, command.data)
            else:
                self.machine.debug_write(command.address, command.data)
        except GuestMemoryFault:
            return Reply(replies.error(ErrorCode.EFAULT, fmt=fmt))
        return Reply(replies.ok())

    # -- execution ------------------------------------------------------------------

    def _vcont(self, command: cmd.VCont, fmt: ReplyFormat) -> Outcome:
        # One vCPU: the first action that applies to thread 1 (or to all) decides.
        for action in command.actions:
            if (
                action.thread is not None
                and not action.thread.is_all
                and action.thread.tid
                not in (
                    THREAD.tid,
                    0,
                )
            ):
                continue
            if action.kind is cmd.ResumeKind.CONTINUE:
                return Resume(ResumeMode.CONTINUE)
            if action.kind is cmd.ResumeKind.STEP:
                return Resume(ResumeMode.STEP)
            if action.kind is cmd.ResumeKind.RANGE_STEP:
                return Resume(ResumeMode.RANGE_STEP, action.start or 0, action.end or 0)
            return Reply(replies.error(ErrorCode.EINVAL, "vCont;t needs non-stop mode", fmt=fmt))
        return Reply(replies.error(ErrorCode.EINVAL, "no action for thread 1", fmt=fmt))

    def _insert(self, command: cmd.InsertBreakpoint, fmt: ReplyFormat) -> Outcome:
        watch_kind = WATCH_TYPES.get(command.type)
        if watch_kind is not None:
            if command.kind <= 0:
                return Reply(replies.error(ErrorCode.EINVAL, "empty watch range", fmt=fmt))
            watch = WatchRange(command.address, command.kind, watch_kind)
            self.machine.debug.add_watchpoint(watch)
            self.inserted.watches.add(watch)
            return Reply(replies.ok())
        self.machine.debug.add_breakpoint(command.address)
        self.inserted.code.setdefault(command.address, set()).add(command.type)
        return Reply(replies.ok())

    def _remove(self, command: cmd.RemoveBreakpoint, fmt: ReplyFormat) -> Outcome:
        watch_kind = WATCH_TYPES.get(command.type)
        if watch_kind is not None:
            watch = WatchRange(command.address, command.kind, watch_kind)
            self.inserted.watches.discard(watch)
            self.machine.debug.remove_watchpoint(watch)
            return Reply(replies.ok())
        types = self.inserted.code.get(command.address, set())
        types.discard(command.type)
        if not types:
            self.inserted.code.pop(command.address, None)
            self.machine.debug.remove_breakpoint(command.address)
        return Reply(replies.ok())

    # -- threads --------------------------------------------------------------------

    def _known_thread(self, thread: ThreadId) -> bool:
        return thread.is_all or thread.is_any or thread.tid == THREAD.tid

    def _set_thread(self, command: cmd.SetThread, fmt: ReplyFormat) -> Outcome:
        if not self._known_thread(command.thread):
            return Reply(replies.error(ErrorCode.EINVAL, "no such thread", fmt=fmt))
        return Reply(replies.ok())

    def _thread_alive(self, command: cmd.ThreadAlive, fmt: ReplyFormat) -> Outcome:
        if command.thread.tid != THREAD.tid:
            return Reply(replies.error(ErrorCode.EINVAL, "no such thread", fmt=fmt))
        return Reply(replies.ok())

    def _thread_state(self) -> str:
        stop = self.last_stop
        return "powered off" if isinstance(stop, Shutdown) else "halted"

    def _thread_extra_info(self, command: cmd.QueryThreadExtraInfo, fmt: ReplyFormat) -> Outcome:
        return Reply(replies.thread_extra_info(f"vCPU 0 [{self._thread_state()}]"))

    def _threads_json(self, command: cmd.ThreadsInfoJson, fmt: ReplyFormat) -> Outcome:
        pc = self.registers.expedited[0]
        thread = lldb.JsonThread(
            tid=THREAD.tid,
            reason="signal",
            signal=GdbSignal.TRAP,
            registers={pc.numbered.regnum: pc.read_bytes()},
        )
        return Reply(lldb.threads_info([thread]))

    # -- queries --------------------------------------------------------------------

    def _xfer(self, command: cmd.ReadXfer, fmt: ReplyFormat) -> Outcome:
        documents: dict[tuple[str, str], Callable[[], bytes]] = {
            ("features", "target.xml"): lambda: self.registers.xml,
            ("memory-map", ""): self._memory_map,
            ("threads", ""): lambda: self._threads_document(fmt),
        }
        build = documents.get((command.object, command.annex))
        if build is None:
            return Reply(replies.error(ErrorCode.ENOENT, "no such document", fmt=fmt))
        return Reply(replies.xfer_chunk(build(), command.offset, command.length))

    def _threads_document(self, fmt: ReplyFormat) -> bytes:
        key = (self._thread_state(), fmt)
        if self._threads_doc is None or self._threads_doc[0] != key:
            entry = ThreadEntry(THREAD, name="vCPU 0", extra=key[0])
            self._threads_doc = (key, build_threads_xml([entry], fmt=fmt))
        return self._threads_doc[1]

    def _memory_map(self) -> bytes:
        regions: list[MemoryRegion] = []
        for extent in self.machine.memory.extents:
            start, length = extent.gfn << 12, extent.count << 12
            if regions and regions[-1].start + regions[-1].length == start:
                last = regions.pop()
                start, length = last.start, last.length + length
            regions.append(MemoryRegion(start, length, MemoryType.RAM))
        return memory_map_xml(regions)

    def _host_info(self, command: cmd.QueryHostInfo, fmt: ReplyFormat) -> Outcome:
        arch = self.machine.config.arch
        return Reply(lldb.host_info(TRIPLES[arch], ptrsize=self.machine.cpu.word_bytes))

    def _process_info(self, command: cmd.QueryProcessInfo, fmt: ReplyFormat) -> Outcome:
        arch = self.machine.config.arch
        return Reply(lldb.process_info(TRIPLES[arch], ptrsize=self.machine.cpu.word_bytes))

    def _register_info(self, command: cmd.QueryRegisterInfo, fmt: ReplyFormat) -> Outcome:
        return Reply(lldb.register_info(self.registers.description, command.regnum))

    def _monitor(self, command: cmd.MonitorCommand, fmt: ReplyFormat) -> Outcome:
        context = MonitorContext(machine=self.machine, console=self.console, target=self)
        output = run_monitor(context, command.text)
        return Reply(replies.ok(), console=(output,) if output else ())


# The stops whose replies say why (swbreak, hwbreak, watch...), and how to say it.
_STOP_REASONS: dict[type, Callable[[GdbTarget, StopReason | None], RspStopReason]] = {
    Breakpoint: GdbTarget._breakpoint_reason,
    Watchpoint: GdbTarget._watchpoint_reason,
}
