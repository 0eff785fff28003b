"""Direct access to libunicorn, below the Python binding.

The binding's per-call overhead dominates the hypercall path and it cannot
register a hook written in C. This module is the one place that reaches past
it: the loaded library handle, an engine's handle, and the native instruction
clock (see native/tick.c). Everything here depends on unicorn 2.1's binding
layout, which the pinned version guarantees.
"""

from __future__ import annotations

import ctypes
import enum
import importlib.util
from typing import Any

import unicorn
from unicorn import unicorn_py3

_uclib: Any = unicorn_py3.unicorn.uclib


def _load_tick() -> ctypes.CDLL:
    # The hook is built by pip as the extension module xgdbvm.machine._tick.
    spec = importlib.util.find_spec("xgdbvm.machine._tick")
    if spec is None or spec.origin is None:
        raise ImportError("xgdbvm.machine._tick is not built: run ./scripts/bootstrap")
    return ctypes.CDLL(spec.origin)


_ticklib = _load_tick()
# For the other native parts (fastcalls.py): the same two libraries.
uclib: Any = _uclib
nativelib = _ticklib

# The same extension imported as a module: its functions (native/uccalls.c) call
# libunicorn for a fraction of what ctypes costs per call.
_uccalls: Any = importlib.import_module("xgdbvm.machine._tick")
_uccalls.bind(
    *(
        ctypes.cast(function, ctypes.c_void_p).value
        for function in (
            _uclib.uc_reg_read,
            _uclib.uc_reg_write,
            _uclib.uc_reg_read_batch,
            _uclib.uc_emu_start,
        )
    ),
    unicorn.UcError,
)


def engine_handle(uc: unicorn.Uc) -> Any:
    """The ``uc_engine *`` behind a binding object."""
    return uc._uch


def engine_address(uc: unicorn.Uc) -> int:
    """The ``uc_engine *`` behind a binding object, as the int uccalls.c takes."""
    address = uc._uch.value
    if not address:
        raise ValueError("the Unicorn engine is closed")
    return int(address)


def emu_start(uc: unicorn.Uc, begin: int, until: int, timeout_us: int = 0, count: int = 0) -> None:
    """``Uc.emu_start`` without the binding's per-call cost, and the same errors: a
    UcError for the run's status, else the first exception a Python hook raised."""
    uc._hook_exception = None
    status = _uccalls.emu_start(engine_address(uc), begin, until, timeout_us, count)
    if status != 0:
        raise unicorn.UcError(status)
    if uc._hook_exception is not None:
        raise uc._hook_exception


class _TickState(ctypes.Structure):
    """struct xgdbvm_tick of native/tick.c, field for field."""

    _fields_ = (
        ("instructions", ctypes.c_uint64),
        ("limit", ctypes.c_uint64),
        ("deadline", ctypes.c_uint64),
        ("stopped", ctypes.c_uint32),
        ("irq_waiting", ctypes.c_uint32),
        ("emu_stop", ctypes.c_void_p),
        ("reg_read", ctypes.c_void_p),
        ("mask_reg", ctypes.c_int32),
        ("reserved", ctypes.c_uint32),
        ("mask_bit", ctypes.c_uint64),
    )


_U64 = (1 << 64) - 1
NO_DEADLINE = _U64
# The hook function by log2 of the instruction width (native/tick.c).
_TICK_HOOKS = {2: "xgdbvm_tick_block", 1: "xgdbvm_tick_block_t32"}

# uc_ctl's control for the inline counter, which only the libunicorn built by
# ./scripts/bootstrap has (scripts/unicorn/tb-counter.patch); a stock library
# answers UC_ERR_ARG. UC_CTL_WRITE(type, nr) = type | nr << 26 | 1 << 30.
UC_CTL_TB_COUNTER = 0x100
_UC_CTL_TB_COUNTER_WRITE = UC_CTL_TB_COUNTER | 2 << 26 | 1 << 30


class ClockKind(enum.Enum):
    """How the count is kept (see native/tick.c)."""

    INLINE = "inline counter"  # in translated code, by the patched libunicorn
    BLOCK_HOOK = "block hook"  # a C block hook, with any libunicorn


def _start_inline_count(uc: unicorn.Uc, state: ctypes.Structure) -> bool:
    """Ask libunicorn to keep ``state``'s count inline; False if it cannot."""
    err = _uclib.uc_ctl(
        engine_handle(uc),
        ctypes.c_int32(_UC_CTL_TB_COUNTER_WRITE),
        ctypes.c_void_p(ctypes.addressof(state)),
        ctypes.cast(_ticklib.xgdbvm_tick_slow, ctypes.c_void_p),
    )
    if err == unicorn.UC_ERR_ARG:
        return False
    if err != 0:
        raise unicorn.UcError(err)
    return True


