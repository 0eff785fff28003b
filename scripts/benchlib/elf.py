"""Just enough ELF reading for the benchmarks: symbols and the bytes at an address."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from benchlib.procs import BenchError


@dataclass(frozen=True)
class Symbol:
    address: int
    size: int


class Elf:
    def __init__(self, path: Path) -> None:
        try:
            self.data = path.read_bytes()
        except OSError as error:
            raise BenchError(f"cannot read {path}: {error}") from None
        d = self.data
        if d[:4] != b"\x7fELF" or d[5] != 1:
            raise BenchError(f"{path} is not a little-endian ELF")
        self.is64 = d[4] == 2
        if self.is64:
            (_, _, _, self.entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = (
                struct.unpack_from("<HHIQQQIHHHHHH", d, 16)
            )
        else:
            (_, _, _, self.entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, _) = (
                struct.unpack_from("<HHIIIIIHHHHHH", d, 16)
            )
        self.segments: list[tuple[int, int, int]] = []  # (vaddr, offset, filesz) of PT_LOAD
        for i in range(phnum):
            off = phoff + i * phentsize
            if self.is64:
                p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIQQQQ", d, off)
            else:
                p_type, p_offset, p_vaddr, _, p_filesz = struct.unpack_from("<IIIII", d, off)
            if p_type == 1:
                self.segments.append((p_vaddr, p_offset, p_filesz))
        sections = []
        for i in range(shnum):
            off = shoff + i * shentsize
            if self.is64:
                _, sh_type, _, _, sh_offset, sh_size, sh_link, _, _, sh_entsize = (
                    struct.unpack_from("<IIQQQQIIQQ", d, off)
                )
            else:
                _, sh_type, _, _, sh_offset, sh_size, sh_link, _, _, sh_entsize = (
                    struct.unpack_from("<IIIIIIIIII", d, off)
                )
            sections.append((sh_type, sh_offset, sh_size, sh_link, sh_entsize))
        self.symbols: dict[str, Symbol] = {}
        for sh_type, sh_offset, sh_size, sh_link, sh_entsize in sections:
            if sh_type != 2:  # SHT_SYMTAB
                continue
            str_off = sections[sh_link][1]
            for pos in range(sh_offset, sh_offset + sh_size, sh_entsize):
                if self.is64:
                    name, _, _, _, value, size = struct.unpack_from("<IBBHQQ", d, pos)
                else:
                    name, value, size, _, _, _ = struct.unpack_from("<IIIBBH", d, pos)
                if name:
                    end = d.index(b"\0", str_off + name)
                    self.symbols[d[str_off + name : end].decode()] = Symbol(value, size)

    def symbol(self, name: str) -> Symbol:
        try:
            return self.symbols[name]
        except KeyError:
            raise BenchError(f"symbol {name} is not in the ELF") from None

    def read(self, address: int, size: int) -> bytes:
        for vaddr, offset, filesz in self.segments:
            if vaddr <= address and address + size <= vaddr + filesz:
                start = offset + address - vaddr
                return self.data[start : start + size]
        raise BenchError(f"0x{address:x}+{size} is not in a loaded segment")
