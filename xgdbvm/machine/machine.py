"""The machine: one vCPU, its memory and devices, the emulated Xen, and the run loop.

Free-running guest code has no Python hook per instruction or per block:
hypercalls and other synchronous exceptions arrive through UC_HOOK_INTR,
devices through mmio_map, and the instruction count in translated code (or a C
block hook on a stock libunicorn; see native/tick.c).
``run`` executes until something needs the caller (shutdown, a budget, a
host stop request, an idle guest or a fatal fault) and returns why, typed.

Threading: ``run`` is meant for a worker thread; ``request_stop`` is the only
method safe to call from another thread while it runs.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import unicorn

from xgdbvm.machine import mmu
from xgdbvm.machine.board import Board, Layout, MachineConfig
from xgdbvm.machine.cpu.base import BootState, Cpu, Excp
from xgdbvm.machine.debug import DebugHooks
from xgdbvm.machine.devices.generic_timer import TimerReg
from xgdbvm.machine.events import (
    ConsoleOutput,
    ConsoleSource,
    EventChannelNotify,
    ExceptionInjected,
    IrqAcknowledged,
    Lifecycle,
    MachineEvent,
    Observers,
    P2mChanged,
    XenstoreRequest,
)
from xgdbvm.machine.fastcalls import ExceptionHook
from xgdbvm.machine.hypercall_breaks import HypercallBreaks
from xgdbvm.machine.memory import PAGE_SIZE, GuestMemoryFault, PhysicalMemory
from xgdbvm.machine.mmu import Access
from xgdbvm.machine.stop import (
    BudgetExhausted,
    GuestFault,
    HostInterrupt,
    Idle,
    Shutdown,
    SingleStep,
    StopReason,
    Watchpoint,
)
from xgdbvm.machine.timekeeping import NS_PER_TICK, VirtualTime
from xgdbvm.machine.traps import Traps
from xgdbvm.machine.ucnative import CodeReader, InstructionClock, UncountedClock, emu_start
from xgdbvm.machine.walk_cache import WalkCache
from xgdbvm.machine.xen.backend_stress import POLL_INSTRUCTIONS as STRESS_POLL_INSTRUCTIONS
from xgdbvm.machine.xen.backend_stress import EventStress, stress_total
from xgdbvm.machine.xen.guest import FaultingGuestAccess
from xgdbvm.machine.xen.hypervisor import Hypervisor
from xgdbvm.machine.xen.memory_op import P2mChange
from xgdbvm.machine.xen.xenstore import Message, XsType

log = logging.getLogger("xgdbvm.machine")

ARCHES = ("arm64", "arm32")
# emu_start's "until": an address no instruction can start at (odd, top of the space).
NEVER = {"arm64": 0xFFFF_FFFF_FFFF_FFFF, "arm32": 0xFFFF_FFFF}
UART_LINE_MAX = 256
STAGE2_FAULT_HISTORY = 64
IDLE_SLICE_NS = 50_000_000
FAST_MIN_SLICE_NS = 200_000
FAST_UNMASK_STEPS = 64  # an idle guest re-checks host work at least this often
IDLE_WITHOUT_DEADLINE_NS = 1_000_000_000
COUNTED_RUN_MAX = 4096  # instructions: a run this short keeps Unicorn's count hook


class ConsoleBuffer:
    """Collects UART bytes into lines so observers see text, not one event per byte."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self._emit = emit
        self._pending = bytearray()

    def write(self, data: bytes) -> None:
        self._pending += data
        if b"\n" in data or len(self._pending) >= UART_LINE_MAX:
            self.flush()

    def flush(self) -> None:
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            self._emit(data)


class _CpuIrqInput:
    """The GIC's nIRQ output into the vCPU: a rising level ends the slice so the
    interrupt is taken at the next instruction boundary."""

    def __init__(self, machine: Machine) -> None:
        self._machine = machine

    def set_level(self, level: bool) -> None:
        if level:
            self._machine.kick()


