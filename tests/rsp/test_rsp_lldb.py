"""lldb extension replies built from the same register list as target.xml."""

from __future__ import annotations

import json

import pytest

from xgdbvm.rsp.arch import aarch64_description, arm_description
from xgdbvm.rsp.lldb import (
    AARCH64_TRIPLE,
    ARM_TRIPLE,
    JsonThread,
    host_info,
    process_info,
    register_info,
    threads_info,
)
from xgdbvm.rsp.target_xml import TargetDescription


def test_host_info() -> None:
    assert host_info(AARCH64_TRIPLE, ptrsize=8) == (
        b"triple:616172636836342d756e6b6e6f776e2d6e6f6e65;ptrsize:8;endian:little;"
    )
    assert bytes.fromhex(host_info(ARM_TRIPLE, ptrsize=4).split(b";")[0][7:].decode()) == (
        b"armv7-unknown-none-eabi"
    )


def test_process_info() -> None:
    assert process_info(AARCH64_TRIPLE, ptrsize=8) == (
        b"pid:1;parent-pid:1;triple:616172636836342d756e6b6e6f776e2d6e6f6e65;"
        b"endian:little;ptrsize:8;"
    )


REGISTER_INFO_TABLE = [
    (
        aarch64_description(),
        0,
        b"name:x0;bitsize:64;offset:0;encoding:uint;format:hex;"
        b"set:General Purpose Registers;ehframe:0;dwarf:0;generic:arg1;",
    ),
    (
        aarch64_description(),
        29,
        b"name:x29;alt-name:fp;bitsize:64;offset:232;encoding:uint;format:hex;"
        b"set:General Purpose Registers;ehframe:29;dwarf:29;generic:fp;",
    ),
    (
        aarch64_description(),
        32,
        b"name:pc;bitsize:64;offset:256;encoding:uint;format:hex;"
        b"set:General Purpose Registers;ehframe:32;dwarf:32;generic:pc;",
    ),
    (
        aarch64_description(),
        33,
        b"name:cpsr;bitsize:32;offset:264;encoding:uint;format:hex;"
        b"set:General Purpose Registers;generic:flags;",
    ),
    (
        aarch64_description(),
        34,
        b"name:v0;bitsize:128;offset:268;encoding:vector;format:vector-uint8;"
        b"set:Floating Point Registers;ehframe:64;dwarf:64;",
    ),
    (
        arm_description(),
        14,
        b"name:lr;bitsize:32;offset:56;encoding:uint;format:hex;"
        b"set:General Purpose Registers;ehframe:14;dwarf:14;generic:ra;",
    ),
    (
        arm_description(),
        17,
        b"name:d0;bitsize:64;offset:68;encoding:ieee754;format:float;"
        b"set:Floating Point Registers;ehframe:256;dwarf:256;",
    ),
    (aarch64_description(), 68, b"E45"),
    (arm_description(), 50, b"E45"),
]


@pytest.mark.parametrize(("desc", "regnum", "expected"), REGISTER_INFO_TABLE)
def test_register_info(desc: TargetDescription, regnum: int, expected: bytes) -> None:
    assert register_info(desc, regnum) == expected


def test_register_info_walk_is_contiguous() -> None:
    desc = aarch64_description()
    n = 0
    while register_info(desc, n) != b"E45":
        n += 1
    assert n == len(desc.registers)


def test_threads_info_json() -> None:
    reply = threads_info(
        [
            JsonThread(1, "vcpu0", "breakpoint", 5, {32: b"\x80\x00\x00\x40\x00\x00\x00\x00"}),
            JsonThread(2),
        ]
    )
    assert json.loads(reply) == [
        {
            "tid": 1,
            "name": "vcpu0",
            "reason": "breakpoint",
            "signal": 5,
            "registers": {"32": "8000004000000000"},
        },
        {"tid": 2},
    ]
