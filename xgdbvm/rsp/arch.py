"""GDB's own register features for ARM and AArch64, as data.

Names, sizes, types and type declarations follow GDB's ``features/arm/
arm-core.xml``, ``arm-vfpv3.xml`` and ``features/aarch64-core.xml``,
``aarch64-fpu.xml``: GDB's tdesc validation looks registers up by feature
and name, so these must match exactly. The adapter may use these as they
are or build its own :class:`~xgdbvm.rsp.target_xml.Feature` list.

Numbering. AArch64 numbers as GDB does (x0..x30 = 0..30, sp 31, pc 32,
cpsr 33, v0..v31 = 34..65, fpsr 66, fpcr 67). For ARM, GDB's classic layout
puts cpsr at 25 because eight FPA registers and fps once sat between pc and
cpsr; a target.xml may number freely, so here cpsr follows pc (16) and the
VFP registers follow it. Contiguous numbers also keep lldb's
``qRegisterInfo<n>`` walk (which stops at the first gap) complete.

``dwarf`` numbers are from the DWARF register mappings of the two ABIs
(AArch64: x0-x30 0-30, sp 31, v0-v31 64-95; ARM: r0-r15 0-15, d0-d31
256-287); ``generic`` are lldb's roles.
"""

from __future__ import annotations

from .target_xml import (
    Feature,
    FlagsField,
    FlagsType,
    Register,
    TargetDescription,
    UnionType,
    VectorType,
)

# --- AArch64 ----------------------------------------------------------------

_AARCH64_ARG_ROLES = {n: f"arg{n + 1}" for n in range(8)}
_AARCH64_X_ROLES = {29: "fp", 30: "ra"}
_AARCH64_ALIASES = {29: "fp", 30: "lr"}

_CPSR_FLAGS = FlagsType(
    "cpsr_flags",
    4,
    tuple(
        FlagsField(name, start, end)
        for name, start, end in (
            ("SP", 0, 0),
            ("EL", 2, 3),
            ("nRW", 4, 4),
            ("F", 6, 6),
            ("I", 7, 7),
            ("A", 8, 8),
            ("D", 9, 9),
            ("BTYPE", 10, 11),
            ("SSBS", 12, 12),
            ("IL", 20, 20),
            ("SS", 21, 21),
            ("PAN", 22, 22),
            ("UAO", 23, 23),
            ("DIT", 24, 24),
            ("TCO", 25, 25),
            ("V", 28, 28),
            ("C", 29, 29),
            ("Z", 30, 30),
            ("N", 31, 31),
        )
    ),
)

AARCH64_CORE = Feature(
    "org.gnu.gdb.aarch64.core",
    registers=(
        *(
            Register(
                f"x{n}",
                64,
                dwarf=n,
                generic=_AARCH64_X_ROLES.get(n, _AARCH64_ARG_ROLES.get(n)),
                alt_name=_AARCH64_ALIASES.get(n),
            )
            for n in range(31)
        ),
        Register("sp", 64, "data_ptr", dwarf=31, generic="sp"),
        Register("pc", 64, "code_ptr", dwarf=32, generic="pc"),
        Register("cpsr", 32, "cpsr_flags", generic="flags"),
    ),
    types=(_CPSR_FLAGS,),
)

_V_TYPES: tuple[VectorType | UnionType, ...] = (
    VectorType("v2d", "ieee_double", 2),
    VectorType("v2u", "uint64", 2),
    VectorType("v2i", "int64", 2),
    VectorType("v4f", "ieee_single", 4),
    VectorType("v4u", "uint32", 4),
    VectorType("v4i", "int32", 4),
    VectorType("v8f", "ieee_half", 8),
    VectorType("v8u", "uint16", 8),
    VectorType("v8i", "int16", 8),
    VectorType("v16u", "uint8", 16),
    VectorType("v16i", "int8", 16),
    VectorType("v1u", "uint128", 1),
    VectorType("v1i", "int128", 1),
    UnionType("vnd", (("f", "v2d"), ("u", "v2u"), ("s", "v2i"))),
    UnionType("vns", (("f", "v4f"), ("u", "v4u"), ("s", "v4i"))),
    UnionType("vnh", (("f", "v8f"), ("u", "v8u"), ("s", "v8i"))),
    UnionType("vnb", (("u", "v16u"), ("s", "v16i"))),
    UnionType("vnq", (("u", "v1u"), ("s", "v1i"))),
    UnionType("aarch64v", (("d", "vnd"), ("s", "vns"), ("h", "vnh"), ("b", "vnb"), ("q", "vnq"))),
)


