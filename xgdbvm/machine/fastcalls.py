"""The vCPU's exception hook, installed in C, and its fast path for constant hypercalls.

``native/hvc.c`` is the machine's one UC_HOOK_INTR hook. It answers the calls
listed here (``ConstantCall``: a hypercall, a command, a fixed answer) without
Python and queues a record of each; every other exception comes to the
Python handler given at construction, as the binding's hook would have. The
machine drains the queue into a ``HypercallBatch`` before it emits anything
else, so observers see every call in order. Turning the path off (``enabled``)
sends every hypercall to Python, which hypercall breakpoints need.

Costs, measured by ``./scripts/bench hypercall``: a call through Python takes
tens of microseconds, one answered here about as long as the trap itself.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Sequence

import unicorn

from xgdbvm.machine.events import CALL_RECORD, HypercallBatch
from xgdbvm.machine.ucnative import engine_handle, nativelib, uclib
from xgdbvm.machine.xen.hypercall import ConstantCall

log = logging.getLogger("xgdbvm.machine")

FAST_CALLS = 8  # XGDBVM_FAST_CALLS
CALL_RING = 1024  # XGDBVM_CALL_RING
REG_COUNT = 8  # pc, number, five arguments, CPSR

_IntrHook = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p)


class _FastCall(ctypes.Structure):
    _fields_ = (
        ("number", ctypes.c_uint64),
        ("cmd", ctypes.c_uint64),
        ("cmd_mask", ctypes.c_uint64),
        ("result", ctypes.c_uint64),
    )


class _Traps(ctypes.Structure):
    _fields_ = (
        ("reg_read_batch", ctypes.c_void_p),
        ("reg_write", ctypes.c_void_p),
        ("vmem_read", ctypes.c_void_p),
        ("slow", ctypes.c_void_p),
        ("slow_data", ctypes.c_void_p),
        ("icount", ctypes.c_void_p),
        ("word_mask", ctypes.c_uint64),
        ("hvc_intno", ctypes.c_uint32),
        ("arm32", ctypes.c_uint32),
        ("regs", ctypes.c_int32 * REG_COUNT),
        ("result_reg", ctypes.c_int32),
        ("fast_count", ctypes.c_uint32),
        ("fast", _FastCall * FAST_CALLS),
        ("head", ctypes.c_uint64),
        ("tail", ctypes.c_uint64),
        ("ring", ctypes.c_uint8 * (CALL_RECORD.size * CALL_RING)),
    )


class ExceptionHook:
    """The native exception hook on one engine, with its fast-call table and ring."""

    def __init__(
        self,
        uc: unicorn.Uc,
        *,
        hvc_intno: int,
        arm32: bool,
        regs: Sequence[int],  # pc, hypercall number, five arguments, then CPSR on arm32
        result_reg: int,
        counter_address: int | None,
        slow: Callable[[int], None],
    ) -> None:
        self._slow = slow
        self._zero = ctypes.c_uint64(0)  # the count when nothing counts (--fast)
        self._slow_hook = _IntrHook(self._call_slow)  # kept: C holds its address
        state = self._state = _Traps()
        state.reg_read_batch = ctypes.cast(uclib.uc_reg_read_batch, ctypes.c_void_p).value
        state.reg_write = ctypes.cast(uclib.uc_reg_write, ctypes.c_void_p).value
        state.vmem_read = ctypes.cast(uclib.uc_vmem_read, ctypes.c_void_p).value
        state.slow = ctypes.cast(self._slow_hook, ctypes.c_void_p).value
        state.icount = (
            counter_address if counter_address is not None else ctypes.addressof(self._zero)
        )
        state.word_mask = 0xFFFF_FFFF if arm32 else 0xFFFF_FFFF_FFFF_FFFF
        state.hvc_intno = hvc_intno
        state.arm32 = int(arm32)
        # arm64 has no CPSR slot: C reads one register fewer there, the slot is filler.
        state.regs = (ctypes.c_int32 * REG_COUNT)(*regs, *[regs[0]] * (REG_COUNT - len(regs)))
        state.result_reg = result_reg
        self._calls: tuple[ConstantCall, ...] = ()
        self._enabled = True
        self.served = 0  # calls answered natively and drained so far
        self._drain_lock = threading.Lock()
        self._hook = ctypes.c_size_t()
        err = uclib.uc_hook_add(
            engine_handle(uc),
            ctypes.byref(self._hook),
            unicorn.UC_HOOK_INTR,
            ctypes.cast(nativelib.xgdbvm_traps_intr, ctypes.c_void_p),
            ctypes.byref(state),
            ctypes.c_uint64(1),
            ctypes.c_uint64(0),
        )
        if err != 0:
            raise unicorn.UcError(err)
        self._uc = uc  # the engine must outlive the hook that points into this object

    def _call_slow(self, uc: object, intno: int, data: object) -> None:
        # An exception escaping a ctypes callback is printed and lost: the handler
        # must report its own failures (the machine's turns them into a fault stop).
        try:
            self._slow(intno)
        except Exception:
            log.exception("exception %d: handler failed", intno)

    # -- the table --------------------------------------------------------------------

    def load(self, calls: Sequence[ConstantCall]) -> None:
        """Answer these calls natively from now on (the first FAST_CALLS of them)."""
        self._calls = tuple(calls[:FAST_CALLS])
        for slot, call in zip(self._state.fast, self._calls, strict=False):
            slot.number = call.number
            slot.cmd = call.cmd
            slot.cmd_mask = call.cmd_mask
            slot.result = call.ret & 0xFFFF_FFFF_FFFF_FFFF
        self._apply()

    @property
    def calls(self) -> tuple[ConstantCall, ...]:
        return self._calls

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, on: bool) -> None:
        self._enabled = on
        self._apply()

    def _apply(self) -> None:
        self._state.fast_count = len(self._calls) if self._enabled else 0

    # -- the ring ---------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return bool(self._state.head != self._state.tail)

    def drain(self) -> HypercallBatch | None:
        """The calls answered since the last drain, or None. Safe from any thread."""
        state = self._state
        with self._drain_lock:
            head, tail = state.head, state.tail
            if head == tail:
                return None
            size = CALL_RECORD.size
            ring = memoryview(state.ring).cast("B")
            start, end = (tail % CALL_RING) * size, (head % CALL_RING) * size
            if end > start:
                records = bytes(ring[start:end])
            else:
                records = bytes(ring[start:]) + bytes(ring[:end])
            state.tail = head
            self.served += head - tail
        return HypercallBatch(calls=self._calls, records=records)
