"""sched_op (hypercall 29): yield, block and shutdown for a single-domain machine."""

from __future__ import annotations

from collections.abc import Mapping

from xgdbvm.machine.xen.abi import Hypercall, SchedOp, ShutdownReason
from xgdbvm.machine.xen.domain import DomainState
from xgdbvm.machine.xen.errno import XenErrno
from xgdbvm.machine.xen.guest import GuestAccess, read_u32
from xgdbvm.machine.xen.hypercall import Call, Constant, Handler, SubopTable


class SchedOps:
    def __init__(self, state: DomainState, guest: GuestAccess) -> None:
        self._state = state
        self._guest = guest

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        return {
            Hypercall.sched_op: SubopTable(
                SchedOp,
                {
                    # One vCPU: yielding returns at once.
                    SchedOp.yield_: Constant(0),
                    SchedOp.block: lambda call: 0,
                    SchedOp.shutdown: self._shutdown,
                    SchedOp.shutdown_code: self._shutdown_code,
                    SchedOp.remote_shutdown: self._remote_shutdown,
                },
            )
        }

    def _reason(self, call: Call) -> ShutdownReason | None:
        raw = read_u32(self._guest, call.args[1])
        try:
            reason = ShutdownReason(raw)
        except ValueError:
            call.note = f"reason {raw}"
            return None
        call.fields["reason"] = reason.name
        return reason

    def _shutdown(self, call: Call) -> int:
        reason = self._reason(call)
        if reason is None:
            return -XenErrno.EINVAL
        self._state.request_shutdown(reason, "SCHEDOP_shutdown")
        return 0

    def _shutdown_code(self, call: Call) -> int:
        reason = self._reason(call)
        if reason is None:
            return -XenErrno.EINVAL
        self._state.shutdown_code = reason
        return 0

    def _remote_shutdown(self, call: Call) -> int:
        call.note = "only a privileged domain may shut down another"
        return -XenErrno.EPERM
