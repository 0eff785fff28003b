"""construct at the edge: guest structs parsed into frozen dataclasses.

Each guest struct is declared once as a construct ``Struct`` and once as the
dataclass handlers use; ``GuestStruct`` ties them so that handlers never pass
construct ``Container``s around.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar, Self

from construct import Struct


class GuestStruct:
    """Mixin for a frozen dataclass with a ``LAYOUT`` construct Struct of the same fields."""

    LAYOUT: ClassVar[Struct]

    @classmethod
    def byte_size(cls) -> int:
        return int(cls.LAYOUT.sizeof())

    @classmethod
    def decode(cls, data: bytes) -> Self:
        parsed = cls.LAYOUT.parse(data)
        names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
        return cls(**{name: parsed[name] for name in names})

    def encode(self) -> bytes:
        values: dict[str, Any] = asdict(self)  # type: ignore[call-overload]
        return bytes(self.LAYOUT.build(values))