class InstructionClock:
    """Counts guest instructions and stops Unicorn at a deadline.

    The count is the machine's notion of elapsed execution: virtual time and
    instruction budgets derive from it, so it must not depend on the host.
    ``kind`` None picks the inline counter when the loaded libunicorn has it.
    ``instruction_shift`` (log2 of the instruction width) matters only to the
    block hook, which sees a block's size in bytes.
    """

    def __init__(
        self,
        uc: unicorn.Uc,
        mask_reg: int,
        mask_bit: int,
        instruction_shift: int = 2,
        kind: ClockKind | None = None,
    ) -> None:
        if instruction_shift not in _TICK_HOOKS:
            raise ValueError(f"no tick hook for instructions of {1 << instruction_shift} bytes")
        self._state = _TickState(
            0,
            NO_DEADLINE,
            NO_DEADLINE,
            0,
            0,
            ctypes.cast(_uclib.uc_emu_stop, ctypes.c_void_p).value,
            ctypes.cast(_uclib.uc_reg_read, ctypes.c_void_p).value,
            mask_reg,
            0,
            mask_bit,
        )
        # Keep the engine alive as long as it refers to our struct.
        self._uc = uc
        self._hook = ctypes.c_size_t()
        self.kind: ClockKind
        if kind is not ClockKind.BLOCK_HOOK and _start_inline_count(uc, self._state):
            self.kind = ClockKind.INLINE
            return
        if kind is ClockKind.INLINE:
            raise RuntimeError(
                "this libunicorn has no inline instruction counter: run ./scripts/bootstrap"
            )
        self.kind = ClockKind.BLOCK_HOOK
        hook_fn = ctypes.cast(getattr(_ticklib, _TICK_HOOKS[instruction_shift]), ctypes.c_void_p)
        err = _uclib.uc_hook_add(
            engine_handle(uc),
            ctypes.byref(self._hook),
            unicorn.UC_HOOK_BLOCK,
            hook_fn,
            ctypes.byref(self._state),
            ctypes.c_uint64(1),
            ctypes.c_uint64(0),
        )
        if err != 0:
            raise unicorn.UcError(err)

    @property
    def instructions(self) -> int:
        return int(self._state.instructions)

    @property
    def counter_address(self) -> int:
        """Where the count lives, for native code that stamps records with it."""
        return ctypes.addressof(self._state) + _TickState.instructions.offset

    def set_deadline(self, instructions: int | None) -> None:
        """Stop the next slice once the count reaches ``instructions`` (None: never)."""
        state = self._state
        state.deadline = NO_DEADLINE if instructions is None else instructions
        state.stopped = 0
        state.limit = 0 if state.irq_waiting else state.deadline

    def stop_soon(self) -> None:
        """Stop at the next block start. Safe from any thread and from inside a memory
        callback, unlike uc_emu_stop, which there can make Unicorn run the current
        instruction (an MMIO store, say) a second time when it resumes."""
        # The deadline first: a hook that sees the limit at 0 then finds it passed.
        self._state.deadline = 0
        self._state.limit = 0

    @property
    def deadline_hit(self) -> bool:
        return bool(self._state.stopped == 1)

    @property
    def irq_window_opened(self) -> bool:
        return bool(self._state.stopped == 2)

    def watch_irq_window(self, waiting: bool) -> None:
        """While an interrupt is pending but masked, stop at the first block the
        vCPU starts with interrupts unmasked."""
        state = self._state
        state.irq_waiting = int(waiting)
        state.limit = 0 if waiting else state.deadline

    def reset(self) -> None:
        self._state.instructions = 0
        self.set_deadline(None)


class UncountedClock:
    """The clock of ``--fast`` runs: nothing is counted and no
    deadline stops Unicorn; the machine bounds its slices with host timeouts."""

    @property
    def instructions(self) -> int:
        return 0

    counter_address = None
    deadline_hit = False
    irq_window_opened = False

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uc = uc

    def set_deadline(self, instructions: int | None) -> None:
        del instructions

    def stop_soon(self) -> None:
        self._uc.emu_stop()  # the only way without a hook; see InstructionClock.stop_soon

    def watch_irq_window(self, waiting: bool) -> None:
        del waiting

    def reset(self) -> None:
        pass


