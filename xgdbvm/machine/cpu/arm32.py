"""AArch32 vCPU: a Cortex-A15 in Unicorn, running the guest in Non-secure SVC.

Contract:
- reset state as Xen's toolstack leaves a 32-bit vCPU (xg_dom_arm.c):
  CPSR = 0x400001D3 (SVC, A/I/F masked, Z set), SCTLR = 0x00C50078, r0 = 0,
  r1 = 0xFFFFFFFF (no machine id), r2 = DTB address, PC = entry (Thumb if the
  entry address has bit 0 set).
- SCR = NS|HCE makes ``hvc`` in Non-secure PL1 raise EXCP_HVC, which Unicorn
  hands to UC_HOOK_INTR with PC already past the instruction.
- Unicorn does not expose the HVC syndrome (HSR.ISS), so the immediate comes
  from the instruction at PC - 4: A32 cond|0001 0100|imm12|0111|imm4, or T32
  halfwords 1111 0111 1110 imm4, 1000 imm12.
- Injected exceptions follow the ARMv7 exception entry (ARM ARM B1.9):
  SPSR_<mode> <- CPSR, LR_<mode> <- return link, CPSR mode switched with I set
  (and A for aborts), T from SCTLR.TE, PC <- VBAR + vector offset.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

import unicorn
from unicorn import arm_const as a32

from xgdbvm.machine.cpu.base import BootState, Fetch, HypercallAbi, RegisterAccess
from xgdbvm.machine.devices.generic_timer import TimerReg
from xgdbvm.machine.mmu import Arm32Regime
from xgdbvm.machine.ucnative import RegisterFile, SystemRegisterFile


class Cp15(IntEnum):
    """CP15 registers as (opc1, CRn, CRm, opc2) packed into one int."""

    SCTLR = (0 << 12) | (1 << 8) | (0 << 4) | 0
    CPACR = (0 << 12) | (1 << 8) | (0 << 4) | 2
    SCR = (0 << 12) | (1 << 8) | (1 << 4) | 0
    TTBR0 = (0 << 12) | (2 << 8) | (0 << 4) | 0
    TTBR1 = (0 << 12) | (2 << 8) | (0 << 4) | 1
    TTBCR = (0 << 12) | (2 << 8) | (0 << 4) | 2
    DACR = (0 << 12) | (3 << 8) | (0 << 4) | 0
    DFSR = (0 << 12) | (5 << 8) | (0 << 4) | 0
    IFSR = (0 << 12) | (5 << 8) | (0 << 4) | 1
    DFAR = (0 << 12) | (6 << 8) | (0 << 4) | 0
    IFAR = (0 << 12) | (6 << 8) | (0 << 4) | 2
    PRRR = (0 << 12) | (10 << 8) | (2 << 4) | 0
    NMRR = (0 << 12) | (10 << 8) | (2 << 4) | 1
    VBAR = (0 << 12) | (12 << 8) | (0 << 4) | 0
    CONTEXTIDR = (0 << 12) | (13 << 8) | (0 << 4) | 1
    HCR = (4 << 12) | (1 << 8) | (1 << 4) | 0

    @property
    def cp_tuple(self) -> tuple[int, int, int, int, int, int, int]:
        """(cp, is64, sec, CRn, CRm, opc1, opc2): Unicorn's uc_arm_cp_reg order, sans value."""
        return _CP15_TUPLES[self]


_CP15_TUPLES = {
    reg: (15, 0, 0, (reg >> 8) & 0xF, (reg >> 4) & 0xF, reg >> 12, reg & 0xF) for reg in Cp15
}


class Mode(IntEnum):
    USR = 0x10
    FIQ = 0x11
    IRQ = 0x12
    SVC = 0x13
    MON = 0x16
    ABT = 0x17
    HYP = 0x1A
    UND = 0x1B
    SYS = 0x1F


