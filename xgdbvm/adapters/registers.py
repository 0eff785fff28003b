"""The GDB register layout of each arch, bound to the machine's registers by name.

GDB's own features (rsp.arch) give the core and FP/SIMD registers, numbered
as GDB expects; a third feature per arch adds the system registers a porter
needs at a fault (SCTLR, TTBRs, TCR/TTBCR, MAIR, VBAR, syndrome and fault
address registers, ELR/SPSR, CONTEXTIDR, CurrentEL). The ``g`` packet carries
the first two features; system registers travel with ``p``/``P``, as QEMU's do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xgdbvm.machine.cpu.base import RegisterAccess
from xgdbvm.rsp import Feature, NumberedRegister, Register, TargetDescription, arch
from xgdbvm.rsp.replies import ExpeditedRegisters

AARCH64_SYSTEM = Feature(
    "org.xgdbvm.aarch64.system",
    registers=tuple(
        Register(name, 64, "uint64", group="system")
        for name in (
            "SCTLR_EL1",
            "TTBR0_EL1",
            "TTBR1_EL1",
            "TCR_EL1",
            "MAIR_EL1",
            "VBAR_EL1",
            "ESR_EL1",
            "FAR_EL1",
            "ELR_EL1",
            "SPSR_EL1",
            "CONTEXTIDR_EL1",
            "CPACR_EL1",
            "SP_EL0",
            "CurrentEL",
        )
    ),
    register_set="System Registers",
)

ARM_SYSTEM = Feature(
    "org.xgdbvm.arm.system",
    registers=tuple(
        Register(name, 32, "uint32", group="system")
        for name in (
            "SCTLR",
            "TTBR0",
            "TTBR1",
            "TTBCR",
            "DACR",
            "PRRR",
            "NMRR",
            "VBAR",
            "DFSR",
            "IFSR",
            "DFAR",
            "IFAR",
            "CONTEXTIDR",
            "CPACR",
            "SPSR",
        )
    ),
    register_set="System Registers",
)

DESCRIPTIONS = {
    "arm64": lambda: TargetDescription(
        "aarch64", (arch.AARCH64_CORE, arch.AARCH64_FPU, AARCH64_SYSTEM)
    ),
    "arm32": lambda: TargetDescription(
        "arm", (arch.ARM_CORE, arch.ARM_VFP, arch.ARM_NEON, ARM_SYSTEM)
    ),
}
G_FEATURES = {"arm64": 2, "arm32": 2}  # core + FP/SIMD
EXPEDITED = {"arm64": ("pc", "sp", "x29", "cpsr"), "arm32": ("pc", "sp", "r11", "cpsr")}


@dataclass(frozen=True)
class BoundRegister:
    numbered: NumberedRegister
    access: RegisterAccess

    @property
    def size(self) -> int:
        return self.numbered.size

    def read_bytes(self) -> bytes:
        return (self.access.read() & ((1 << (8 * self.size)) - 1)).to_bytes(self.size, "little")

    def write_bytes(self, data: bytes) -> bool:
        if self.access.write is None or len(data) != self.size:
            return False
        self.access.write(int.from_bytes(data, "little"))
        return True


class RegisterMap:
    """GDB register numbers to machine registers, for one arch."""

    def __init__(
        self,
        arch_name: str,
        table: dict[str, RegisterAccess],
        read_many: Callable[[tuple[int, ...]], tuple[int, ...]] | None = None,
    ) -> None:
        self.description = DESCRIPTIONS[arch_name]()
        self.by_number: dict[int, BoundRegister] = {}
        for numbered in self.description.registers:
            access = table.get(numbered.name)
            if access is None:
                raise KeyError(f"the {arch_name} machine has no register {numbered.name}")
            self.by_number[numbered.regnum] = BoundRegister(numbered, access)
        g_names = {
            reg.name
            for feature in self.description.features[: G_FEATURES[arch_name]]
            for reg in feature.registers
        }
        self.g_registers = tuple(
            self.by_number[n.regnum] for n in self.description.registers if n.name in g_names
        )
        self.expedited = tuple(
            next(b for b in self.by_number.values() if b.numbered.name == name)
            for name in EXPEDITED[arch_name]
        )
        self.xml: bytes = self.description.to_xml()
        # Every stop reply carries these: one batched read when the CPU offers it.
        ids = tuple(b.access.core_id for b in self.expedited)
        batch = tuple(i for i in ids if i is not None)
        self.expedited_values: Callable[[], tuple[int, ...]]
        """The values of ``expedited``, in order."""
        if read_many is not None and len(batch) == len(ids):
            self.expedited_values = lambda: read_many(batch)
        else:
            self.expedited_values = lambda: tuple(b.access.read() for b in self.expedited)
        self.encode_expedited = ExpeditedRegisters(
            tuple((r.numbered.regnum, r.size) for r in self.expedited)
        ).encode
        """The stop reply's ``n:r;`` fields for values of ``expedited``."""

    @property
    def g_size(self) -> int:
        return sum(reg.size for reg in self.g_registers)

    def read_g(self) -> bytes:
        return b"".join(reg.read_bytes() for reg in self.g_registers)

    def write_g(self, data: bytes) -> bool:
        if len(data) != self.g_size:
            return False
        offset = 0
        for reg in self.g_registers:
            chunk = data[offset : offset + reg.size]
            offset += reg.size
            if reg.access.write is not None:
                reg.write_bytes(chunk)
        return True
