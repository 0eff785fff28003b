"""What the machine needs from an architecture: one implementation per arch.

The run loop, the hypercall dispatcher and the board are written once against
this protocol; everything that differs between AArch64 and AArch32 (register
names, reset state, how a trap's immediate is found, how an exception is
entered by hand) lives in one class per arch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

import unicorn

from xgdbvm.machine.devices.generic_timer import TimerReg
from xgdbvm.machine.mmu import Regime


class Excp(IntEnum):
    """QEMU's exception numbers, as Unicorn passes them to UC_HOOK_INTR.

    With an interrupt hook installed Unicorn delivers none of these to the
    guest itself: every synchronous exception arrives here and the machine
    must enter the guest's vector by hand (or the instruction re-executes).
    """

    UDEF = 1
    SWI = 2
    PREFETCH_ABORT = 3
    DATA_ABORT = 4
    IRQ = 5
    FIQ = 6
    BKPT = 7
    EXCEPTION_EXIT = 8
    KERNEL_TRAP = 9
    HVC = 11
    HYP_TRAP = 12
    SMC = 13
    VIRQ = 14
    VFIQ = 15
    SEMIHOST = 16


Fetch = Callable[[int, int], bytes]


@dataclass(frozen=True)
class RegisterAccess:
    """One architectural register as a debugger sees it, by its usual name.

    ``write`` is None for registers a debugger may read but not change
    (CurrentEL). The adapter maps GDB's register numbers onto these names.
    ``core_id`` is set for a plain integer register that ``read_regs`` can read
    together with others (the registers of every stop reply).
    """

    name: str
    bits: int
    read: Callable[[], int]
    write: Callable[[int], None] | None
    core_id: int | None = None


@dataclass(frozen=True)
class HypercallAbi:
    """Registers of the Xen hypercall convention for one arch."""

    number: int  # x16 / r12
    args: tuple[int, ...]  # x0-x4 / r0-r4
    result: int  # x0 / r0

    @property
    def number_and_args(self) -> tuple[int, ...]:
        return (self.number, *self.args)


@dataclass(frozen=True)
class BootState:
    """Where and how the guest starts, as Xen's toolstack leaves a vCPU."""

    entry: int
    dtb: int
    thumb: bool = False


class Cpu(Protocol):
    """One vCPU of a given architecture, wrapping its Unicorn engine."""

    arch_name: str  # "arm64" or "arm32"
    uc: unicorn.Uc
    hypercall_abi: HypercallAbi
    smccc_abi: HypercallAbi
    word_bytes: int
    irq_mask: tuple[int, int]  # (register id, I bit) the interrupt-window check reads
    # What the native hypercall path reads: pc, number, five arguments (+ CPSR on arm32).
    hypercall_trap_regs: tuple[int, ...]

    @property
    def pc(self) -> int: ...

    def resume_address(self) -> int:
        """The address to hand to emu_start (with the Thumb bit on arm32)."""
        ...

    def reset(self, boot: BootState) -> None: ...

    def read_reg(self, reg: int) -> int: ...

    def read_regs(self, regs: tuple[int, ...]) -> tuple[int, ...]:
        """Several integer registers in one call (the hypercall path)."""
        ...

    def write_reg(self, reg: int, value: int) -> None: ...

    def hold_system_registers(self, stopped: bool) -> None:
        """``stopped``: the vCPU is not running, system registers read now may be kept
        until one is written; False before it runs again."""
        ...

    def trap_immediate(self, fetch: Fetch) -> int | None:
        """The immediate of the HVC/SMC/SVC that just trapped (PC is past it), or None."""
        ...

    def inject_undef(self, insn_address: int) -> None:
        """Enter the guest's Undefined Instruction vector for the instruction at an address."""
        ...

    def inject_svc(self, imm: int) -> None:
        """Enter the guest's supervisor-call vector for the SVC that just trapped."""
        ...

    def inject_breakpoint(self, insn_address: int, imm: int) -> None:
        """Enter the guest's vector for a BRK/BKPT instruction it executed."""
        ...

    def inject_abort(self, prefetch: bool, va: int, insn_address: int) -> int:
        """Enter the guest's abort vector the way Xen injects a stage-2 fault;
        returns the syndrome written (ESR_EL1, or DFSR/IFSR)."""
        ...

    def hook_system_registers(
        self, read: Callable[[TimerReg], int], write: Callable[[TimerReg, int], None]
    ) -> None:
        """Route the guest's generic-timer register accesses to the machine's timer."""
        ...

    def scan_code(self, address: int, code: bytes) -> int:
        """Prepare hooks for code the machine loads (arm32 timer accesses)."""
        ...

    def inject_irq(self) -> None:
        """Take the IRQ exception at the current instruction boundary."""
        ...

    def after_wfi(self, fetch: Fetch) -> bool:
        """Whether the instruction just before PC is WFI (why emu_start returned)."""
        ...

    def interrupts_masked(self) -> bool: ...

    def describe_state(self) -> str:
        """A one-line summary (PC, mode) for error messages."""
        ...

    def translation_regime(self) -> Regime:
        """The guest's stage-1 MMU state, as it is now."""
        ...

    def mmu_enabled(self) -> bool:
        """SCTLR.M: whether stage 1 translates at all (one register read)."""
        ...

    def privileged(self) -> bool:
        """True at EL1/PL1 (the guest kernel), False in guest user mode."""
        ...

    def register_table(self) -> dict[str, RegisterAccess]:
        """Every register a debugger can name: core, FP/SIMD and system registers."""
        ...
