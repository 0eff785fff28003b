"""Each stage-2 layout boots, and places guest RAM where its name says."""

from __future__ import annotations

import itertools

import pytest

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.machine.devicetree import DeviceTree
from xgdbvm.machine.memory import SCATTER_POOL_BASE, P2mLayout
from xgdbvm.machine.stop import Shutdown
from xgdbvm.machine.xen.abi import ShutdownReason
from xgdbvm.machine.xen.domain import DomainConfig

RAM = 0x40000000
MiB = 1 << 20
LAYOUTS = [P2mLayout("scatter"), P2mLayout("identity"), P2mLayout("offset", 0x2000_0000)]


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_each_layout_boots(make_machine: MachineFactory, arch: str, layout: P2mLayout) -> None:
    machine, rec = make_machine(arch, p2m=layout)
    assert machine.run(50_000_000) == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
    assert f"hello from {arch}" in rec.console()


def test_identity_and_offset_place_ram_where_they_say(make_machine: MachineFactory) -> None:
    identity, _ = make_machine(p2m=P2mLayout("identity"))
    assert identity.memory.machine_address(RAM + 0x1234) == RAM + 0x1234
    offset, _ = make_machine(p2m=P2mLayout("offset", 0x2000_0000))
    assert offset.memory.machine_address(RAM + 0x1234) == RAM + 0x2000_0000 + 0x1234
    tree = DeviceTree(offset.board.dtb)
    node = next(n for p, n in tree._nodes() if p == "/hypervisor")
    assert [int(w) for w in node.get_property("dma-offset").data] == [0, 0x2000_0000]


def test_scatter_spreads_ram_over_non_contiguous_machine_chunks(
    make_machine: MachineFactory,
) -> None:
    machine, _ = make_machine(p2m=P2mLayout("scatter"))
    chunks = [machine.memory.machine_address(RAM + i * 2 * MiB) for i in range(64)]
    assert all(c is not None and c >= SCATTER_POOL_BASE for c in chunks)
    steps = {b - a for a, b in itertools.pairwise(chunks)}  # type: ignore[operator]
    assert steps != {2 * MiB}  # not one contiguous block
    assert len(set(chunks)) == 64  # and no chunk used twice
    # Within a chunk, frames stay consecutive.
    assert machine.memory.machine_address(RAM + 0x1000) == chunks[0] + 0x1000  # type: ignore[operator]


def test_dom0_role_is_direct_mapped_with_the_dom0_feature(make_machine: MachineFactory) -> None:
    machine, rec = make_machine(domain=DomainConfig(dom0=True))
    assert machine.config.p2m_layout == P2mLayout("identity")
    machine.run(50_000_000)
    assert "Xen features: 0x00066805" in rec.console()  # bits 11 and 17, not 16
