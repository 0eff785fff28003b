"""The 2-level event ABI's port operations (xen/common/event_2l.c).

Contract, for port p notifying vCPU v (reference section 4.3):

- ``set_pending``: test-and-set p in ``evtchn_pending``; if it was clear, p is
  not masked, and bit p/64 of v's ``evtchn_pending_sel`` was clear
  (test-and-set), mark v's events pending: set ``evtchn_upcall_pending`` and,
  on 0->1, raise the upcall (``VcpuInfos.mark_events_pending``).
- ``unmask``: if the mask bit was set (test-and-clear) and p is pending and
  the selector bit was clear (test-and-set), mark v's events pending.
- ``clear_pending``: clear p in ``evtchn_pending`` (when a port is freed).

Xen also wakes SCHEDOP_poll waiters here; sched_op has no poll in this model.
"""

from __future__ import annotations

from xgdbvm.machine.xen.shared_info import BITS_PER_EVTCHN_WORD, Bitmap, SharedInfo, VcpuInfos


class TwoLevel:
    def __init__(self, vcpu_infos: VcpuInfos) -> None:
        self.vcpu_infos = vcpu_infos
        self.shared: SharedInfo = vcpu_infos.shared

    def set_pending(self, vcpu: int, port: int) -> None:
        if self.shared.test_and_set_bit(Bitmap.pending, port):
            return
        if not self.shared.test_bit(Bitmap.mask, port) and not self._select(vcpu, port):
            self.vcpu_infos.mark_events_pending(vcpu)

    def unmask(self, vcpu: int, port: int) -> None:
        if (
            self.shared.test_and_clear_bit(Bitmap.mask, port)
            and self.shared.test_bit(Bitmap.pending, port)
            and not self._select(vcpu, port)
        ):
            self.vcpu_infos.mark_events_pending(vcpu)

    def clear_pending(self, port: int) -> None:
        self.shared.test_and_clear_bit(Bitmap.pending, port)

    def is_pending(self, port: int) -> bool:
        return self.shared.test_bit(Bitmap.pending, port)

    def is_masked(self, port: int) -> bool:
        return self.shared.test_bit(Bitmap.mask, port)

    def _select(self, vcpu: int, port: int) -> bool:
        """Test-and-set the selector bit for port's word; returns the old bit."""
        view = self.vcpu_infos.view(vcpu)
        return view.test_and_set_sel_bit(port // BITS_PER_EVTCHN_WORD)