class RegisterFile:
    """Core register access straight through libunicorn.

    The binding spends ~10 us per register call on dispatch and type checks, and
    ctypes ~1.3 us; the hypercall path reads six registers and writes one per
    call, and a debugger's step reads a handful, so reads and writes go through
    native/uccalls.c. Only plain integer registers belong here (not CP_REG or
    vector registers).
    """

    def __init__(self, uc: unicorn.Uc, mask: int) -> None:
        self._engine = engine_address(uc)
        self._mask = mask
        # 64-bit reads need no mask: the native buffer is cleared before each read.
        self._masked = mask != _U64
        self._wide = (ctypes.c_uint8 * 16)()
        self._uc = uc  # keeps the engine alive

    def read(self, reg: int) -> int:
        value: int = _uccalls.reg_read(self._engine, reg)
        return value & self._mask

    def write(self, reg: int, value: int) -> None:
        _uccalls.reg_write(self._engine, reg, value & self._mask)

    def read_wide(self, reg: int) -> int:
        """A 128-bit register (AArch64 V/Q) as an int."""
        buffer = self._wide
        ctypes.memset(buffer, 0, 16)
        _check(_uclib.uc_reg_read(self._engine, reg, buffer))
        return int.from_bytes(bytes(buffer), "little")

    def write_wide(self, reg: int, value: int) -> None:
        buffer = self._wide
        ctypes.memmove(buffer, (value & ((1 << 128) - 1)).to_bytes(16, "little"), 16)
        _check(_uclib.uc_reg_write(self._engine, reg, buffer))

    def read_many(self, regs: tuple[int, ...]) -> tuple[int, ...]:
        values: tuple[int, ...] = _uccalls.reg_read_batch(self._engine, regs)
        if not self._masked:
            return values
        mask = self._mask
        return tuple(v & mask for v in values)


class CodeReader:
    """Instruction bytes at a guest-virtual address, through Unicorn's own walk of the
    vCPU's current translation regime: one library call where the Python walker
    reads system registers and tables. For the trap handlers, which read the
    instruction that just trapped (it was fetched through that same walk)."""

    MAX = 16

    def __init__(self, uc: unicorn.Uc) -> None:
        self._uch = engine_handle(uc)
        self._buffer = (ctypes.c_uint8 * self.MAX)()
        self._uc = uc

    def read(self, va: int, size: int) -> bytes | None:
        """The bytes, or None where the vCPU could not fetch them."""
        if not 0 < size <= self.MAX:
            raise ValueError(f"CodeReader reads 1..{self.MAX} bytes, not {size}")
        err = _uclib.uc_vmem_read(
            self._uch,
            ctypes.c_uint64(va),
            unicorn.UC_PROT_EXEC,
            self._buffer,
            ctypes.c_size_t(size),
        )
        return None if err != 0 else bytes(self._buffer[:size])


class SystemRegisterFile:
    """System (coprocessor) registers through libunicorn directly (native/uccalls.c
    fills in the selector struct): the binding's path costs ~10 us a read, this
    a fraction of one.

    While the vCPU is stopped (``hold``), a value read once is kept until a write
    through this file or ``release``: nothing else changes these registers then,
    and a debugger's every memory read would otherwise read SCTLR again (8% of
    the server's time in a gdb stepi session), and the whole translation regime
    on a guest with its MMU on."""

    def __init__(self, uc: unicorn.Uc, reg_id: int) -> None:
        self._engine = engine_address(uc)
        self._reg_id = reg_id
        self._held: dict[tuple[int, ...], int] | None = None
        self._uc = uc  # keeps the engine alive

    def hold(self) -> None:
        """The vCPU has stopped: keep what is read from now on."""
        self._held = {}

    def release(self) -> None:
        """The vCPU is about to run: read every register afresh."""
        self._held = None

    def read(self, fields: tuple[int, ...]) -> int:
        """The register whose selector struct (uc_arm64_cp_reg / uc_arm_cp_reg) starts
        with ``fields``."""
        held = self._held
        if held is not None:
            kept = held.get(fields)
            if kept is not None:
                return kept
        value: int = _uccalls.cp_reg_read(self._engine, self._reg_id, fields)
        if held is not None:
            held[fields] = value
        return value

    def write(self, fields: tuple[int, ...], value: int) -> None:
        if self._held:
            # All of them: some registers have two encodings (arm32's TTBR0 as 32 and
            # 64 bits), and a written value may read back with fixed bits changed.
            self._held.clear()
        _uccalls.cp_reg_write(self._engine, self._reg_id, fields, value)


def _check(err: int) -> None:
    if err != 0:
        raise unicorn.UcError(err)
