"""The device tree as the board reads it, and the errors a bad one gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ARCHES, dts
from xgdbvm.machine.devicetree import DeviceTree, MemoryBank
from xgdbvm.machine.errors import ConfigError


@pytest.mark.parametrize("arch", ARCHES)
def test_shipped_trees_describe_the_xen_guest_layout(arch: str) -> None:
    tree = DeviceTree.from_path(dts(arch))
    hyp = tree.hypervisor()
    assert hyp.version == (4, 19)
    assert hyp.grant_window == (0x38000000, 0x01000000)
    assert hyp.event_intid == 31
    assert tree.memory_banks() == [MemoryBank(0x40000000, 0x08000000)]
    uart = tree.find_compatible("arm,sbsa-uart")
    assert uart is not None and uart.regs == ((0x22000000, 0x1000),) and uart.interrupts == (32,)
    gic = tree.find_compatible("arm,cortex-a15-gic")
    assert gic is not None and gic.regs == ((0x03001000, 0x1000), (0x03002000, 0x2000))
    timer = tree.find_compatible("arm,armv8-timer", "arm,armv7-timer")
    assert timer is not None and timer.interrupts == (29, 30, 27)


def test_patching_memory_and_bootargs_round_trips() -> None:
    tree = DeviceTree.from_path(dts("arm64"))
    tree.set_memory([MemoryBank(0x40000000, 0xC0000000), MemoryBank(0x200000000, 0x40000000)])
    tree.set_bootargs("xgdbvm.test=psci console=hvc0")
    again = DeviceTree(tree.to_blob())
    assert again.memory_banks() == [
        MemoryBank(0x40000000, 0xC0000000),
        MemoryBank(0x200000000, 0x40000000),
    ]
    assert again.bootargs() == "xgdbvm.test=psci console=hvc0"


def test_tree_without_hypervisor_is_refused(tmp_path: Path) -> None:
    source = dts("arm64").read_text()
    start = source.index("hypervisor {")
    end = source.index("};", start) + 2
    broken = tmp_path / "nohyp.dts"
    broken.write_text(source[:start] + source[end:])
    with pytest.raises(ConfigError, match="no /hypervisor node"):
        DeviceTree.from_path(broken).hypervisor()


def test_hypervisor_without_version_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "nover.dts"
    broken.write_text(dts("arm64").read_text().replace('"xen,xen-4.19", ', ""))
    with pytest.raises(ConfigError, match=r"xen,xen-X\.Y"):
        DeviceTree.from_path(broken).hypervisor()


def test_garbage_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dts"
    bad.write_text("this is not a device tree")
    with pytest.raises(ConfigError, match="dtc"):
        DeviceTree.from_path(bad)
    blob = tmp_path / "bad.dtb"
    blob.write_bytes(b"\xd0\x0d\xfe\xed" + b"\xff" * 60)
    with pytest.raises(ConfigError, match="not a valid device tree"):
        DeviceTree.from_path(blob)
