"""The guest device tree: the single source of truth for the machine's layout.

The board reads RAM banks, device bases and interrupt numbers from here and
nowhere else; it patches /memory and /chosen/bootargs at run time the way
Xen's toolstack fills them in. Sources are DTS (compiled with dtc) or DTB.
Interrupt specifiers follow the GIC binding: cell0 0 = SPI, 1 = PPI; cell1
the number within that class; cell2 flags.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fdt

from xgdbvm.machine.errors import ConfigError

FDT_MAGIC = b"\xd0\x0d\xfe\xed"
SPI_BASE, PPI_BASE = 32, 16


@dataclass(frozen=True)
class MemoryBank:
    base: int
    size: int


@dataclass(frozen=True)
class DeviceNode:
    path: str
    regs: tuple[tuple[int, int], ...]
    interrupts: tuple[int, ...]  # GIC INTIDs


@dataclass(frozen=True)
class HypervisorNode:
    version: tuple[int, int]
    grant_window: tuple[int, int]
    event_intid: int


def compile_dts(source: Path) -> bytes:
    dtc = shutil.which("dtc")
    if dtc is None:
        raise ConfigError("dtc (Debian package device-tree-compiler) is needed to read a .dts file")
    result = subprocess.run(
        [dtc, "-q", "-I", "dts", "-O", "dtb", "-o", "-", str(source)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        first = (result.stderr.decode(errors="replace").strip().splitlines() or ["failed"])[0]
        raise ConfigError(f"{source}: dtc: {first}")
    return result.stdout


def load_blob(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    return data if data[:4] == FDT_MAGIC else compile_dts(path)


class DeviceTree:
    """A parsed guest device tree with the queries the board needs."""

    def __init__(self, blob: bytes, origin: str = "<dtb>") -> None:
        self.origin = origin
        try:
            self._fdt: Any = fdt.parse_dtb(blob)
        except Exception as exc:  # the library raises bare Exceptions on bad input
            raise ConfigError(f"{origin}: not a valid device tree blob ({exc})") from None
        self.address_cells = self._root_cells("#address-cells", 2)
        self.size_cells = self._root_cells("#size-cells", 1)

    @classmethod
    def from_path(cls, path: Path) -> DeviceTree:
        return cls(load_blob(path), str(path))

    def _root_cells(self, name: str, default: int) -> int:
        prop = self._fdt.root.get_property(name)
        return default if prop is None else int(prop.value)

    def _nodes(self) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = []

        def walk(node: Any, path: str) -> None:
            for child in node.nodes:
                child_path = f"{path.rstrip('/')}/{child.name}"
                found.append((child_path, child))
                walk(child, child_path)

        walk(self._fdt.root, "/")
        return found

    @staticmethod
    def _strings(node: Any, name: str) -> list[str]:
        prop = node.get_property(name)
        if prop is None:
            return []
        if isinstance(prop, fdt.PropStrings):
            return [str(s) for s in prop.data]
        if isinstance(prop, fdt.PropBytes):
            # The library reads a string property it cannot tell from bytes (an
            # empty string, say) as raw bytes: split on NULs ourselves.
            raw = bytes(prop.data)
            return [part.decode(errors="replace") for part in raw.rstrip(b"\0").split(b"\0")]
        return []

    def _words(self, node: Any, name: str) -> list[int]:
        prop = node.get_property(name)
        return [] if prop is None else [int(w) for w in prop.data]

    def _regs(self, node: Any) -> tuple[tuple[int, int], ...]:
        words = self._words(node, "reg")
        step = self.address_cells + self.size_cells
        regs = []
        for i in range(0, len(words) - step + 1, step):
            base = _join(words[i : i + self.address_cells])
            size = _join(words[i + self.address_cells : i + step])
            regs.append((base, size))
        return tuple(regs)

    def _intids(self, node: Any) -> tuple[int, ...]:
        words = self._words(node, "interrupts")
        intids = []
        for i in range(0, len(words) - 2, 3):
            kind, number = words[i], words[i + 1]
            intids.append(number + (PPI_BASE if kind == 1 else SPI_BASE))
        return tuple(intids)

    def _device(self, path: str, node: Any) -> DeviceNode:
        return DeviceNode(path, self._regs(node), self._intids(node))

    def find_compatible(self, *compatibles: str) -> DeviceNode | None:
        for path, node in self._nodes():
            if set(self._strings(node, "compatible")) & set(compatibles):
                return self._device(path, node)
        return None

    def memory_banks(self) -> list[MemoryBank]:
        banks: list[MemoryBank] = []
        for _, node in self._nodes():
            if self._strings(node, "device_type") == ["memory"]:
                banks.extend(MemoryBank(b, s) for b, s in self._regs(node))
        return sorted(banks, key=lambda bank: bank.base)

    def hypervisor(self) -> HypervisorNode:
        node = next((n for p, n in self._nodes() if p == "/hypervisor"), None)
        if node is None:
            raise ConfigError(f"{self.origin}: no /hypervisor node: this is not a Xen guest tree")
        compatibles = self._strings(node, "compatible")
        versions = [m for c in compatibles if (m := re.fullmatch(r"xen,xen-(\d+)\.(\d+)", c))]
        if "xen,xen" not in compatibles or not versions:
            raise ConfigError(
                f'{self.origin}: /hypervisor must be compatible with "xen,xen-X.Y" and "xen,xen"'
            )
        regs = self._regs(node)
        intids = self._intids(node)
        if not regs or not intids:
            raise ConfigError(f"{self.origin}: /hypervisor needs reg (grant window) and interrupts")
        major, minor = int(versions[0].group(1)), int(versions[0].group(2))
        return HypervisorNode((major, minor), regs[0], intids[0])

    def set_memory(self, banks: list[MemoryBank]) -> None:
        """Rewrite the first memory node's reg with the populated banks."""
        for _, node in self._nodes():
            if self._strings(node, "device_type") == ["memory"]:
                words: list[int] = []
                for bank in banks:
                    words += _split(bank.base, self.address_cells)
                    words += _split(bank.size, self.size_cells)
                node.set_property("reg", words)
                return
        raise ConfigError(f"{self.origin}: no memory node")

    def set_hypervisor_property(self, name: str, value: int) -> None:
        """A 64-bit value (two cells) on /hypervisor."""
        self._fdt.set_property(name, _split(value, 2), path="/hypervisor")

    def set_bootargs(self, bootargs: str) -> None:
        if self._fdt.exist_node("/chosen"):
            self._fdt.set_property("bootargs", bootargs, path="/chosen")
        else:
            self._fdt.add_item(fdt.PropStrings("bootargs", bootargs), "/chosen", create=True)

    def bootargs(self) -> str:
        node = next((n for p, n in self._nodes() if p == "/chosen"), None)
        values = [] if node is None else self._strings(node, "bootargs")
        return values[0] if values else ""

    def to_blob(self) -> bytes:
        return bytes(self._fdt.to_dtb(version=17))


def _join(words: list[int]) -> int:
    value = 0
    for word in words:
        value = (value << 32) | word
    return value


def _split(value: int, cells: int) -> list[int]:
    return [(value >> (32 * (cells - 1 - i))) & 0xFFFF_FFFF for i in range(cells)]
