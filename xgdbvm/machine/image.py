"""Guest images and where Xen's toolstack places them (xg_dom_arm*.c).

Formats, recognised by their magic:
- ELF (EM_AARCH64 / EM_ARM): each PT_LOAD at its physical address, entry e_entry.
- arm64 Linux ``Image``: magic "ARM\\x64" at 56; loaded at RAM0 + text_offset.
- arm32 ``zImage``: magic 0x016F2818 at 0x24; loaded at RAM0 + 0x8000, or at the
  start address in the header word at 0x28 when that is non-zero.
Anything else, or a truncated file, is a ``ConfigError`` with one clear line.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from xgdbvm.machine.errors import ConfigError

ELF_MAGIC = b"\x7fELF"
EM_ARM, EM_AARCH64 = 40, 183
PT_LOAD = 1
SHT_SYMTAB = 2
STT_FUNC, STT_OBJECT = 2, 1
ARM64_IMAGE_MAGIC = 0x644D5241
ZIMAGE_MAGIC = 0x016F2818
ZIMAGE_OFFSET = 0x8000
ELF_MACHINE = {"arm64": EM_AARCH64, "arm32": EM_ARM}


@dataclass(frozen=True)
class Segment:
    address: int  # guest-physical load address
    data: bytes
    memsize: int  # data plus zero fill


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int
    size: int
    kind: str  # "func" or "object"


@dataclass(frozen=True)
class GuestImage:
    path: str
    format: str  # "elf", "Image" or "zImage"
    segments: tuple[Segment, ...]
    entry: int
    symbols: tuple[Symbol, ...] = field(default=(), repr=False)

    @property
    def end(self) -> int:
        return max(s.address + s.memsize for s in self.segments)

    @property
    def start(self) -> int:
        return min(s.address for s in self.segments)


def load_image(path: Path, arch: str, ram_base: int) -> GuestImage:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    if data[:4] == ELF_MAGIC:
        return _load_elf(str(path), data, arch)
    if len(data) >= 64 and struct.unpack_from("<I", data, 56)[0] == ARM64_IMAGE_MAGIC:
        if arch != "arm64":
            raise ConfigError(f"{path}: an arm64 Image cannot boot on {arch}")
        text_offset = struct.unpack_from("<Q", data, 8)[0]
        load = ram_base + text_offset
        return GuestImage(str(path), "Image", (Segment(load, data, len(data)),), load)
    if len(data) >= 0x30 and struct.unpack_from("<I", data, 0x24)[0] == ZIMAGE_MAGIC:
        if arch != "arm32":
            raise ConfigError(f"{path}: an arm32 zImage cannot boot on {arch}")
        start = struct.unpack_from("<I", data, 0x28)[0]
        load = start or ram_base + ZIMAGE_OFFSET
        return GuestImage(str(path), "zImage", (Segment(load, data, len(data)),), load)
    raise ConfigError(f"{path}: not an ELF, arm64 Image or arm32 zImage file")


class _Truncated(Exception):
    pass


def _unpack(fmt: str, data: bytes, offset: int) -> tuple[int, ...]:
    if offset < 0 or offset + struct.calcsize(fmt) > len(data):
        raise _Truncated
    return struct.unpack_from(fmt, data, offset)


def _load_elf(path: str, data: bytes, arch: str) -> GuestImage:
    try:
        return _parse_elf(path, data, arch)
    except _Truncated:
        raise ConfigError(f"{path}: truncated or corrupt ELF file") from None


def _parse_elf(path: str, data: bytes, arch: str) -> GuestImage:
    ei_class, ei_data = _unpack("<BB", data, 4)
    if ei_data != 1:
        raise ConfigError(f"{path}: big-endian ELF is not supported")
    is64 = ei_class == 2
    if is64:
        (e_machine, e_entry, e_phoff, e_shoff) = (
            _unpack("<H", data, 18)[0],
            *_unpack("<QQQ", data, 24),
        )
        e_phentsize, e_phnum, e_shentsize, e_shnum = _unpack("<HHHH", data, 54)
    else:
        e_machine = _unpack("<H", data, 18)[0]
        e_entry, e_phoff, e_shoff = _unpack("<III", data, 24)
        e_phentsize, e_phnum, e_shentsize, e_shnum = _unpack("<HHHH", data, 42)
    if e_machine != ELF_MACHINE[arch]:
        raise ConfigError(f"{path}: ELF machine {e_machine} is not {arch}")
    segments = []
    for i in range(e_phnum):
        off = e_phoff + i * e_phentsize
        if is64:
            p_type, _flags, p_offset, _vaddr, p_paddr, p_filesz, p_memsz, _align = _unpack(
                "<IIQQQQQQ", data, off
            )
        else:
            p_type, p_offset, _vaddr, p_paddr, p_filesz, p_memsz, _flags, _align = _unpack(
                "<IIIIIIII", data, off
            )
        if p_type != PT_LOAD or p_memsz == 0:
            continue
        if p_offset + p_filesz > len(data) or p_filesz > p_memsz:
            raise _Truncated
        segments.append(Segment(p_paddr, data[p_offset : p_offset + p_filesz], p_memsz))
    if not segments:
        raise ConfigError(f"{path}: ELF has no loadable segments")
    symbols = _elf_symbols(data, is64, e_shoff, e_shentsize, e_shnum)
    return GuestImage(path, "elf", tuple(segments), e_entry, symbols)


def _elf_symbols(
    data: bytes, is64: bool, shoff: int, shentsize: int, shnum: int
) -> tuple[Symbol, ...]:
    shfmt = "<IIQQQQIIQQ" if is64 else "<IIIIIIIIII"
    sections = [_unpack(shfmt, data, shoff + i * shentsize) for i in range(shnum)] if shoff else []
    symbols: list[Symbol] = []
    for sh in sections:
        if sh[1] != SHT_SYMTAB:
            continue
        offset, size, link, entsize = sh[4], sh[5], sh[6], sh[9]
        if link >= len(sections) or not entsize:
            continue
        str_off = sections[link][4]
        for pos in range(offset, offset + size - entsize + 1, entsize):
            if is64:
                st_name, st_info, _o, _shndx, st_value, st_size = _unpack("<IBBHQQ", data, pos)
            else:
                st_name, st_value, st_size, st_info, _o, _shndx = _unpack("<IIIBBH", data, pos)
            kind = {STT_FUNC: "func", STT_OBJECT: "object"}.get(st_info & 0xF)
            if kind is None or st_name == 0:
                continue
            end = data.find(b"\0", str_off + st_name)
            name = data[str_off + st_name : end].decode(errors="replace")
            symbols.append(Symbol(name, st_value, st_size, kind))
    return tuple(sorted(symbols, key=lambda s: s.address))
