"""SMCCC calls on ``hvc #0``: PSCI and the Arm architecture and Xen services.

What Xen's vsmc.c and vpsci.c answer, for one vCPU. Function IDs not in the
table return -1 (SMCCC NOT_SUPPORTED / PSCI NOT_SUPPORTED), as Xen does.
Results go to x0-x3 / r0-r3.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from xgdbvm.machine.xen.abi import ShutdownReason
from xgdbvm.machine.xen.domain import DomainState

NOT_SUPPORTED = -1
PSCI_INVALID_PARAMETERS = -2
PSCI_ALREADY_ON = -4


class Fid(IntEnum):
    SMCCC_VERSION = 0x80000000
    SMCCC_ARCH_FEATURES = 0x80000001
    SMCCC_ARCH_WORKAROUND_1 = 0x80008000
    SMCCC_ARCH_WORKAROUND_2 = 0x80007FFF
    SMCCC_ARCH_WORKAROUND_3 = 0x80003FFF
    PSCI_VERSION = 0x84000000
    PSCI_CPU_SUSPEND = 0x84000001
    PSCI_CPU_OFF = 0x84000002
    PSCI_CPU_ON = 0x84000003
    PSCI_AFFINITY_INFO = 0x84000004
    PSCI_MIGRATE_INFO_TYPE = 0x84000006
    PSCI_SYSTEM_OFF = 0x84000008
    PSCI_SYSTEM_RESET = 0x84000009
    PSCI_FEATURES = 0x8400000A
    PSCI_CPU_SUSPEND64 = 0xC4000001
    PSCI_CPU_ON64 = 0xC4000003
    PSCI_AFFINITY_INFO64 = 0xC4000004
    STD_CALL_COUNT = 0x8400FF00
    STD_CALL_UID = 0x8400FF01
    STD_REVISION = 0x8400FF03
    XEN_CALL_COUNT = 0x8500FF00  # owner 5: the hypervisor service Xen files itself under
    XEN_CALL_UID = 0x8500FF01
    XEN_REVISION = 0x8500FF03


def _uid_registers(text: str) -> tuple[int, ...]:
    """A service UID as SMCCC returns it: four little-endian bytes per register."""
    raw = uuid.UUID(text).bytes
    return tuple(int.from_bytes(raw[i : i + 4], "little") for i in range(0, 16, 4))


XEN_UID = _uid_registers("a71812dc-c698-4369-9acf-79d18ddee667")
STD_UID = _uid_registers("f863386f-4b39-4cbd-9220-ce1641e59f6f")


@dataclass
class SmcccResult:
    name: str
    values: tuple[int, ...]


Service = Callable[[tuple[int, ...]], tuple[int, ...]]


class Smccc:
    def __init__(self, state: DomainState) -> None:
        self._state = state
        self._table: dict[int, Service] = {
            Fid.SMCCC_VERSION: lambda a: (0x10002,),
            Fid.SMCCC_ARCH_FEATURES: self._arch_features,
            Fid.SMCCC_ARCH_WORKAROUND_1: lambda a: (0,),
            Fid.SMCCC_ARCH_WORKAROUND_2: lambda a: (0,),
            Fid.SMCCC_ARCH_WORKAROUND_3: lambda a: (0,),
            Fid.PSCI_VERSION: lambda a: (0x10001,),
            Fid.PSCI_CPU_SUSPEND: lambda a: (0,),
            Fid.PSCI_CPU_SUSPEND64: lambda a: (0,),
            Fid.PSCI_CPU_ON: self._cpu_on,
            Fid.PSCI_CPU_ON64: self._cpu_on,
            Fid.PSCI_AFFINITY_INFO: self._affinity_info,
            Fid.PSCI_AFFINITY_INFO64: self._affinity_info,
            Fid.PSCI_MIGRATE_INFO_TYPE: lambda a: (2,),
            Fid.PSCI_SYSTEM_OFF: self._shutdown(ShutdownReason.poweroff),
            Fid.PSCI_SYSTEM_RESET: self._shutdown(ShutdownReason.reboot),
            Fid.PSCI_FEATURES: self._psci_features,
            Fid.STD_CALL_COUNT: lambda a: (3,),
            Fid.STD_CALL_UID: lambda a: STD_UID,
            Fid.STD_REVISION: lambda a: (0, 1),
            Fid.XEN_CALL_COUNT: lambda a: (3,),
            Fid.XEN_CALL_UID: lambda a: XEN_UID,
            Fid.XEN_REVISION: lambda a: (0, 1),
        }

    def call(self, args: tuple[int, ...]) -> SmcccResult:
        fid = args[0] & 0xFFFF_FFFF
        try:
            name = Fid(fid).name
        except ValueError:
            name = f"smccc_{fid:#010x}"
        service = self._table.get(fid)
        values = (NOT_SUPPORTED,) if service is None else service(args)
        return SmcccResult(name, values)

    def _arch_features(self, args: tuple[int, ...]) -> tuple[int, ...]:
        queried = args[1] & 0xFFFF_FFFF
        if queried == Fid.SMCCC_ARCH_WORKAROUND_1:
            return (0,)
        return (NOT_SUPPORTED,)

    def _psci_features(self, args: tuple[int, ...]) -> tuple[int, ...]:
        queried = args[1] & 0xFFFF_FFFF
        psci = queried >> 24 in (0x84, 0xC4) and queried in self._table
        return (0,) if psci or queried == Fid.SMCCC_VERSION else (NOT_SUPPORTED,)

    def _cpu_on(self, args: tuple[int, ...]) -> tuple[int, ...]:
        # One vCPU today: MPIDR 0 is this one, anything else does not exist.
        return (PSCI_ALREADY_ON,) if args[1] == 0 else (PSCI_INVALID_PARAMETERS,)

    def _affinity_info(self, args: tuple[int, ...]) -> tuple[int, ...]:
        return (0,) if args[1] == 0 else (PSCI_INVALID_PARAMETERS,)

    def _shutdown(self, reason: ShutdownReason) -> Service:
        def service(args: tuple[int, ...]) -> tuple[int, ...]:
            self._state.request_shutdown(reason, "PSCI")
            return (0,)

        return service
