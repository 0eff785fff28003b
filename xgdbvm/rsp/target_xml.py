"""Target descriptions, memory maps and thread lists as GDB XML documents.

The adapter decides which registers exist; this module only numbers them,
lays out the ``g`` packet and writes the XML. Numbering follows the GDB
manual ("Target Description Format", ``<reg>``): a register without an
explicit ``regnum`` is one more than the previous register, the first is 0,
and ``g``/``G`` carry registers in increasing number order, packed without
gaps. Features are written inline in one ``target.xml`` (no ``xi:include``),
so ``qXfer:features:read`` serves a single annex.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from .session import PLAIN, ReplyFormat
from .thread_id import ThreadId

# XML escaping by hand: xml.sax.saxutils pulls in urllib and http.client (~20 ms of
# imports between the announce line and the first answer to gdb).
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\n": "&#10;",
        "\r": "&#13;",
        "\t": "&#9;",
    }
)


def escape(text: str) -> str:
    return text.translate(_TEXT_ESCAPES)


def quoteattr(value: str) -> str:
    """``value`` as a double-quoted attribute value."""
    return '"' + value.translate(_ATTR_ESCAPES) + '"'


_TDESC_HEADER = '<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n'
_MEMORY_MAP_HEADER = (
    '<?xml version="1.0"?>\n'
    '<!DOCTYPE memory-map PUBLIC "+//IDN gnu.org//DTD GDB Memory Map V1.0//EN"'
    ' "http://sourceware.org/gdb/gdb-memory-map.dtd">\n'
)


# --- registers and types ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Register:
    """One ``<reg>``. ``type`` is a GDB predefined type or a declared type id.

    ``generic``, ``dwarf`` and ``alt_name`` are not written to the XML (GDB
    does not know them); lldb gets them through ``qRegisterInfo``.
    """

    name: str
    bitsize: int
    type: str | None = None
    group: str | None = None
    regnum: int | None = None
    generic: str | None = None
    dwarf: int | None = None
    alt_name: str | None = None


@dataclass(frozen=True, slots=True)
class VectorType:
    id: str
    type: str
    count: int


@dataclass(frozen=True, slots=True)
class UnionType:
    id: str
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class FlagsField:
    name: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class FlagsType:
    id: str
    size: int
    fields: tuple[FlagsField, ...]


TypeDecl = VectorType | UnionType | FlagsType


@dataclass(frozen=True, slots=True)
class Feature:
    """A ``<feature>``: GDB recognises an architecture's registers by ``name``.

    ``register_set`` is the group lldb shows the registers under.
    """

    name: str
    registers: tuple[Register, ...] = ()
    types: tuple[TypeDecl, ...] = ()
    register_set: str = "General Purpose Registers"


@dataclass(frozen=True, slots=True)
class NumberedRegister:
    """A register with its wire number and its byte offset in the ``g`` packet."""

    register: Register
    regnum: int
    offset: int
    feature: Feature = field(repr=False)

    @property
    def name(self) -> str:
        return self.register.name

    @property
    def size(self) -> int:
        return self.register.bitsize // 8


@dataclass(frozen=True)
class TargetDescription:
    """An architecture name plus features; numbering is computed on creation."""

    architecture: str
    features: tuple[Feature, ...]
    osabi: str | None = None
    registers: tuple[NumberedRegister, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        numbered: list[tuple[int, Register, Feature]] = []
        next_number = 0
        for feature in self.features:
            declared = {decl.id for decl in feature.types}
            for reg in feature.registers:
                if reg.bitsize <= 0 or reg.bitsize % 8:
                    raise ValueError(f"{reg.name}: bitsize must be a positive multiple of 8")
                if reg.type is not None and reg.type not in declared | _PREDEFINED_TYPES:
                    raise ValueError(f"{reg.name}: type {reg.type!r} is not declared")
                number = next_number if reg.regnum is None else reg.regnum
                numbered.append((number, reg, feature))
                next_number = number + 1
        numbers = [number for number, _, _ in numbered]
        if len(set(numbers)) != len(numbers):
            raise ValueError("two registers share a number")
        names = [reg.name for _, reg, _ in numbered]
        if len(set(names)) != len(names):
            raise ValueError("two registers share a name")
        layout = []
        offset = 0
        for number, reg, feature in sorted(numbered, key=lambda item: item[0]):
            layout.append(NumberedRegister(reg, number, offset, feature))
            offset += reg.bitsize // 8
        # The usual idiom for a derived field of a frozen dataclass.
        object.__setattr__(self, "registers", tuple(layout))

    @cached_property
    def _by_number(self) -> dict[int, NumberedRegister]:
        return {r.regnum: r for r in self.registers}

    @cached_property
    def _by_name(self) -> dict[str, NumberedRegister]:
        return {r.name: r for r in self.registers}

    def by_number(self, regnum: int) -> NumberedRegister | None:
        return self._by_number.get(regnum)

    def by_name(self, name: str) -> NumberedRegister | None:
        return self._by_name.get(name)

    @property
    def g_size(self) -> int:
        """Bytes of register data in a ``g`` reply (twice that in hex digits)."""
        return sum(r.size for r in self.registers)

    def to_xml(self) -> bytes:
        lines = [_TDESC_HEADER, '<target version="1.0">\n']
        lines.append(f"  <architecture>{escape(self.architecture)}</architecture>\n")
        if self.osabi:
            lines.append(f"  <osabi>{escape(self.osabi)}</osabi>\n")
        numbers = {id(r.register): r.regnum for r in self.registers}
        for feature in self.features:
            lines.extend(_feature_xml(feature, numbers))
        lines.append("</target>\n")
        return "".join(lines).encode("utf-8")


# Types GDB knows without a declaration (GDB manual, "Predefined Target Types").
_PREDEFINED_TYPES = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int24",
        "int32",
        "int64",
        "int128",
        "uint8",
        "uint16",
        "uint24",
        "uint32",
        "uint64",
        "uint128",
        "int",
        "code_ptr",
        "data_ptr",
        "ieee_half",
        "ieee_single",
        "ieee_double",
        "arm_fpa_ext",
        "i387_ext",
        "i386_eflags",
        "i386_mxcsr",
        "x87_fpu",
        "bfloat16",
    }
)


def _attrs(**values: object) -> str:
    return "".join(
        f" {key}={quoteattr(str(value))}" for key, value in values.items() if value is not None
    )


def _type_xml(decl: TypeDecl) -> list[str]:
    match decl:
        case VectorType(id=type_id, type=element, count=count):
            return [f"    <vector{_attrs(id=type_id, type=element, count=count)}/>\n"]
        case UnionType(id=type_id, fields=fields):
            body = [f"      <field{_attrs(name=n, type=t)}/>\n" for n, t in fields]
            return [f"    <union{_attrs(id=type_id)}>\n", *body, "    </union>\n"]
        case FlagsType(id=type_id, size=size, fields=flag_fields):
            body = [
                f"      <field{_attrs(name=f.name, start=f.start, end=f.end)}/>\n"
                for f in flag_fields
            ]
            return [f"    <flags{_attrs(id=type_id, size=size)}>\n", *body, "    </flags>\n"]
    raise TypeError(f"unknown type declaration {decl!r}")


def _feature_xml(feature: Feature, numbers: dict[int, int]) -> list[str]:
    if not feature.registers and not feature.types:
        return [f"  <feature{_attrs(name=feature.name)}/>\n"]
    lines = [f"  <feature{_attrs(name=feature.name)}>\n"]
    for decl in feature.types:
        lines.extend(_type_xml(decl))
    for reg in feature.registers:
        attrs = _attrs(
            name=reg.name,
            bitsize=reg.bitsize,
            regnum=numbers[id(reg)],
            type=reg.type,
            group=reg.group,
        )
        lines.append(f"    <reg{attrs}/>\n")
    lines.append("  </feature>\n")
    return lines


# --- memory map -------------------------------------------------------------


class MemoryType(StrEnum):
    RAM = "ram"
    ROM = "rom"
    FLASH = "flash"


@dataclass(frozen=True, slots=True)
class MemoryRegion:
    """A ``<memory>`` entry; ``blocksize`` is required by GDB for flash only."""

    start: int
    length: int
    type: MemoryType = MemoryType.RAM
    blocksize: int | None = None


def memory_map_xml(regions: Iterable[MemoryRegion]) -> bytes:
    """The ``qXfer:memory-map:read`` document. GDB refuses accesses outside it."""
    lines = [_MEMORY_MAP_HEADER, "<memory-map>\n"]
    for region in sorted(regions, key=lambda r: r.start):
        attrs = _attrs(type=region.type.value, start=hex(region.start), length=hex(region.length))
        if region.type is MemoryType.FLASH:
            if region.blocksize is None:
                raise ValueError("a flash region needs a blocksize")
            lines.append(f"  <memory{attrs}>\n")
            lines.append(f'    <property name="blocksize">{region.blocksize:#x}</property>\n')
            lines.append("  </memory>\n")
        else:
            lines.append(f"  <memory{attrs}/>\n")
    lines.append("</memory-map>\n")
    return "".join(lines).encode("utf-8")


# --- threads ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    """One ``<thread>`` of ``qXfer:threads:read``; ``extra`` is free text."""

    thread: ThreadId
    name: str | None = None
    core: int | None = None
    extra: str = ""


def threads_xml(threads: Sequence[ThreadEntry], *, fmt: ReplyFormat = PLAIN) -> bytes:
    lines = ['<?xml version="1.0"?>\n<threads>\n']
    for entry in threads:
        thread_id = entry.thread.encode(multiprocess=fmt.multiprocess, default_pid=fmt.pid)
        attrs = _attrs(id=thread_id.decode("ascii"), core=entry.core, name=entry.name)
        lines.append(f"  <thread{attrs}>{escape(entry.extra)}</thread>\n")
    lines.append("</threads>\n")
    return "".join(lines).encode("utf-8")
