"""Register names to GDB register numbers, from the server's own target description.

The client asks the server for ``target.xml`` (``qXfer:features:read``) and
numbers its ``<reg>`` elements as the GDB manual says: an explicit ``regnum``,
else one more than the previous register, the first being 0. So the same code
serves an in-process VM and one served by another process, whatever its arch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from xml.etree import ElementTree

# Names people use for registers the target description calls otherwise.
ALIASES = {
    "aarch64": {"lr": "x30", "fp": "x29", "pstate": "cpsr"},
    "arm": {"fp": "r11", "ip": "r12", "r13": "sp", "r14": "lr", "r15": "pc"},
}


class RegisterError(LookupError):
    """A register the target does not have."""

    def __str__(self) -> str:  # not KeyError's quoting
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class RegisterInfo:
    name: str
    regnum: int
    bitsize: int
    group: str | None = None

    @property
    def size(self) -> int:
        """Bytes on the wire."""
        return (self.bitsize + 7) // 8


class RegisterTable:
    """The registers of one target description, by name (case-insensitively) and number."""

    def __init__(self, registers: Sequence[RegisterInfo], architecture: str = "") -> None:
        self.architecture = architecture
        self._registers = tuple(registers)
        self._by_name = {r.name: r for r in registers}
        self._by_lower = {r.name.lower(): r for r in registers}
        self._by_number = {r.regnum: r for r in registers}

    @classmethod
    def from_xml(cls, document: bytes | str) -> RegisterTable:
        root = ElementTree.fromstring(document)
        arch_element = root.find("architecture")
        architecture = (arch_element.text or "").strip() if arch_element is not None else ""
        registers: list[RegisterInfo] = []
        regnum = -1
        for reg in root.iter("reg"):
            explicit = reg.get("regnum")
            regnum = int(explicit, 0) if explicit is not None else regnum + 1
            registers.append(
                RegisterInfo(
                    reg.get("name", ""), regnum, int(reg.get("bitsize", "0"), 0), reg.get("group")
                )
            )
        if not registers:
            raise ValueError("the target description names no registers")
        return cls(registers, architecture)

    def __iter__(self) -> Iterator[RegisterInfo]:
        return iter(self._registers)

    def __len__(self) -> int:
        return len(self._registers)

    def by_number(self, regnum: int) -> RegisterInfo | None:
        return self._by_number.get(regnum)

    def lookup(self, name: str) -> RegisterInfo:
        """The register called ``name`` (exact, an alias such as ``lr``, or any case)."""
        found = self._by_name.get(name)
        if found is None:
            alias = ALIASES.get(self.architecture.split(":")[0], {}).get(name.lower())
            found = self._by_name.get(alias) if alias else None
        if found is None:
            found = self._by_lower.get(name.lower())
        if found is None:
            names = " ".join(r.name for r in self._registers[:40])
            raise RegisterError(
                f"no register {name!r} on {self.architecture or 'this target'} ({names} ...)"
            )
        return found

    @property
    def pc(self) -> RegisterInfo:
        return self.lookup("pc")
