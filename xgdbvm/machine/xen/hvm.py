"""hvm_op (hypercall 34) as xen/arch/arm/hvm.c answers it: HVM params for an ARM guest.

Contract:
- ``struct xen_hvm_param`` (16 bytes): ``domid`` u16 @0, ``pad`` u16 @2,
  ``index`` u32 @4, ``value`` u64 @8.
- Order of checks: copy in (-EFAULT), domain lookup (DOMID_SELF or the guest's
  own id; the backend domain exists; anything else -ESRCH), XSM_TARGET (the
  backend domain's params: -EPERM unless privileged), then the access rules:
  get CALLBACK_IRQ, STORE_PFN, STORE_EVTCHN, CONSOLE_PFN, CONSOLE_EVTCHN; get
  MONITOR_RING_PFN -EPERM for the domain itself; set of any of those six by the
  domain itself -EPERM (toolstack only); any other index -EINVAL. Params the
  toolstack never set read as 0.
- ``HVMOP_guest_request_vm_event`` with a NULL argument is 0 (no monitor is
  listening), non-NULL -EINVAL. Every other op -ENOSYS.

The machine supplies the toolstack's values (``toolstack_params``); use
``callback_irq_ppi`` for CALLBACK_IRQ.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from xgdbvm.machine.xen.abi import DOMID_SELF, Hypercall
from xgdbvm.machine.xen.errno import HypercallError, XenErrno
from xgdbvm.machine.xen.guest import GuestAccess
from xgdbvm.machine.xen.hypercall import Call, Handler, SubopTable
from xgdbvm.machine.xen.structs import GuestStruct, Layout, read_struct, write_struct

HVM_NR_PARAMS: Final = 39
GUEST_EVTCHN_PPI: Final = 31
CALLBACK_TYPE_SHIFT: Final = 56
CALLBACK_TYPE_PPI: Final = 2
PPI_FLAG_SHIFT: Final = 8
PPI_FLAG_EDGE: Final = 1 << 0  # bit 8 of the value: edge (1) / level (0)
PPI_FLAG_ACTIVE_LOW: Final = 1 << 1  # bit 9: active low (1) / high (0)


class HvmOp(IntEnum):
    set_param = 0
    get_param = 1
    guest_request_vm_event = 24


class HvmParam(IntEnum):
    CALLBACK_IRQ = 0
    STORE_PFN = 1
    STORE_EVTCHN = 2
    IOREQ_PFN = 5
    CONSOLE_PFN = 17
    CONSOLE_EVTCHN = 18
    MONITOR_RING_PFN = 28


def callback_irq_ppi(
    ppi: int = GUEST_EVTCHN_PPI, edge: bool = False, active_low: bool = True
) -> int:
    """HVM_PARAM_CALLBACK_IRQ for a PPI, as libxl and domain_build.c compose it.

    Default (level, active low, PPI 31) is 0x020000000000021F.
    """
    flags = (PPI_FLAG_EDGE if edge else 0) | (PPI_FLAG_ACTIVE_LOW if active_low else 0)
    return (CALLBACK_TYPE_PPI << CALLBACK_TYPE_SHIFT) | (flags << PPI_FLAG_SHIFT) | (ppi & 0xFF)


class Access(IntEnum):
    """What the domain itself may do with a param (hvm_allow_{get,set}_param)."""

    NONE = 0  # hole, deprecated or out of range: -EINVAL either way
    READ = 1  # guest may get; set by the domain is -EPERM
    TOOLSTACK = 2  # neither get nor set by the domain: -EPERM


ACCESS: Final[Mapping[int, Access]] = {
    HvmParam.CALLBACK_IRQ: Access.READ,
    HvmParam.STORE_PFN: Access.READ,
    HvmParam.STORE_EVTCHN: Access.READ,
    HvmParam.CONSOLE_PFN: Access.READ,
    HvmParam.CONSOLE_EVTCHN: Access.READ,
    HvmParam.MONITOR_RING_PFN: Access.TOOLSTACK,
}


@dataclass(frozen=True)
class HvmParamArg(GuestStruct):
    """``struct xen_hvm_param``."""

    LAYOUT = Layout(
        lambda c: c.Struct(
            "domid" / c.Int16ul, "pad" / c.Int16ul, "index" / c.Int32ul, "value" / c.Int64ul
        )
    )

    domid: int = 0
    pad: int = 0
    index: int = 0
    value: int = 0


def param_name(index: int) -> str:
    try:
        return f"HVM_PARAM_{HvmParam(index).name}"
    except ValueError:
        return f"HVM param {index}"


class HvmOps:
    def __init__(
        self,
        guest: GuestAccess,
        toolstack_params: Mapping[int, int],
        *,
        domid: int = 1,
        backend_domid: int = 0,
        privileged: bool = False,
    ) -> None:
        self._mem = guest
        self.domid = domid
        self.backend_domid = backend_domid
        self.privileged = privileged
        self.params: dict[int, int] = {}
        for index, value in toolstack_params.items():
            self.toolstack_set(index, value)

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        return {
            Hypercall.hvm_op: SubopTable(
                HvmOp,
                {
                    HvmOp.set_param: self._set_param,
                    HvmOp.get_param: self._get_param,
                    HvmOp.guest_request_vm_event: self._guest_request_vm_event,
                },
                cmd_mask=(1 << 64) - 1,  # `unsigned long op`: no truncation
            )
        }

    def toolstack_set(self, index: int, value: int) -> None:
        """What libxl does with xc_hvm_param_set before the guest runs."""
        if not 0 <= index < HVM_NR_PARAMS:
            raise ValueError(f"HVM param {index} out of range")
        self.params[index] = value & ((1 << 64) - 1)

    def get(self, index: int) -> int:
        return self.params.get(index, 0)

    def _read(self, call: Call) -> HvmParamArg:
        arg = read_struct(self._mem, HvmParamArg, call.args[1])
        if arg.domid not in (DOMID_SELF, self.domid):
            if arg.domid != self.backend_domid:
                raise HypercallError(XenErrno.ESRCH, f"no domain {arg.domid:#x}")
            why = "the backend domain's params are not modelled"
            if not self.privileged:
                why = f"dom{self.domid} may not touch dom{arg.domid}'s params"
            raise HypercallError(XenErrno.EPERM, why)
        call.note = param_name(arg.index)
        return arg

    def _get_param(self, call: Call) -> int:
        arg = self._read(call)
        access = ACCESS.get(arg.index, Access.NONE)
        if access is Access.NONE:
            raise HypercallError(XenErrno.EINVAL, f"{call.note} cannot be read")
        if access is Access.TOOLSTACK:
            raise HypercallError(XenErrno.EPERM, f"{call.note} is for the toolstack only")
        value = self.get(arg.index)
        write_struct(self._mem, call.args[1], dataclasses.replace(arg, value=value))
        call.note = f"{call.note} = {value:#x}"
        return 0

    def _set_param(self, call: Call) -> int:
        arg = self._read(call)
        if ACCESS.get(arg.index, Access.NONE) is Access.NONE:
            raise HypercallError(XenErrno.EINVAL, f"{call.note} cannot be set")
        raise HypercallError(XenErrno.EPERM, f"{call.note} is set by the toolstack only")

    def _guest_request_vm_event(self, call: Call) -> int:
        if call.args[1] != 0:
            raise HypercallError(XenErrno.EINVAL, "the argument must be NULL")
        call.note = "no monitor listening"
        return 0
