"""AArch64 vCPU: a Cortex-A72 in Unicorn, running the guest at EL1.

Contract:
- reset state as Xen's toolstack leaves a 64-bit vCPU (xg_dom_arm.c):
  PSTATE = 0x3C5 (EL1h, DAIF masked), SCTLR_EL1 = 0x00C50078 (MMU and caches
  off), x0 = DTB address, x1-x3 = 0, PC = entry.
- EL2/EL3 exist only so that ``hvc`` traps: SCR_EL3 = NS|HCE|RW and
  HCR_EL2.RW make HVC at EL1 raise EXCP_HVC, which Unicorn hands to
  UC_HOOK_INTR with PC already past the instruction. RW must be set in both or
  an exception return from EL1 sets PSTATE.IL.
- Unicorn does not expose the HVC syndrome, so the immediate comes from the
  instruction word at PC - 4 (HVC is A64 encoding 0xD4000002 | imm16 << 5).
- Exceptions the machine injects follow the ARM ARM's AArch64 exception entry
  (D1.10): SPSR_EL1 <- PSTATE, ELR_EL1 <- preferred return, PSTATE <- EL1h
  with DAIF set, PC <- VBAR_EL1 + vector offset.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any

import unicorn
from unicorn import arm64_const as a64

from xgdbvm.machine.cpu.base import BootState, Fetch, HypercallAbi, RegisterAccess
from xgdbvm.machine.devices.generic_timer import TimerReg
from xgdbvm.machine.mmu import Arm64Regime
from xgdbvm.machine.ucnative import RegisterFile, SystemRegisterFile


class SysReg(IntEnum):
    """System registers as (op0, op1, CRn, CRm, op2) packed into one int."""

    SCTLR_EL1 = (3 << 16) | (0 << 12) | (1 << 8) | (0 << 4) | 0
    CPACR_EL1 = (3 << 16) | (0 << 12) | (1 << 8) | (0 << 4) | 2
    TTBR0_EL1 = (3 << 16) | (0 << 12) | (2 << 8) | (0 << 4) | 0
    TTBR1_EL1 = (3 << 16) | (0 << 12) | (2 << 8) | (0 << 4) | 1
    TCR_EL1 = (3 << 16) | (0 << 12) | (2 << 8) | (0 << 4) | 2
    SPSR_EL1 = (3 << 16) | (0 << 12) | (4 << 8) | (0 << 4) | 0
    ELR_EL1 = (3 << 16) | (0 << 12) | (4 << 8) | (0 << 4) | 1
    ESR_EL1 = (3 << 16) | (0 << 12) | (5 << 8) | (2 << 4) | 0
    FAR_EL1 = (3 << 16) | (0 << 12) | (6 << 8) | (0 << 4) | 0
    MAIR_EL1 = (3 << 16) | (0 << 12) | (10 << 8) | (2 << 4) | 0
    VBAR_EL1 = (3 << 16) | (0 << 12) | (12 << 8) | (0 << 4) | 0
    CONTEXTIDR_EL1 = (3 << 16) | (0 << 12) | (13 << 8) | (0 << 4) | 1
    HCR_EL2 = (3 << 16) | (4 << 12) | (1 << 8) | (1 << 4) | 0
    SCR_EL3 = (3 << 16) | (6 << 12) | (1 << 8) | (1 << 4) | 0

    @property
    def cp_tuple(self) -> tuple[int, int, int, int, int]:
        """(CRn, CRm, op0, op1, op2): the order Unicorn's uc_arm64_cp_reg wants."""
        return _CP_TUPLES[self]


