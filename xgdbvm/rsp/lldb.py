"""Replies to lldb's extensions: host/process info, register info, jThreadsInfo.

lldb probes these before (or instead of) the GDB equivalents; each must be
answered, an empty reply where unsupported. Key/value replies are
``key:value;`` lists as documented in lldb's ``lldbgdbremote`` notes; the
triple is hex-encoded there, everything else is plain text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .constants import ErrorCode
from .hexutil import hex_encode
from .replies import error
from .target_xml import NumberedRegister, TargetDescription, UnionType, VectorType

#: Triples for the two guests; lldb picks its disassembler and ABI from them.
AARCH64_TRIPLE = "aarch64-unknown-none"
ARM_TRIPLE = "armv7-unknown-none-eabi"

_FLOAT_TYPES = frozenset({"ieee_half", "ieee_single", "ieee_double", "bfloat16", "arm_fpa_ext"})


def _pairs(items: Sequence[tuple[str, object]]) -> bytes:
    return "".join(f"{key}:{value};" for key, value in items).encode()


def host_info(triple: str, *, ptrsize: int, endian: str = "little") -> bytes:
    """``qHostInfo``: there is no host OS here, so only the target's shape."""
    return _pairs(
        [("triple", hex_encode(triple.encode()).decode()), ("ptrsize", ptrsize), ("endian", endian)]
    )


def process_info(triple: str, *, ptrsize: int, pid: int = 1, endian: str = "little") -> bytes:
    """``qProcessInfo``: the VM is presented as one process."""
    return _pairs(
        [
            ("pid", f"{pid:x}"),
            ("parent-pid", f"{pid:x}"),
            ("triple", hex_encode(triple.encode()).decode()),
            ("endian", endian),
            ("ptrsize", ptrsize),
        ]
    )


def _encoding_and_format(reg: NumberedRegister) -> tuple[str, str]:
    type_name = reg.register.type
    declared = {d.id: d for d in reg.feature.types}
    if type_name in _FLOAT_TYPES:
        return "ieee754", "float"
    if isinstance(declared.get(type_name or ""), VectorType | UnionType):
        return "vector", "vector-uint8"
    return "uint", "hex"


def register_info(desc: TargetDescription, regnum: int) -> bytes:
    """``qRegisterInfo<n>``; ``E45`` past the last register ends lldb's walk."""
    reg = desc.by_number(regnum)
    if reg is None:
        return error(ErrorCode.NO_MORE_REGISTERS)
    encoding, fmt = _encoding_and_format(reg)
    items: list[tuple[str, object]] = [("name", reg.name)]
    if reg.register.alt_name:
        items.append(("alt-name", reg.register.alt_name))
    items += [
        ("bitsize", reg.register.bitsize),
        ("offset", reg.offset),
        ("encoding", encoding),
        ("format", fmt),
        ("set", reg.feature.register_set),
    ]
    if reg.register.dwarf is not None:
        items += [("ehframe", reg.register.dwarf), ("dwarf", reg.register.dwarf)]
    if reg.register.generic:
        items.append(("generic", reg.register.generic))
    return _pairs(items)


@dataclass(frozen=True, slots=True)
class JsonThread:
    """One thread of ``jThreadsInfo``; ``registers`` maps regnum to target bytes.

    ``reason`` is lldb's word: ``breakpoint``, ``trace``, ``watchpoint``,
    ``signal``, ``exception`` or ``none``.
    """

    tid: int
    name: str | None = None
    reason: str | None = None
    signal: int | None = None
    registers: Mapping[int, bytes] = field(default_factory=dict)


def threads_info(threads: Sequence[JsonThread]) -> bytes:
    """``jThreadsInfo`` JSON. The framing escapes its ``}``, which lldb undoes."""
    documents = []
    for thread in threads:
        entry: dict[str, object] = {"tid": thread.tid}
        if thread.name is not None:
            entry["name"] = thread.name
        if thread.reason is not None:
            entry["reason"] = thread.reason
        if thread.signal is not None:
            entry["signal"] = thread.signal
        if thread.registers:
            # lldb wants decimal register numbers as keys and target-order hex.
            entry["registers"] = {
                str(n): hex_encode(value).decode() for n, value in sorted(thread.registers.items())
            }
        documents.append(entry)
    return json.dumps(documents, separators=(",", ":")).encode()
