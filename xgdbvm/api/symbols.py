"""The guest image's ELF symbols: names to addresses and addresses to ``name+0xoff``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xgdbvm.machine.image import Symbol, load_image
from xgdbvm.trace.convert import Symbolizer

# Where RAM starts on both arches; only a raw Image/zImage needs it, and those have
# no symbols anyway.
RAM_BASE = 0x4000_0000


class SymbolError(LookupError):
    """A symbol the image does not have, or no image to look it up in."""

    def __str__(self) -> str:  # KeyError-style quoting would hide the message
        return str(self.args[0]) if self.args else ""


class Symbols:
    def __init__(self, symbols: Sequence[Symbol], origin: str = "the image") -> None:
        self.origin = origin
        self._by_name: dict[str, Symbol] = {}
        for symbol in symbols:
            self._by_name.setdefault(symbol.name, symbol)
        self._symbolize = Symbolizer(symbols) if symbols else None

    @classmethod
    def from_image(cls, path: Path | str, arch: str) -> Symbols:
        """Read the symbols of the ELF at ``path`` (none for a raw Image or zImage)."""
        image = load_image(Path(path), arch, RAM_BASE)
        return cls(image.symbols, str(path))

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> Symbol:
        try:
            return self._by_name[name]
        except KeyError:
            raise SymbolError(f"{self.origin} has no symbol {name!r}") from None

    def address(self, name: str) -> int:
        """The symbol's value (on arm32 a Thumb function's has bit 0 set)."""
        return self.get(name).address

    def symbolize(self, address: int) -> str | None:
        """``name`` or ``name+0xoff`` of the symbol containing ``address``."""
        return self._symbolize(address) if self._symbolize is not None else None


NO_SYMBOLS = Symbols((), "no image")
