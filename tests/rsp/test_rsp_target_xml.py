"""Target descriptions, memory maps and thread lists; GDB itself checks the XML."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from xgdbvm.rsp.arch import (
    AARCH64_CORE,
    AARCH64_FPU,
    ARM_CORE,
    ARM_VFP,
    aarch64_description,
    arm_description,
)
from xgdbvm.rsp.session import ReplyFormat
from xgdbvm.rsp.target_xml import (
    Feature,
    FlagsField,
    FlagsType,
    MemoryRegion,
    MemoryType,
    Register,
    TargetDescription,
    ThreadEntry,
    UnionType,
    VectorType,
    memory_map_xml,
    threads_xml,
)
from xgdbvm.rsp.thread_id import ThreadId

AARCH64_NAMES = [f"x{n}" for n in range(31)] + ["sp", "pc", "cpsr"]
AARCH64_NAMES += [f"v{n}" for n in range(32)] + ["fpsr", "fpcr"]
ARM_NAMES = [f"r{n}" for n in range(13)] + ["sp", "lr", "pc", "cpsr"]
ARM_NAMES += [f"d{n}" for n in range(32)] + ["fpscr"]


def test_aarch64_layout() -> None:
    desc = aarch64_description()
    assert [r.name for r in desc.registers] == AARCH64_NAMES
    assert [r.regnum for r in desc.registers] == list(range(68))
    cpsr = desc.by_name("cpsr")
    assert cpsr is not None and (cpsr.regnum, cpsr.offset, cpsr.size) == (33, 264, 4)
    v0 = desc.by_number(34)
    assert v0 is not None and (v0.name, v0.offset, v0.size) == ("v0", 268, 16)
    assert desc.g_size == 31 * 8 + 8 + 8 + 4 + 32 * 16 + 4 + 4
    assert desc.by_number(68) is None


def test_arm_layout() -> None:
    desc = arm_description()
    assert [r.name for r in desc.registers] == ARM_NAMES
    assert [r.regnum for r in desc.registers] == list(range(50))
    assert desc.g_size == 17 * 4 + 32 * 8 + 4
    d0 = desc.by_name("d0")
    assert d0 is not None and (d0.regnum, d0.offset) == (17, 68)


def test_explicit_regnum_leaves_a_gap_and_packs_g() -> None:
    desc = TargetDescription(
        "arm",
        (Feature("f", (Register("a", 32), Register("b", 32, regnum=25), Register("c", 64))),),
    )
    assert [(r.name, r.regnum, r.offset) for r in desc.registers] == [
        ("a", 0, 0),
        ("b", 25, 4),
        ("c", 26, 8),
    ]


def test_registers_are_ordered_by_number_not_by_feature() -> None:
    desc = TargetDescription(
        "arm",
        (
            Feature("one", (Register("late", 32, regnum=5),)),
            Feature("two", (Register("early", 32, regnum=1),)),
        ),
    )
    assert [r.name for r in desc.registers] == ["early", "late"]


@pytest.mark.parametrize(
    "features",
    [
        (Feature("f", (Register("a", 32), Register("b", 32, regnum=0))),),
        (Feature("f", (Register("a", 32), Register("a", 32))),),
        (Feature("f", (Register("a", 12),)),),
        (Feature("f", (Register("a", 32, "no_such_type"),)),),
    ],
)
def test_bad_descriptions_are_rejected(features: tuple[Feature, ...]) -> None:
    with pytest.raises(ValueError):
        TargetDescription("arm", features)


def test_xml_shape() -> None:
    feature = Feature(
        "org.example.test",
        (Register("r", 32, "flags_t", group="general"), Register("q", 128, "u", regnum=7)),
        types=(
            FlagsType("flags_t", 4, (FlagsField("N", 31, 31),)),
            VectorType("v4", "uint32", 4),
            UnionType("u", (("w", "v4"), ("b", "uint128"))),
        ),
    )
    xml = TargetDescription("arm", (feature, Feature("org.example.empty")), osabi="none").to_xml()
    assert xml.startswith(b'<?xml version="1.0"?>\n<!DOCTYPE target SYSTEM "gdb-target.dtd">\n')
    root = ET.fromstring(xml.split(b"\n", 2)[2])
    assert root.tag == "target" and root.get("version") == "1.0"
    assert root.findtext("architecture") == "arm"
    assert root.findtext("osabi") == "none"
    feat, empty = root.findall("feature")
    assert [child.tag for child in feat] == ["flags", "vector", "union", "reg", "reg"]
    assert feat.find("reg").attrib == {  # type: ignore[union-attr]
        "name": "r",
        "bitsize": "32",
        "regnum": "0",
        "type": "flags_t",
        "group": "general",
    }
    assert feat.findall("reg")[1].get("regnum") == "7"
    assert feat.find("union/field").attrib == {"name": "w", "type": "v4"}  # type: ignore[union-attr]
    assert empty.get("name") == "org.example.empty" and len(empty) == 0


def test_arch_features_match_gdb_names() -> None:
    assert AARCH64_CORE.name == "org.gnu.gdb.aarch64.core"
    assert AARCH64_FPU.name == "org.gnu.gdb.aarch64.fpu"
    assert ARM_CORE.name == "org.gnu.gdb.arm.core"
    assert ARM_VFP.name == "org.gnu.gdb.arm.vfp"
    cpsr = aarch64_description().by_name("cpsr")
    assert cpsr is not None and cpsr.register.bitsize == 32  # GDB's aarch64-core.xml


# --- GDB accepts what we generate ---------------------------------------------

GDB = shutil.which("gdb-multiarch")


def _gdb(xml_path: Path, architecture: str, command: str) -> str:
    assert GDB is not None, "gdb-multiarch is part of the test environment"
    result = subprocess.run(
        [
            GDB,
            "-nx",
            "-batch",
            "-ex",
            f"set architecture {architecture}",
            "-ex",
            f"set tdesc filename {xml_path}",
            "-ex",
            command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "rejected" not in output and "error" not in output.lower(), output
    return output


@pytest.mark.parametrize(
    ("architecture", "desc"),
    [("aarch64", aarch64_description()), ("arm", arm_description())],
)
def test_gdb_accepts_target_xml(tmp_path: Path, architecture: str, desc: TargetDescription) -> None:
    xml_path = tmp_path / "target.xml"
    xml_path.write_bytes(desc.to_xml())
    output = _gdb(xml_path, architecture, "maint print remote-registers")
    # "Name Nr Rel Offset Size Type Rmt-Nr g/G-Offset": GDB's view of our wire layout.
    remote = {}
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 8 and fields[6].isdigit():
            remote[fields[0]] = (int(fields[6]), int(fields[7]))
    for reg in desc.registers:
        assert remote.get(reg.name) == (reg.regnum, reg.offset), reg.name


def test_gdb_shows_aarch64_vector_and_flag_types(tmp_path: Path) -> None:
    xml_path = tmp_path / "target.xml"
    xml_path.write_bytes(aarch64_description().to_xml())
    output = _gdb(xml_path, "aarch64", "maint print registers")
    assert re.search(r"^ v31\s+65\s.*aarch64v", output, re.M), output
    assert re.search(r"^ cpsr\s+33\s.*cpsr_flags", output, re.M), output
    assert re.search(r"^ fpcr\s+67\s.*fpcr_flags", output, re.M), output


def test_gdb_derives_arm_single_precision_registers(tmp_path: Path) -> None:
    xml_path = tmp_path / "target.xml"
    xml_path.write_bytes(arm_description().to_xml())
    output = _gdb(xml_path, "arm", "maint print registers")
    assert re.search(r"^ s31\s", output, re.M), output
    assert re.search(r"^ cpsr\s", output, re.M), output


# --- memory map and threads ------------------------------------------------


def test_memory_map_xml() -> None:
    xml = memory_map_xml(
        [
            MemoryRegion(0x4000_0000, 0x800_0000),
            MemoryRegion(0x0, 0x100_0000, MemoryType.ROM),
            MemoryRegion(0x1000_0000, 0x40_0000, MemoryType.FLASH, blocksize=0x1000),
        ]
    )
    assert b"<!DOCTYPE memory-map" in xml
    body = xml.split(b"\n", 2)[2].decode()
    assert body == (
        "<memory-map>\n"
        '  <memory type="rom" start="0x0" length="0x1000000"/>\n'
        '  <memory type="flash" start="0x10000000" length="0x400000">\n'
        '    <property name="blocksize">0x1000</property>\n'
        "  </memory>\n"
        '  <memory type="ram" start="0x40000000" length="0x8000000"/>\n'
        "</memory-map>\n"
    )


def test_flash_needs_blocksize() -> None:
    with pytest.raises(ValueError):
        memory_map_xml([MemoryRegion(0, 0x1000, MemoryType.FLASH)])


def test_threads_xml() -> None:
    entries = [
        ThreadEntry(ThreadId(1), name="vcpu0", core=0, extra="EL1 <running>"),
        ThreadEntry(ThreadId(2)),
    ]
    assert threads_xml(entries) == (
        b'<?xml version="1.0"?>\n<threads>\n'
        b'  <thread id="1" core="0" name="vcpu0">EL1 &lt;running&gt;</thread>\n'
        b'  <thread id="2"></thread>\n'
        b"</threads>\n"
    )
    multi = threads_xml(entries[:1], fmt=ReplyFormat(multiprocess=True))
    assert b'id="p1.1"' in multi