TIMER_REGS = {int(reg): reg for reg in TimerReg}
_CP_TUPLES = {
    reg: ((reg >> 8) & 0xF, (reg >> 4) & 0xF, reg >> 16, (reg >> 12) & 0xF, reg & 0xF)
    for reg in SysReg
}
PA_BITS = 44  # Cortex-A72's ID_AA64MMFR0_EL1.PARange
PSTATE_EL1H = 0x5
PSTATE_DAIF = 0xF << 6
RESET_PSTATE = PSTATE_DAIF | PSTATE_EL1H  # 0x3C5
RESET_SCTLR = 0x00C50078
SCR_NS, SCR_HCE, SCR_RW = 1 << 0, 1 << 8, 1 << 10
HCR_RW = 1 << 31
# HVC, SMC and SVC share one encoding shape: 0xD4000000 | imm16 << 5 | opc.
EXC_MASK, HVC_BASE, SMC_BASE, SVC_BASE = 0xFFE0001F, 0xD4000002, 0xD4000003, 0xD4000001
ESR_EC_SHIFT, ESR_IL = 26, 1 << 25
EC_UNKNOWN, EC_SVC64, EC_BRK64 = 0x00, 0x15, 0x3C
EC_IABT_LOWER, EC_IABT_CURRENT, EC_DABT_LOWER, EC_DABT_CURRENT = 0x20, 0x21, 0x24, 0x25

# Vector offsets from VBAR_EL1 (ARM ARM D1.10.2): current EL with SP_ELx, lower EL AArch64.
VECTOR_SYNC_CURRENT = 0x200
VECTOR_SYNC_LOWER = 0x400
VECTOR_IRQ_CURRENT = 0x280
VECTOR_IRQ_LOWER = 0x480

X_REGS: tuple[int, ...] = (
    *(getattr(a64, f"UC_ARM64_REG_X{i}") for i in range(29)),
    a64.UC_ARM64_REG_X29,
    a64.UC_ARM64_REG_X30,
)


