"""What the emulated hypervisor knows about the one guest domain it runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from xgdbvm.machine.xen.abi import DOM0_FEATURES, DOMU_FEATURES, ShutdownReason


@dataclass(frozen=True)
class DomainConfig:
    domid: int = 1
    name: str = "guest"
    dom0: bool = False
    extraversion: str = ".0"
    uuid: uuid.UUID = field(default=uuid.UUID("00000000-0000-4000-8000-786764766d31"))

    @property
    def features(self) -> int:
        return int(DOM0_FEATURES if self.dom0 else DOMU_FEATURES)


@dataclass
class DomainState:
    """Mutable per-run state; reset with the machine."""

    shutdown: ShutdownReason | None = None
    shutdown_via: str = ""
    shutdown_code: ShutdownReason | None = None

    def reset(self) -> None:
        self.shutdown = None
        self.shutdown_via = ""
        self.shutdown_code = None

    def request_shutdown(self, reason: ShutdownReason, via: str) -> None:
        if self.shutdown is None:
            self.shutdown = reason
            self.shutdown_via = via