def _flags(type_id: str, fields: tuple[tuple[str, int, int], ...]) -> FlagsType:
    return FlagsType(type_id, 4, tuple(FlagsField(n, s, e) for n, s, e in fields))


_FPSR_FLAGS = _flags(
    "fpsr_flags",
    (
        ("IOC", 0, 0),
        ("DZC", 1, 1),
        ("OFC", 2, 2),
        ("UFC", 3, 3),
        ("IXC", 4, 4),
        ("IDC", 7, 7),
        ("QC", 27, 27),
        ("V", 28, 28),
        ("C", 29, 29),
        ("Z", 30, 30),
        ("N", 31, 31),
    ),
)

_FPCR_FLAGS = _flags(
    "fpcr_flags",
    (
        ("FIZ", 0, 0),
        ("AH", 1, 1),
        ("NEP", 2, 2),
        ("IOE", 8, 8),
        ("DZE", 9, 9),
        ("OFE", 10, 10),
        ("UFE", 11, 11),
        ("IXE", 12, 12),
        ("IDE", 15, 15),
        ("FZ16", 19, 19),
        ("RMode", 22, 23),
        ("FZ", 24, 24),
        ("DN", 25, 25),
        ("AHP", 26, 26),
    ),
)

AARCH64_FPU = Feature(
    "org.gnu.gdb.aarch64.fpu",
    registers=(
        *(Register(f"v{n}", 128, "aarch64v", dwarf=64 + n) for n in range(32)),
        Register("fpsr", 32, "fpsr_flags"),
        Register("fpcr", 32, "fpcr_flags"),
    ),
    types=(*_V_TYPES, _FPSR_FLAGS, _FPCR_FLAGS),
    register_set="Floating Point Registers",
)

# --- ARM (AArch32) ----------------------------------------------------------

_ARM_ROLES = {0: "arg1", 1: "arg2", 2: "arg3", 3: "arg4", 11: "fp"}

ARM_CORE = Feature(
    "org.gnu.gdb.arm.core",
    registers=(
        *(Register(f"r{n}", 32, "uint32", dwarf=n, generic=_ARM_ROLES.get(n)) for n in range(13)),
        Register("sp", 32, "data_ptr", dwarf=13, generic="sp"),
        Register("lr", 32, dwarf=14, generic="ra"),
        Register("pc", 32, "code_ptr", dwarf=15, generic="pc"),
        Register("cpsr", 32, generic="flags"),
    ),
)

ARM_VFP = Feature(
    "org.gnu.gdb.arm.vfp",
    registers=(
        *(Register(f"d{n}", 64, "ieee_double", dwarf=256 + n) for n in range(32)),
        Register("fpscr", 32, "int", group="float"),
    ),
    register_set="Floating Point Registers",
)

#: Empty on purpose: its presence makes GDB show d0-d31 as vectors and
#: synthesise q0-q15 (GDB manual, "ARM Features").
ARM_NEON = Feature("org.gnu.gdb.arm.neon")


def aarch64_description() -> TargetDescription:
    return TargetDescription("aarch64", (AARCH64_CORE, AARCH64_FPU))


def arm_description(*, neon: bool = True) -> TargetDescription:
    features = (ARM_CORE, ARM_VFP, ARM_NEON) if neon else (ARM_CORE, ARM_VFP)
    return TargetDescription("arm", features)