CPSR_T, CPSR_F, CPSR_I, CPSR_A = 1 << 5, 1 << 6, 1 << 7, 1 << 8
CPSR_E, CPSR_IT_MASK = 1 << 9, (0x3F << 10) | (3 << 25)
SCTLR_V, SCTLR_EE, SCTLR_TE = 1 << 13, 1 << 25, 1 << 30
RESET_CPSR = 0x400001D3
RESET_SCTLR = 0x00C50078
SCR_NS, SCR_HCE = 1 << 0, 1 << 8
TTBCR_EAE = 1 << 31

VECTOR_UNDEF, VECTOR_SVC, VECTOR_PABT, VECTOR_DABT, VECTOR_IRQ = 0x04, 0x08, 0x0C, 0x10, 0x18
IFSR_DEBUG_EVENT = 0x2  # FS = 0b00010: debug event (BKPT)
FSR_LPAE, FSRL_STATUS_DEBUG = 1 << 9, 0x22

R_REGS: tuple[int, ...] = (
    *(getattr(a32, f"UC_ARM_REG_R{i}") for i in range(13)),
    a32.UC_ARM_REG_SP,
    a32.UC_ARM_REG_LR,
    a32.UC_ARM_REG_PC,
)


class Arm32Cpu:
    arch_name = "arm32"
    word_bytes = 4
    hypercall_abi = HypercallAbi(
        number=a32.UC_ARM_REG_R12, args=R_REGS[:5], result=a32.UC_ARM_REG_R0
    )
    smccc_abi = HypercallAbi(number=a32.UC_ARM_REG_R0, args=R_REGS[:8], result=a32.UC_ARM_REG_R0)
    hypercall_trap_regs = (
        a32.UC_ARM_REG_PC,
        *hypercall_abi.number_and_args,
        a32.UC_ARM_REG_CPSR,
    )
    gdb_arch = "arm"
    irq_mask = (a32.UC_ARM_REG_CPSR, CPSR_I)

    def __init__(self) -> None:
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_ARM)
        self.uc.ctl_set_cpu_model(a32.UC_CPU_ARM_CORTEX_A15)
        self._regs = RegisterFile(self.uc, 0xFFFF_FFFF)
        self._sysregs = SystemRegisterFile(self.uc, a32.UC_ARM_REG_CP_REG)
        self._timer_hooks: dict[int, int] = {}
        self._timer_read: Callable[[TimerReg], int] = lambda reg: 0
        self._timer_write: Callable[[TimerReg, int], None] = lambda reg, value: None

    @property
    def pc(self) -> int:
        return self._regs.read(a32.UC_ARM_REG_PC)

    @property
    def thumb(self) -> bool:
        return bool(self.read_reg(a32.UC_ARM_REG_CPSR) & CPSR_T)

    def resume_address(self) -> int:
        # emu_start picks the instruction set from bit 0 of the start address.
        return self.pc | int(self.thumb)

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

    def read_cp15(self, reg: Cp15) -> int:
        return self._sysregs.read(reg.cp_tuple)

    def write_cp15(self, reg: Cp15, value: int) -> None:
        self._sysregs.write(reg.cp_tuple, value & 0xFFFF_FFFF)

    def read_cp15_64(self, crm: int, opc1: int) -> int:
        """A 64-bit CP15 register (MRRC form), e.g. the LPAE TTBRs."""
        return self._sysregs.read((15, 1, 0, 0, crm, opc1, 0))

    def hook_system_registers(
        self, read: Callable[[TimerReg], int], write: Callable[[TimerReg, int], None]
    ) -> None:
        """Unicorn gives AArch32 no CP15 hook, and its own CNTV/CNTP registers drop
        guest writes. So ``scan_code`` finds every generic-timer MRC/MCR/MRRC/MCRR in
        code the machine loads and puts an address-bounded hook on exactly those
        instructions, which then run against the machine's timer. Code the guest
        writes at run time is not scanned (an unpacking zImage, say): its timer
        accesses read as zero and ignore writes."""
        self._timer_read = read
        self._timer_write = write

    def scan_code(self, address: int, code: bytes) -> int:
        """Hook the A32 generic-timer accesses in ``code``; returns how many."""
        found = 0
        for offset in _coprocessor_words(code):
            word = int.from_bytes(code[offset : offset + 4], "little")
            access = _timer_access(word)
            if access is None or address + offset in self._timer_hooks:
                continue
            pc = address + offset
            self._timer_hooks[pc] = self.uc.hook_add(
                unicorn.UC_HOOK_CODE, self._timer_hook(*access), begin=pc, end=pc
            )
            found += 1
        return found

    def _timer_hook(
        self, reg: TimerReg, is_read: bool, rt: int, rt2: int | None
    ) -> Callable[..., None]:
        wide = rt2 is not None

        def hook(uc: unicorn.Uc, address: int, size: int, data: object) -> None:
            if self.thumb:
                return  # the same bytes seen as Thumb code are something else
            if is_read:
                value = self._timer_read(reg)
                self.write_reg(R_REGS[rt], value & 0xFFFF_FFFF)
                if wide:
                    self.write_reg(R_REGS[rt2 or 0], value >> 32)
            else:
                value = self.read_reg(R_REGS[rt])
                if wide:
                    value |= self.read_reg(R_REGS[rt2 or 0]) << 32
                self._timer_write(reg, value)
            self.write_reg(a32.UC_ARM_REG_PC, address + 4)  # the access is done: skip it

        return hook

    def translation_regime(self) -> Arm32Regime:
        ttbcr = self.read_cp15(Cp15.TTBCR)
        lpae = bool(ttbcr & TTBCR_EAE)
        return Arm32Regime(
            sctlr=self.read_cp15(Cp15.SCTLR),
            ttbcr=ttbcr,
            ttbr0=self.read_cp15_64(2, 0) if lpae else self.read_cp15(Cp15.TTBR0),
            ttbr1=self.read_cp15_64(2, 1) if lpae else self.read_cp15(Cp15.TTBR1),
            dacr=self.read_cp15(Cp15.DACR),
            contextidr=self.read_cp15(Cp15.CONTEXTIDR),
            mair0=self.read_cp15(Cp15.PRRR),
            mair1=self.read_cp15(Cp15.NMRR),
        )

    def mmu_enabled(self) -> bool:
        return bool(self.read_cp15(Cp15.SCTLR) & 1)

    def privileged(self) -> bool:
        return self.read_reg(a32.UC_ARM_REG_CPSR) & 0x1F != Mode.USR

    def reset(self, boot: BootState) -> None:
        self.write_cp15(Cp15.SCR, SCR_NS | SCR_HCE)
        self.write_reg(a32.UC_ARM_REG_CPSR, RESET_CPSR)
        for reg in R_REGS[:15]:
            self.write_reg(reg, 0)
        for reg in (Cp15.TTBR0, Cp15.TTBR1, Cp15.TTBCR, Cp15.VBAR):
            self.write_cp15(reg, 0)
        self.write_cp15(Cp15.SCTLR, RESET_SCTLR)
        self.write_reg(a32.UC_ARM_REG_R1, 0xFFFF_FFFF)
        self.write_reg(a32.UC_ARM_REG_R2, boot.dtb)
        cpsr = RESET_CPSR | (CPSR_T if boot.thumb or boot.entry & 1 else 0)
        self.write_reg(a32.UC_ARM_REG_CPSR, cpsr)
        self.write_reg(a32.UC_ARM_REG_PC, boot.entry & ~1)

    def trap_immediate(self, fetch: Fetch) -> int | None:
        raw = fetch(self.pc - 4, 4)
        if self.thumb:
            hw1 = int.from_bytes(raw[:2], "little")
            hw2 = int.from_bytes(raw[2:], "little")
            if hw1 & 0xFFF0 != 0xF7E0 or hw2 & 0xF000 != 0x8000:
                return None
            return ((hw1 & 0xF) << 12) | (hw2 & 0xFFF)
        word = int.from_bytes(raw, "little")
        if word & 0x0F000000 == 0x0F000000:  # SVC: imm24
            return word & 0xFFFFFF
        if word & 0x0FF000F0 not in (0x01400070, 0x01600070):  # HVC imm16, SMC imm4
            return None
        return ((word >> 4) & 0xFFF0) | (word & 0xF)

    def after_wfi(self, fetch: Fetch) -> bool:
        if self.thumb:
            return fetch(self.pc - 2, 2) == b"\x30\xbf"  # T32 WFI
        word = int.from_bytes(fetch(self.pc - 4, 4), "little")
        return word & 0x0FFFFFFF == 0x0320F003  # A32 WFI, any condition

    def interrupts_masked(self) -> bool:
        return bool(self.read_reg(a32.UC_ARM_REG_CPSR) & CPSR_I)

    def _enter_mode(self, mode: Mode, vector: int, link: int, mask_abort: bool) -> None:
        cpsr = self.read_reg(a32.UC_ARM_REG_CPSR)
        sctlr = self.read_cp15(Cp15.SCTLR)
        new = (cpsr & ~(0x1F | CPSR_T | CPSR_E | CPSR_IT_MASK)) | mode | CPSR_I
        if mask_abort:
            new |= CPSR_A
        if sctlr & SCTLR_TE:
            new |= CPSR_T
        if sctlr & SCTLR_EE:
            new |= CPSR_E
        # Writing CPSR switches Unicorn's banked SP/LR/SPSR to the new mode first.
        self.write_reg(a32.UC_ARM_REG_CPSR, new)
        self.write_reg(a32.UC_ARM_REG_SPSR, cpsr)
        self.write_reg(a32.UC_ARM_REG_LR, link)
        base = 0xFFFF0000 if sctlr & SCTLR_V else self.read_cp15(Cp15.VBAR)
        self.write_reg(a32.UC_ARM_REG_PC, base + vector)

    def inject_undef(self, insn_address: int) -> None:
        # As the ARM ARM (and Xen's inject_undef32_exception): the link is the
        # instruction's address plus 4 (ARM) or 2 (Thumb).
        link = insn_address + (2 if self.thumb else 4)
        self._enter_mode(Mode.UND, VECTOR_UNDEF, link, mask_abort=False)

    def inject_svc(self, imm: int) -> None:
        del imm  # the handler reads it from the instruction, as on hardware
        self._enter_mode(Mode.SVC, VECTOR_SVC, self.pc, mask_abort=False)

    def inject_abort(
        self, prefetch: bool, va: int, insn_address: int, fsr: int | None = None
    ) -> int:
        """A data or prefetch abort. Xen's inject_abt32_exception reports a debug-event
        status ("best we can do") and links to the instruction (+4 in Thumb); the
        guest's own stage-1 faults pass their real FSR."""
        if fsr is None:
            lpae = bool(self.read_cp15(Cp15.TTBCR) & TTBCR_EAE)
            fsr = (FSR_LPAE | FSRL_STATUS_DEBUG) if lpae else IFSR_DEBUG_EVENT
        link = insn_address + (4 if self.thumb else 0)
        if prefetch:
            self.write_cp15(Cp15.IFAR, va)
            self.write_cp15(Cp15.IFSR, fsr)
        else:
            self.write_cp15(Cp15.DFAR, va)
            self.write_cp15(Cp15.DFSR, fsr)
        self._enter_mode(Mode.ABT, VECTOR_PABT if prefetch else VECTOR_DABT, link, mask_abort=True)
        return fsr

    def inject_irq(self) -> None:
        # LR_irq = preferred return address + 4, in both instruction sets (ARM ARM B1.9.10).
        self._enter_mode(Mode.IRQ, VECTOR_IRQ, self.pc + 4, mask_abort=True)

    def inject_breakpoint(self, insn_address: int, imm: int) -> None:
        # BKPT is a Prefetch Abort with a debug-event fault status (ARM ARM B1.9.7).
        del imm
        self.write_cp15(Cp15.IFSR, IFSR_DEBUG_EVENT)
        self.write_cp15(Cp15.IFAR, insn_address)
        self._enter_mode(Mode.ABT, VECTOR_PABT, insn_address + 4, mask_abort=True)

    def describe_state(self) -> str:
        cpsr = self.read_reg(a32.UC_ARM_REG_CPSR)
        mode = Mode(cpsr & 0x1F).name if cpsr & 0x1F in Mode._value2member_map_ else "?"
        return f"pc={self.pc:#x} {mode}{' thumb' if cpsr & CPSR_T else ''}"

    def register_table(self) -> dict[str, RegisterAccess]:
        table: dict[str, RegisterAccess] = {}

        def core(name: str, reg: int, bits: int = 32) -> None:
            table[name] = RegisterAccess(
                name, bits, lambda: self.read_reg(reg), lambda v: self.write_reg(reg, v), reg
            )

        doubles = RegisterFile(self.uc, 0xFFFF_FFFF_FFFF_FFFF)  # D registers are 64-bit

        def double(name: str, reg: int) -> None:
            table[name] = RegisterAccess(
                name, 64, lambda: doubles.read(reg), lambda v: doubles.write(reg, v)
            )

        def system(name: str, reg: Cp15) -> None:
            table[name] = RegisterAccess(
                name, 32, lambda: self.read_cp15(reg), lambda v: self.write_cp15(reg, v)
            )

        names = [f"r{n}" for n in range(13)] + ["sp", "lr", "pc"]
        for name, reg in zip(names, R_REGS, strict=True):
            core(name, reg)
        core("cpsr", a32.UC_ARM_REG_CPSR)
        for n in range(32):
            double(f"d{n}", a32.UC_ARM_REG_D0 + n)
        core("fpscr", a32.UC_ARM_REG_FPSCR)
        core("SPSR", a32.UC_ARM_REG_SPSR)
        for reg in Cp15:
            if reg not in (Cp15.SCR, Cp15.HCR):
                system(reg.name, reg)
        return table