class Arm64Cpu:
    arch_name = "arm64"
    word_bytes = 8
    hypercall_abi = HypercallAbi(
        number=a64.UC_ARM64_REG_X16, args=X_REGS[:5], result=a64.UC_ARM64_REG_X0
    )
    smccc_abi = HypercallAbi(
        number=a64.UC_ARM64_REG_X0, args=X_REGS[:8], result=a64.UC_ARM64_REG_X0
    )
    hypercall_trap_regs = (a64.UC_ARM64_REG_PC, *hypercall_abi.number_and_args)
    gdb_arch = "aarch64"
    irq_mask = (a64.UC_ARM64_REG_PSTATE, 1 << 7)

    def __init__(self) -> None:
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
        self.uc.ctl_set_cpu_model(a64.UC_CPU_ARM64_A72)
        self._regs = RegisterFile(self.uc, 0xFFFF_FFFF_FFFF_FFFF)
        self._sysregs = SystemRegisterFile(self.uc, a64.UC_ARM64_REG_CP_REG)

    @property
    def pc(self) -> int:
        return self._regs.read(a64.UC_ARM64_REG_PC)

    def resume_address(self) -> int:
        return self.pc

    def read_reg(self, reg: int) -> int:
        return self._regs.read(reg)

    def read_regs(self, regs: tuple[int, ...]) -> tuple[int, ...]:
        return self._regs.read_many(regs)

    def write_reg(self, reg: int, value: int) -> None:
        self._regs.write(reg, value)

    def hold_system_registers(self, stopped: bool) -> None:
        if stopped:
            self._sysregs.hold()
        else:
            self._sysregs.release()

    def read_sysreg(self, reg: SysReg) -> int:
        return self._sysregs.read(reg.cp_tuple)

    def write_sysreg(self, reg: SysReg, value: int) -> None:
        self._sysregs.write(reg.cp_tuple, value)

    def reset(self, boot: BootState) -> None:
        self.write_sysreg(SysReg.SCR_EL3, SCR_NS | SCR_HCE | SCR_RW)
        self.write_sysreg(SysReg.HCR_EL2, HCR_RW)
        for reg in X_REGS:
            self.write_reg(reg, 0)
        self.write_reg(a64.UC_ARM64_REG_SP, 0)
        for reg in (SysReg.TTBR0_EL1, SysReg.TTBR1_EL1, SysReg.TCR_EL1, SysReg.VBAR_EL1):
            self.write_sysreg(reg, 0)
        self.write_sysreg(SysReg.SCTLR_EL1, RESET_SCTLR)
        self.write_reg(a64.UC_ARM64_REG_PSTATE, RESET_PSTATE)
        self.write_reg(a64.UC_ARM64_REG_X0, boot.dtb)
        self.write_reg(a64.UC_ARM64_REG_PC, boot.entry)

    def trap_immediate(self, fetch: Fetch) -> int | None:
        word = int.from_bytes(fetch(self.pc - 4, 4), "little")
        if word & EXC_MASK not in (HVC_BASE, SMC_BASE, SVC_BASE):
            return None
        return (word >> 5) & 0xFFFF

    def after_wfi(self, fetch: Fetch) -> bool:
        return fetch(self.pc - 4, 4) == b"\x7f\x20\x03\xd5"  # WFI

    def interrupts_masked(self) -> bool:
        return bool(self.read_reg(a64.UC_ARM64_REG_PSTATE) & (1 << 7))

    def _enter_el1(self, vector_current: int, vector_lower: int, return_address: int) -> None:
        pstate = self.read_reg(a64.UC_ARM64_REG_PSTATE)
        from_el0 = (pstate >> 2) & 3 == 0
        if from_el0:
            # Exception entry swaps the live SP from SP_EL0 to SP_EL1 (Unicorn banks them
            # only on its own exception entry, not on a PSTATE write).
            self.write_reg(a64.UC_ARM64_REG_SP_EL0, self.read_reg(a64.UC_ARM64_REG_SP))
            self.write_reg(a64.UC_ARM64_REG_SP, self.read_reg(a64.UC_ARM64_REG_SP_EL1))
        self.write_sysreg(SysReg.SPSR_EL1, pstate)
        self.write_sysreg(SysReg.ELR_EL1, return_address)
        self.write_reg(a64.UC_ARM64_REG_PSTATE, (pstate & 0xF000_0000) | RESET_PSTATE)
        vbar = self.read_sysreg(SysReg.VBAR_EL1)
        self.write_reg(a64.UC_ARM64_REG_PC, vbar + (vector_lower if from_el0 else vector_current))

    def _sync_exception(self, ec: int, iss: int, return_address: int) -> None:
        self.write_sysreg(SysReg.ESR_EL1, (ec << ESR_EC_SHIFT) | ESR_IL | iss)
        self._enter_el1(VECTOR_SYNC_CURRENT, VECTOR_SYNC_LOWER, return_address)

    def inject_undef(self, insn_address: int) -> None:
        # EC 0 (unknown reason) with IL set, as Xen's inject_undef64_exception does;
        # the preferred return address is the faulting instruction itself.
        self._sync_exception(EC_UNKNOWN, 0, insn_address)

    def inject_svc(self, imm: int) -> None:
        self._sync_exception(EC_SVC64, imm & 0xFFFF, self.pc)

    def inject_breakpoint(self, insn_address: int, imm: int) -> None:
        self._sync_exception(EC_BRK64, imm & 0xFFFF, insn_address)

    def inject_irq(self) -> None:
        # The interrupted instruction has not run: it is where ERET comes back to.
        self._enter_el1(VECTOR_IRQ_CURRENT, VECTOR_IRQ_LOWER, self.pc)

    def inject_abort(self, prefetch: bool, va: int, insn_address: int, iss: int = 0) -> int:
        """A data or prefetch abort. Xen's inject_abt64_exception leaves ISS at 0 (a
        bare abort); the guest's own stage-1 faults pass their real syndrome."""
        from_el0 = (self.read_reg(a64.UC_ARM64_REG_PSTATE) >> 2) & 3 == 0
        ec = {
            (True, True): EC_IABT_LOWER,
            (True, False): EC_IABT_CURRENT,
            (False, True): EC_DABT_LOWER,
            (False, False): EC_DABT_CURRENT,
        }[(prefetch, from_el0)]
        self.write_sysreg(SysReg.FAR_EL1, va)
        self._sync_exception(ec, iss, insn_address)
        return (ec << ESR_EC_SHIFT) | ESR_IL | iss

    def describe_state(self) -> str:
        pstate = self.read_reg(a64.UC_ARM64_REG_PSTATE)
        return f"pc={self.pc:#x} EL{(pstate >> 2) & 3}"

    def hook_system_registers(
        self, read: Callable[[TimerReg], int], write: Callable[[TimerReg, int], None]
    ) -> None:
        """Serve the generic timer's registers (CNT*) from the machine's timer model:
        Unicorn's own counter follows the host clock and its comparators never fire.
        Only MRS/MSR instructions reach these hooks, never other code."""

        def timer_reg(cp: Any) -> TimerReg | None:
            key = (cp.op0 << 14) | (cp.op1 << 11) | (cp.crn << 7) | (cp.crm << 3) | cp.op2
            return TIMER_REGS.get(key)

        def on_mrs(uc: unicorn.Uc, reg: int, cp: Any, data: object) -> bool:
            which = timer_reg(cp)
            if which is None:
                return False
            self.uc.reg_write(reg, read(which))
            return True

        def on_msr(uc: unicorn.Uc, reg: int, cp: Any, data: object) -> bool:
            which = timer_reg(cp)
            if which is None:
                return False
            write(which, int(cp.val))
            return True

        self.uc.hook_add(unicorn.UC_HOOK_INSN, on_mrs, None, 1, 0, a64.UC_ARM64_INS_MRS)
        self.uc.hook_add(unicorn.UC_HOOK_INSN, on_msr, None, 1, 0, a64.UC_ARM64_INS_MSR)

    def scan_code(self, address: int, code: bytes) -> int:
        del address, code  # MRS/MSR hooks see every timer access already
        return 0

    def translation_regime(self) -> Arm64Regime:
        return Arm64Regime(
            sctlr=self.read_sysreg(SysReg.SCTLR_EL1),
            tcr=self.read_sysreg(SysReg.TCR_EL1),
            ttbr0=self.read_sysreg(SysReg.TTBR0_EL1),
            ttbr1=self.read_sysreg(SysReg.TTBR1_EL1),
            mair=self.read_sysreg(SysReg.MAIR_EL1),
            pa_bits=PA_BITS,
        )

    def privileged(self) -> bool:
        return (self.read_reg(a64.UC_ARM64_REG_PSTATE) >> 2) & 3 != 0

    def mmu_enabled(self) -> bool:
        return bool(self.read_sysreg(SysReg.SCTLR_EL1) & 1)

    def register_table(self) -> dict[str, RegisterAccess]:
        table: dict[str, RegisterAccess] = {}

        def core(name: str, reg: int, bits: int = 64) -> None:
            table[name] = RegisterAccess(
                name, bits, lambda: self.read_reg(reg), lambda v: self.write_reg(reg, v), reg
            )

        def wide(name: str, reg: int) -> None:
            table[name] = RegisterAccess(
                name,
                128,
                lambda: self._regs.read_wide(reg),
                lambda v: self._regs.write_wide(reg, v),
            )

        def system(name: str, reg: SysReg) -> None:
            table[name] = RegisterAccess(
                name, 64, lambda: self.read_sysreg(reg), lambda v: self.write_sysreg(reg, v)
            )

        for n, reg in enumerate(X_REGS):
            core(f"x{n}", reg)
        core("sp", a64.UC_ARM64_REG_SP)
        core("pc", a64.UC_ARM64_REG_PC)
        core("cpsr", a64.UC_ARM64_REG_PSTATE, 32)
        for n in range(32):
            wide(f"v{n}", a64.UC_ARM64_REG_V0 + n)
        core("fpsr", a64.UC_ARM64_REG_FPSR, 32)
        core("fpcr", a64.UC_ARM64_REG_FPCR, 32)
        core("SP_EL0", a64.UC_ARM64_REG_SP_EL0)
        for reg in SysReg:
            if reg not in (SysReg.HCR_EL2, SysReg.SCR_EL3):
                system(reg.name, reg)
        table["CurrentEL"] = RegisterAccess(
            "CurrentEL", 64, lambda: self.read_reg(a64.UC_ARM64_REG_PSTATE) & 0xC, None
        )
        return table
