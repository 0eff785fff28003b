"""The vCPU's synchronous exceptions: hypercalls, SMCCC calls, and what Xen injects.

With an interrupt hook installed Unicorn delivers no exception to the guest, so
every one arrives here (UC_HOOK_INTR, or an unmapped access through
UC_HOOK_MEM_INVALID) and is either served (a Xen hypercall on ``hvc #0xEA1``,
SMCCC on ``hvc #0`` or ``smc``) or entered into the guest's vectors by hand the
way the architecture and Xen would (undef, SVC, BRK/BKPT, stage-2 aborts).

``Traps`` is a mixin of ``Machine``: it reaches the machine's CPU, hypervisor,
clock and observers, and nothing else.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import unicorn

from xgdbvm.machine.cpu.base import Cpu
from xgdbvm.machine.events import (
    ExceptionInjected,
    HypercallEnter,
    HypercallExit,
    MachineEvent,
    Observers,
    SmcccCall,
    Stage2Fault,
)
from xgdbvm.machine.hypercall_breaks import HypercallBreaks
from xgdbvm.machine.memory import GuestMemoryFault, PhysicalMemory
from xgdbvm.machine.mmu import Access
from xgdbvm.machine.stop import GuestFault, MachineFault, Shutdown, StopReason
from xgdbvm.machine.ucnative import CodeReader, InstructionClock, UncountedClock
from xgdbvm.machine.xen.abi import XEN_HYPERCALL_TAG
from xgdbvm.machine.xen.errno import errno_name
from xgdbvm.machine.xen.hypercall import hypercall_name
from xgdbvm.machine.xen.hypervisor import Hypervisor

log = logging.getLogger("xgdbvm.machine")

SMCCC_IMMEDIATE = 0
UNMAPPED_ACCESS = {
    unicorn.UC_MEM_FETCH_UNMAPPED: "fetch",
    unicorn.UC_MEM_FETCH_PROT: "fetch",
    unicorn.UC_MEM_WRITE_UNMAPPED: "write",
    unicorn.UC_MEM_WRITE_PROT: "write",
    unicorn.UC_MEM_READ_UNMAPPED: "read",
    unicorn.UC_MEM_READ_PROT: "read",
}


class Traps:
    cpu: Cpu
    uc: unicorn.Uc
    memory: PhysicalMemory
    clock: InstructionClock | UncountedClock
    code: CodeReader
    hypervisor: Hypervisor
    observers: Observers
    hypercall_breaks: HypercallBreaks
    stage2_faults: deque[GuestFault]
    catch_stage2_faults: bool
    _stop: StopReason | None
    _pending_abort: GuestFault | None
    _unmapped: tuple[str, int, int] | None
    _traps: dict[int, Callable[[], None]]  # exception number -> handler

    def _emit(self, event: MachineEvent) -> None:
        raise NotImplementedError

    def read_virtual(self, va: int, size: int, access: Access | None = Access.READ) -> bytes:
        raise NotImplementedError

    def virtual_to_ipa(self, va: int, access: Access | None = None) -> int:
        raise NotImplementedError

    def _drain_fast_calls(self) -> None:
        raise NotImplementedError

    def _on_exception(self, intno: int) -> None:
        self._drain_fast_calls()  # calls answered natively came first
        handler = self._traps.get(intno)
        if handler is None:
            self._fatal(f"unhandled CPU exception {intno} at {self.cpu.describe_state()}")
            return
        try:
            handler()
        except Exception as error:
            # A bug in the model, not the guest's doing: stop with it rather than lose
            # it inside the native hook.
            log.exception("exception %d at %#x: handler failed", intno, self.cpu.pc)
            self._fatal(f"internal error handling CPU exception {intno}: {error!r}")

    def _record_stop(self, reason: StopReason) -> None:
        if self._stop is None:
            self._stop = reason

    def _fatal(self, message: str) -> None:
        self._stop = MachineFault(message)
        self.uc.emu_stop()

    def _fetch(self, va: int, size: int) -> bytes:
        code = self.code.read(va, size)
        if code is not None:
            return code
        try:
            return self.read_virtual(va, size)
        except GuestMemoryFault:
            return bytes(size)

    def _on_hvc(self) -> None:
        imm = self.cpu.trap_immediate(self._fetch)
        if imm == XEN_HYPERCALL_TAG:
            self._hypercall()
        elif imm == SMCCC_IMMEDIATE:
            self._smccc("hvc")
        else:
            self._inject_undef(self.cpu.pc - 4, f"hvc #{imm:#x}" if imm is not None else "hvc")

    def _on_smc(self) -> None:
        # Xen traps SMC (HCR.TSC) and serves it as an SMCCC call like HVC #0.
        if self.cpu.trap_immediate(self._fetch) == SMCCC_IMMEDIATE:
            self._smccc("smc")
        else:
            self._inject_undef(self.cpu.pc - 4, "smc with a non-zero immediate")

    def _on_svc(self) -> None:
        imm = self.cpu.trap_immediate(self._fetch) or 0
        self.cpu.inject_svc(imm)

    def _on_udef(self) -> None:
        self._inject_undef(self.cpu.pc, "undefined instruction")

    def _on_bkpt(self) -> None:
        pc = self.cpu.pc
        self.cpu.inject_breakpoint(pc, 0)
        self._emit(ExceptionInjected(kind="breakpoint", detail=f"at {pc:#x}", pc=pc))

    def _inject_undef(self, address: int, why: str) -> None:
        self.cpu.inject_undef(address)
        self._emit(
            ExceptionInjected(kind="undef", detail=why, pc=address, icount=self.clock.instructions)
        )

    def _hypercall(self) -> None:
        abi = self.cpu.hypercall_abi
        cpu = self.cpu
        number, *rest = cpu.read_regs(abi.number_and_args)
        args = tuple(rest)
        pc = cpu.pc - 4
        icount = self.clock.instructions
        if self.hypercall_breaks.stop_at_entry(number, args, pc):
            return
        if self.observers:
            self._emit(
                HypercallEnter(
                    number=number, name=hypercall_name(number), args=args, pc=pc, icount=icount
                )
            )
        call, ret = self.hypervisor.hypercall(number, args)
        cpu.write_reg(abi.result, ret)
        if self.observers:
            self._emit(
                HypercallExit(
                    number=number,
                    name=call.name,
                    subop=call.subop,
                    ret=ret,
                    errno=errno_name(ret),
                    note=call.note,
                    fields=call.fields,
                    pc=pc,
                    icount=icount,
                )
            )
        self._check_shutdown()

    def _smccc(self, via: str) -> None:
        abi = self.cpu.smccc_abi
        args = tuple(self.cpu.read_reg(reg) for reg in abi.args)
        result = self.hypervisor.smccc_call(args)
        for reg, value in zip(abi.args, result.values, strict=False):
            self.cpu.write_reg(reg, value)
        self._emit(
            SmcccCall(
                function_id=args[0] & 0xFFFF_FFFF,
                name=result.name,
                args=args[1:4],
                ret=result.values[0],
                pc=self.cpu.pc - 4,
                icount=self.clock.instructions,
            )
        )
        self._check_shutdown()

    def _check_shutdown(self) -> None:
        state = self.hypervisor.state
        if state.shutdown is not None:
            self._stop = Shutdown(state.shutdown, state.shutdown_via)
            self.uc.emu_stop()

    def _on_unmapped(
        self, uc: unicorn.Uc, access: int, address: int, size: int, value: int, data: object
    ) -> bool:
        kind = (
            "fetch"
            if access == unicorn.UC_MEM_FETCH_UNMAPPED
            else ("write" if access == unicorn.UC_MEM_WRITE_UNMAPPED else "read")
        )
        self._unmapped = (kind, address, size)
        return False

    def _emulation_error(self, error: unicorn.UcError) -> StopReason | None:
        """A Unicorn error: a stage-2 fault the guest receives as an abort (None: go on),
        or a fault to report (caught for the debugger, or one no model explains)."""
        if self._unmapped is None:
            return MachineFault(f"emulation error: {error} ({self.cpu.describe_state()})")
        access, address, size = self._unmapped
        self._unmapped = None
        pc = self.cpu.pc
        va = pc if access == "fetch" else address
        try:
            ipa: int | None = self.virtual_to_ipa(va)
        except GuestMemoryFault:
            ipa = None
        why = (
            "no p2m entry"
            if ipa is None or self.memory.lookup(ipa >> 12) is None
            else ("read-only in the p2m")
        )
        fault = GuestFault(access, va, ipa, pc, why)
        self.stage2_faults.append(fault)
        self._emit(
            Stage2Fault(
                access=access,
                va=va,
                ipa=ipa,
                size=size,
                why=why,
                pc=pc,
                icount=self.clock.instructions,
            )
        )
        if self.catch_stage2_faults:
            self._pending_abort = fault
            return fault
        self._inject_stage2_abort(fault)
        return None

    def _inject_stage2_abort(self, fault: GuestFault) -> None:
        syndrome = self.cpu.inject_abort(fault.access == "fetch", fault.va, fault.pc)
        kind = "prefetch-abort" if fault.access == "fetch" else "data-abort"
        self._emit(
            ExceptionInjected(
                kind=kind,
                detail=f"stage 2 {fault.access} va={fault.va:#x} syndrome={syndrome:#x}",
                pc=fault.pc,
                icount=self.clock.instructions,
            )
        )