def _new_cpu(arch: str) -> Cpu:
    # Only the guest's architecture is imported: each CPU module builds its register
    # tables at import, a cost a run of the other architecture need not pay.
    match arch:
        case "arm64":
            from xgdbvm.machine.cpu.arm64 import Arm64Cpu

            return Arm64Cpu()
        case "arm32":
            from xgdbvm.machine.cpu.arm32 import Arm32Cpu

            return Arm32Cpu()
    raise ValueError(f"unknown arch {arch!r}")


class Machine(Traps):
    def __init__(self, config: MachineConfig) -> None:
        if config.arch not in ARCHES:
            raise ValueError(f"unknown arch {config.arch!r}")
        self.config = config
        self.observers = Observers()
        self.cpu = _new_cpu(config.arch)
        self.uc = self.cpu.uc
        self.memory = PhysicalMemory(self.uc)
        self._uart_console = ConsoleBuffer(lambda data: self._console(ConsoleSource.UART, data))
        self._kicked = False
        self._posted: deque[Callable[[], None]] = deque()
        self._wakeup = threading.Event()
        # Sleep through idle time instead of skipping it (servers with host inputs).
        self.idle_pacing = False
        self.board = Board(
            config,
            self.cpu,
            self.memory,
            self._uart_console,
            _CpuIrqInput(self),
            self._refresh_upcall,
            self._irq_acknowledged,
        )
        # --fast trades determinism for speed: no instruction count, host-clock time.
        self.clock: InstructionClock | UncountedClock = (
            UncountedClock(self.uc)
            if config.fast
            else InstructionClock(self.uc, *self.cpu.irq_mask)
        )
        self.time = VirtualTime(self.clock, realtime=config.realtime or config.fast)
        self.guest = FaultingGuestAccess(self.read_virtual, self.write_virtual)
        self.hypervisor = Hypervisor(
            config.domain,
            config.arch,
            self.board.layout.hypervisor.version,
            self.guest,
            lambda line: self._console(ConsoleSource.XEN, line),
            self.memory,
            self.board.initial_extents,
            self._p2m_changed,
            raise_upcall=lambda vcpu: self._refresh_upcall(),
            clock_ns=self.time.now_ns,
            event_ppi=self.board.layout.hypervisor.event_intid,
            post=self.post,
            pv_console_output=lambda data: self._console(ConsoleSource.PV, data),
            memory_kib=config.memory // 1024,
            xenstore_observer=self._xenstore_request,
        )
        self._event_ppi = self.board.layout.hypervisor.event_intid
        self.hypervisor.backend.on_notify = self._dom0_notified
        self.hypercall_breaks = HypercallBreaks(
            self.cpu, self.hypervisor.dispatcher, self._record_stop
        )
        total = stress_total(self.board.bootargs)
        self.stress = (
            None
            if total is None
            else EventStress(self.hypervisor.backend, self.hypervisor.evtchn, total)
        )
        self._never = NEVER[config.arch]
        self._stop: StopReason | None = None
        self.last_stop: StopReason | None = None
        self.stage2_faults: deque[GuestFault] = deque(maxlen=STAGE2_FAULT_HISTORY)
        self.catch_stage2_faults = False
        self._pending_abort: GuestFault | None = None
        self._host_stop = threading.Event()
        self._unmapped: tuple[str, int, int] | None = None
        self._traps: dict[int, Callable[[], None]] = {
            Excp.HVC: self._on_hvc,
            Excp.SMC: self._on_smc,
            Excp.SWI: self._on_svc,
            Excp.UDEF: self._on_udef,
            Excp.BKPT: self._on_bkpt,
        }
        self.debug = DebugHooks(self.uc, lambda: self.cpu.pc, self._record_stop)
        self.code = CodeReader(self.uc)
        self.exceptions = ExceptionHook(
            self.uc,
            hvc_intno=Excp.HVC,
            arm32=config.arch == "arm32",
            regs=self.cpu.hypercall_trap_regs,
            result_reg=self.cpu.hypercall_abi.result,
            counter_address=self.clock.counter_address,
            slow=self._on_exception,
        )
        self.exceptions.load(self.hypervisor.dispatcher.constant_calls())
        self._vcpu_thread = threading.get_ident()  # whichever thread last ran the vCPU
        self._walks = WalkCache(self._read_table)  # stage-1 walks, kept and checked
        self._counting = False  # whether Unicorn has its instruction-count hook in
        self.uc.hook_add(unicorn.UC_HOOK_MEM_INVALID, self._on_unmapped)
        self.cpu.hook_system_registers(self._read_sysreg, self._write_sysreg)
        self.boot_state: BootState = self.board.load()
        self.cpu.reset(self.boot_state)
        for segment in self.board.layout.image.segments:
            self.cpu.scan_code(segment.address, segment.data)
        self.note_lifecycle("boot", f"{config.arch} {self.board.layout.image.path}")

    # -- public -----------------------------------------------------------------

    @property
    def layout(self) -> Layout:
        return self.board.layout

    def reset(self) -> None:
        """Reboot the guest from its image: memory, devices, vCPU and Xen state."""
        self._drain_fast_calls()
        self.hypervisor.reset()
        if self.stress is not None:
            self.stress.reset()
        self.clock.reset()
        self.time.reset()
        self._stop = None
        self.last_stop = None
        self._pending_abort = None
        self._walks.clear()
        self.stage2_faults.clear()
        self._host_stop.clear()
        self.boot_state = self.board.load()
        self.cpu.reset(self.boot_state)
        self._emit(Lifecycle(kind="reset"))

    def note_lifecycle(self, kind: str, detail: str = "", *, defer: bool = False) -> None:
        """A lifecycle event (boot, reset, a debugger's stop and resume) for observers.

        ``defer``: handed to them before the next event, or at ``flush_notes``, with the
        pc and count of now: a debugger notes its resume without delaying the run."""
        pc, icount = self.cpu.pc, self.clock.instructions
        if not defer:
            self._emit(Lifecycle(kind=kind, detail=detail, pc=pc, icount=icount))
            return
        self._drain_first()
        if self.observers:
            # Built when it goes out: a step's resume note costs a closure, not an event.
            self.observers.defer(
                functools.partial(Lifecycle, kind=kind, detail=detail, pc=pc, icount=icount)
            )

    def flush_notes(self) -> None:
        """Hand observers the deferred lifecycle events now."""
        self.observers.flush()

    def request_stop(self) -> None:
        """Ask a running (or the next) ``run`` to return HostInterrupt. Thread-safe."""
        self._host_stop.set()
        self._wakeup.set()
        self.clock.stop_soon()

    def step(self) -> StopReason:
        """Execute one instruction (ignoring a breakpoint or watchpoint on it); SingleStep
        unless the instruction itself ended the run (a shutdown, a fault)."""
        self._stop = None
        self.clock.set_deadline(None)
        self._take_vcpu()
        if self._pending_abort is not None:
            # Stepping from a caught stage-2 fault: the step is the abort's entry.
            self._inject_stage2_abort(self._pending_abort)
            self._pending_abort = None
            return self._finish(SingleStep())
        self.debug.skip_once_at(self.cpu.pc)  # a breakpoint or watchpoint on it: pass
        try:
            self._execute(count=1)
        except unicorn.UcError as error:
            return self._finish(self._emulation_error(error) or SingleStep())
        return self._finish(self._stop or SingleStep())

    def _execute(self, *, count: int = 0, timeout_us: int = 0) -> None:
        """Run Unicorn from the vCPU's pc (``count`` > 0: at most that many instructions).

        Unicorn counts with a code hook it adds at the first counted start and keeps,
        and drops (flushing all translated code) at the first uncounted one. Code
        translated while the hook was absent has no call to it, so counting starts
        with a flush too: else a step after a continue ran on to the end of a block.
        """
        if count and not self._counting:
            self.uc.ctl_flush_tb()
        self._counting = count > 0
        self.cpu.hold_system_registers(False)
        try:
            emu_start(self.uc, self.cpu.resume_address(), self._never, timeout_us, count)
        finally:
            self.cpu.hold_system_registers(True)
            # After the run, not before: a walk its hypercalls checked may be stale now.
            self._walks.recheck()

    def _take_vcpu(self) -> None:
        """Before the vCPU runs (or steps) on the calling thread."""
        self._vcpu_thread = threading.get_ident()  # the one that drains native calls
        # A hypercall breakpoint must see every call: none answered natively then.
        self.exceptions.enabled = not self.hypercall_breaks

    def consume_stop_request(self) -> bool:
        """True (once) if a host stop was requested since the last run began."""
        if self._host_stop.is_set():
            self._host_stop.clear()
            return True
        return False

    def run(self, max_instructions: int | None = None, *, wait_idle: bool = True) -> StopReason:
        """Run until a stop. ``wait_idle=False``: return Idle rather than wait in host
        time for an idle guest's wake-up (the WFI then returns early, as it may)."""
        deadline = None if max_instructions is None else self.clock.instructions + max_instructions
        # A short run keeps Unicorn's instruction count on: dropping it (count 0) makes
        # Unicorn flush every translated block, ~150 us, which a debugger alternating
        # steps (which need it) and short continues would otherwise pay at each one.
        counted_until = (
            deadline
            if max_instructions is not None and max_instructions <= COUNTED_RUN_MAX
            else None
        )
        if counted_until is None:
            self.debug.drop_parked()
        self._take_vcpu()
        if self._pending_abort is not None:
            self._inject_stage2_abort(self._pending_abort)
            self._pending_abort = None
        pc = self.cpu.pc
        if isinstance(self.last_stop, Watchpoint) and self.debug.watchpoints:
            # The access we stopped at runs again: step over it with the watchpoint quiet.
            stop = self.step()
            if not isinstance(stop, SingleStep):
                return stop
        elif pc in self.debug.breakpoints:
            # Let the breakpoint we stand on pass once. Cheaper than a one-instruction
            # step, which makes Unicorn drop every translated block afterwards.
            self.debug.skip_once_at(pc)
        self._stop = None
        while True:
            if self._host_stop.is_set():
                self._host_stop.clear()
                return self._finish(HostInterrupt())
            now = self._sync_devices()
            self._deliver_irq()
            limits = [] if deadline is None else [deadline]
            if self.stress is not None and self.stress.active:
                limits.append(self.clock.instructions + STRESS_POLL_INSTRUCTIONS)
            next_tick = self.board.timer.next_deadline(now)
            if next_tick is not None:
                limits.append(self.clock.instructions + self.time.instructions_until(next_tick))
            # Pending but masked: the clock stops at the first unmasked block start.
            self.clock.watch_irq_window(self.board.gic.irq_pending(0))
            self.clock.set_deadline(min(limits) if limits else None)
            self._kicked = False
            if self._posted or self._host_stop.is_set():
                self.clock.stop_soon()  # arrived while the deadline was being set
            try:
                if self.config.fast:
                    self._fast_slice(deadline, next_tick)
                else:
                    left = (
                        0
                        if counted_until is None
                        else max(1, counted_until - self.clock.instructions)
                    )
                    self._execute(count=left)
            except unicorn.UcError as error:
                fault = self._emulation_error(error)
                if fault is not None:
                    return self._finish(fault)
                continue
            if self._stop is not None:
                return self._finish(self._stop)
            if deadline is not None and self.clock.instructions >= deadline:
                return self._finish(BudgetExhausted(self.clock.instructions))
            if (
                self.clock.deadline_hit
                or self.clock.irq_window_opened
                or self._kicked
                or self._host_stop.is_set()
                or (self.config.fast and not self.cpu.after_wfi(self._fetch))
            ):
                continue
            # emu_start returned on its own: the guest executed WFI.
            now = self._sync_devices()
            if self.board.gic.irq_pending(0):
                # WFI wakes for a pending interrupt, masked or not. Without the clock
                # (--fast) nothing sees the unmask that follows: walk to it by steps.
                if self.config.fast and self.cpu.interrupts_masked():
                    self._step_until_unmasked()
                continue
            wake = self.board.timer.next_deadline(now)
            if (wake is None and not self.idle_pacing) or (self.idle_pacing and not wait_idle):
                return self._finish(Idle(self.cpu.pc))
            if self.idle_pacing:
                self._pace_idle(wake)
            else:
                self.time.skip_to(wake)  # type: ignore[arg-type]

    def _fast_slice(self, budget: int | None, next_tick: int | None) -> None:
        """One slice of a --fast run: bounded by host time, not by counted instructions."""
        timeout_ns = 0
        if next_tick is not None:
            timeout_ns = max(FAST_MIN_SLICE_NS, next_tick * NS_PER_TICK - self.time.now_ns())
        if self.board.gic.irq_pending(0) or (self.stress is not None and self.stress.active):
            timeout_ns = FAST_MIN_SLICE_NS  # poll for the unmask, or feed the backend
        count = 0 if budget is None else budget  # a budget costs Unicorn's per-insn count
        self._execute(count=count, timeout_us=timeout_ns // 1000)

    def _step_until_unmasked(self) -> None:
        for _ in range(FAST_UNMASK_STEPS):
            self._execute(count=1)
            if self._stop is not None or not self.cpu.interrupts_masked():
                return

    def _sync_devices(self) -> int:
        """Bring time-driven lines up to date; returns the counter value."""
        self._drain_fast_calls()
        self.run_posted()
        now = self.time.counter()
        self.board.timer.update(now)
        if self.stress is not None:
            self.stress.poll()
        self._refresh_upcall()
        return now

    def _deliver_irq(self) -> None:
        if self.board.gic.irq_pending(0) and not self.cpu.interrupts_masked():
            pc = self.cpu.pc
            self.cpu.inject_irq()
            if self.observers:
                self._emit(ExceptionInjected(kind="irq", pc=pc, icount=self.clock.instructions))

    def _refresh_upcall(self) -> None:
        """The event PPI follows vcpu_info.evtchn_upcall_pending (re-evaluated at every
        exit, as Xen's newer vGIC does): the guest clears the byte itself, so the line
        drops by the time it writes GICC_EOIR."""
        self.board.gic.set_irq(self._event_ppi, self.hypervisor.evtchn.upcall_pending(0))

    def _pace_idle(self, wake: int | None) -> None:
        """Idle for real: sleep until the timer deadline or until the host posts work
        (a xenstore write, console input), so a guest waiting on the host is not
        timed out by virtual time racing ahead. Virtual time still lands exactly on
        the deadline when nothing arrived first."""
        delay_ns = IDLE_WITHOUT_DEADLINE_NS
        if wake is not None:
            delay_ns = max(0, wake * NS_PER_TICK - self.time.now_ns())
        started = time.monotonic_ns()
        woken = self._wakeup.wait(min(delay_ns, IDLE_SLICE_NS) / 1e9)
        self._wakeup.clear()
        slept = time.monotonic_ns() - started
        if wake is not None and not woken and slept >= delay_ns:
            self.time.skip_to(wake)
        else:
            self.time.idle_ns += min(slept, delay_ns)

    def post(self, work: Callable[[], None]) -> None:
        """Run ``work`` on the machine's thread at its next instruction boundary
        (now, if it is halted there is no other thread to wait for). Thread-safe."""
        self._posted.append(work)
        self._wakeup.set()
        self.kick()

    def run_posted(self) -> None:
        while self._posted:
            self._posted.popleft()()

    def kick(self) -> None:
        """Leave the current slice at the next block boundary (a line changed)."""
        self._kicked = True
        self.clock.stop_soon()

    def _read_sysreg(self, reg: TimerReg) -> int:
        return self.board.timer.read(reg, self.time.counter())

    def _write_sysreg(self, reg: TimerReg, value: int) -> None:
        self.board.timer.write(reg, value, self.time.counter())
        self.kick()  # a new deadline, or a line that is already up

    # -- guest memory as the vCPU sees it ----------------------------------------

    def debug_write(self, va: int, data: bytes) -> None:
        """A debugger's write: also drops translated code for the range, which a
        write straight into shared RAM would otherwise leave stale."""
        spans = self._virtual_spans(va, len(data), None)
        self._walks.recheck()  # the bytes may be page tables
        done = 0
        for ipa, length in spans:
            self.memory.write(ipa, data[done : done + length])
            # Unicorn's cache removal takes the guest-virtual address and walks it itself.
            self.uc.ctl_remove_cache(va + done, va + done + length)
            done += length

    def debug_write_physical(self, ipa: int, data: bytes) -> None:
        """A debugger's write to guest-physical memory: the bytes may be code, so
        translated code goes too, and kept translations are checked again."""
        self.memory.write(ipa, data)
        self._walks.recheck()
        self.uc.ctl_flush_tb()

    def debug_read(self, va: int, size: int) -> bytes:
        """A debugger's read: translation without permission checks."""
        return self.read_virtual(va, size, None)

    def translate(self, va: int) -> mmu.Translation:
        """The guest's stage-1 walk of ``va`` with its current MMU registers."""
        return mmu.translate(self.cpu.translation_regime(), self._read_table, va)

    def stage1_map(self) -> mmu.PageTableMap | None:
        """The guest's whole stage-1 map as merged ranges; None while its MMU is off."""
        regime = self.cpu.translation_regime()
        return mmu.mappings(regime, self._read_table) if regime.enabled else None

    def _read_table(self, ipa: int, size: int) -> bytes:
        try:
            return self.memory.read(ipa, size)
        except GuestMemoryFault:
            raise mmu.PhysicalReadError(ipa, size) from None

    def virtual_to_ipa(self, va: int, access: Access | None = None) -> int:
        """Stage 1 as the vCPU would do it; with ``access``, its permissions too
        (hypercall copies use the guest kernel's rights, a debugger's use none)."""
        regime = self.cpu.translation_regime()
        if not regime.enabled:
            return va
        return self._stage1(regime, va, access)

    def _stage1(self, regime: mmu.Regime, va: int, access: Access | None) -> int:
        """The IPA of ``va``; ``access`` None is a debugger's (no permissions, and a
        walk checked since the guest last ran is trusted: see walk_cache.py)."""
        walk, page = self._walks.lookup(regime, va, trust_checked=access is None)
        fault = walk.fault
        if fault is None and access is not None:
            fault = mmu.check(walk, access, privileged=self.cpu.privileged())
        if fault is not None:
            kind = fault.kind.name.lower().replace("_", " ")  # "access flag", "permission"
            raise GuestMemoryFault(va, 1, f"stage 1 {kind} fault at level {fault.level}")
        if page is None:
            raise GuestMemoryFault(va, 1, "no IPA")
        return page | (va & (PAGE_SIZE - 1))

    def _virtual_spans(self, va: int, size: int, access: Access | None) -> list[tuple[int, int]]:
        """(ipa, length) pieces of a virtual range, split at 4 KiB pages."""
        if not self.cpu.mmu_enabled():
            return [(va, size)]
        regime = self.cpu.translation_regime()
        spans = []
        while size > 0:
            length = min(size, PAGE_SIZE - (va & (PAGE_SIZE - 1)))
            spans.append((self._stage1(regime, va, access), length))
            va += length
            size -= length
        return spans

    def read_virtual(self, va: int, size: int, access: Access | None = Access.READ) -> bytes:
        if not self.cpu.mmu_enabled():
            return self.memory.read(va, size)
        spans = self._virtual_spans(va, size, access)
        return b"".join(self.memory.read(ipa, n) for ipa, n in spans)

    def write_virtual(self, va: int, data: bytes, access: Access | None = Access.WRITE) -> None:
        done = 0
        for ipa, length in self._virtual_spans(va, len(data), access):
            self.memory.write(ipa, data[done : done + length])
            done += length

    # -- internals ------------------------------------------------------------------

    def _finish(self, reason: StopReason) -> StopReason:
        self._drain_fast_calls()
        self.last_stop = reason
        self.debug.skip_once_at(None)
        self._uart_console.flush()
        if isinstance(reason, Shutdown):
            self._emit(
                Lifecycle(
                    kind="shutdown",
                    detail=reason.reason.name,
                    pc=self.cpu.pc,
                    icount=self.clock.instructions,
                )
            )
        return reason

    def _emit(self, event: MachineEvent) -> None:
        self._drain_first()
        if self.observers:
            self.observers.emit(event)

    def _drain_first(self) -> None:
        """Hand observers the natively answered calls before an event that follows them."""
        if self.exceptions.pending and threading.get_ident() == self._vcpu_thread:
            # Only the vCPU's own thread drains: a host request emitted from the server's
            # thread while the guest runs would otherwise number the batch after the
            # guest's later slow-path calls.
            self._drain_fast_calls()

    def _drain_fast_calls(self) -> None:
        batch = self.exceptions.drain()
        if batch is None:
            return
        self.hypervisor.dispatcher.stats.calls.update(batch.counts())
        if self.observers:
            self.observers.emit_batch(batch)

    def _p2m_changed(self, change: P2mChange) -> None:
        self._emit(
            P2mChanged(
                op=change.op,
                gfn=change.gfn,
                count=change.count,
                detail=change.detail,
                pc=self.cpu.pc,
                icount=self.clock.instructions,
            )
        )

    def _irq_acknowledged(self, intid: int) -> None:
        if self.observers:
            self._emit(IrqAcknowledged(intid=intid, pc=self.cpu.pc, icount=self.clock.instructions))

    def _dom0_notified(self, port: int) -> None:
        if self.observers:
            self._emit(
                EventChannelNotify(port=port, pc=self.cpu.pc, icount=self.clock.instructions)
            )

    def _xenstore_request(
        self, domid: int, from_guest: bool, request: Message, reply: Message
    ) -> None:
        if not self.observers:
            return
        path, _, rest = request.payload.partition(b"\0")
        error = None
        if reply.msg_type == XsType.ERROR:
            error = reply.payload.rstrip(b"\0").decode(errors="replace")
        kind = request.kind
        # A host request (the socket) may come from the server's thread while the vCPU
        # runs on another: its registers are not ours to read then, and a host request
        # has no guest pc anyway. Only the guest's own requests carry one.
        pc = self.cpu.pc if from_guest else 0
        self._emit(
            XenstoreRequest(
                domid=domid,
                type=kind.name if kind is not None else str(request.msg_type),
                path=path.decode(errors="replace"),
                value=rest.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")[:256],
                reply=reply.payload.replace(b"\0", b" ").decode(errors="replace")[:256],
                error=error,
                pc=pc,
                icount=self.clock.instructions,
            )
        )

    def _console(self, source: ConsoleSource, data: bytes) -> None:
        self._emit(
            ConsoleOutput(source=source, data=data, pc=self.cpu.pc, icount=self.clock.instructions)
        )