# Generic-timer registers by their A32 encodings: (opc1, CRm, opc2) with CRn = 14 for
# MRC/MCR, and opc1 with CRm = 14 for MRRC/MCRR.
TIMER_CP15_32 = {
    (0, 0, 0): TimerReg.CNTFRQ,
    (0, 2, 0): TimerReg.CNTP_TVAL,
    (0, 2, 1): TimerReg.CNTP_CTL,
    (0, 3, 0): TimerReg.CNTV_TVAL,
    (0, 3, 1): TimerReg.CNTV_CTL,
}
TIMER_CP15_64 = {
    0: TimerReg.CNTPCT,
    1: TimerReg.CNTVCT,
    2: TimerReg.CNTP_CVAL,
    3: TimerReg.CNTV_CVAL,
}


def _coprocessor_words(code: bytes) -> list[int]:
    """The offsets of the words in ``code`` whose top byte is that of an unconditional
    MCR/MRC (0xEE) or MCRR/MRRC (0xEC), in order: the only ones ``_timer_access`` can
    accept. Found with bytes.find (in C): decoding every word in Python cost ~10 ms per
    boot of a 50 KiB image."""
    tops = code[3::4]  # little-endian: byte 3 of each word is bits 31..24
    found = []
    for top in (0xEC, 0xEE):
        index = tops.find(top)
        while index >= 0:
            found.append(4 * index)
            index = tops.find(top, index + 1)
    return sorted(found)


def _timer_access(word: int) -> tuple[TimerReg, bool, int, int | None] | None:
    """(register, is_read, Rt, Rt2) if ``word`` is an A32 generic-timer access."""
    if (word >> 28) != 0xE or (word >> 8) & 0xF != 15:
        return None  # only unconditional-always (AL) coprocessor 15 accesses
    is_read = bool(word & (1 << 20))
    rt = (word >> 12) & 0xF
    if word & 0x0F000010 == 0x0E000010 and (word >> 16) & 0xF == 14:
        reg = TIMER_CP15_32.get(((word >> 21) & 7, word & 0xF, (word >> 5) & 7))
        return None if reg is None else (reg, is_read, rt, None)
    if word & 0x0FE00000 == 0x0C400000 and word & 0xF == 14:
        reg64 = TIMER_CP15_64.get((word >> 4) & 0xF)
        return None if reg64 is None else (reg64, is_read, rt, (word >> 16) & 0xF)
    return None
