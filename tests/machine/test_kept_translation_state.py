"""What translation reads keep (system registers while stopped, stage-1 walks): never stale."""

from __future__ import annotations

import pytest
import unicorn
import unicorn.arm64_const as a64

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.memory import GuestMemoryFault
from xgdbvm.machine.mmu import TableFormat
from xgdbvm.machine.ucnative import SystemRegisterFile

SCTLR_EL1 = (1, 0, 3, 0, 0)  # (CRn, CRm, op0, op1, op2)


def _bare() -> tuple[unicorn.Uc, SystemRegisterFile]:
    uc = unicorn.Uc(unicorn.UC_ARCH_ARM64, unicorn.UC_MODE_ARM)
    return uc, SystemRegisterFile(uc, a64.UC_ARM64_REG_CP_REG)


def test_a_write_while_held_is_read_back() -> None:
    _, sysregs = _bare()
    sysregs.hold()
    before = sysregs.read(SCTLR_EL1)
    sysregs.write(SCTLR_EL1, before | 1)
    assert sysregs.read(SCTLR_EL1) == before | 1
    sysregs.write(SCTLR_EL1, before)
    assert sysregs.read(SCTLR_EL1) == before


def test_released_reads_see_the_engine() -> None:
    uc, sysregs = _bare()
    sysregs.hold()
    before = sysregs.read(SCTLR_EL1)
    sysregs.release()  # as before a run: the guest may change it behind our back
    uc.reg_write(a64.UC_ARM64_REG_CP_REG, (*SCTLR_EL1, before ^ 1))
    assert sysregs.read(SCTLR_EL1) == before ^ 1


@pytest.mark.parametrize("arch", ARCHES)
def test_the_mmu_switching_on_is_seen_at_the_next_stop(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, _ = make_machine(arch, bootargs="xgdbvm.test=mmu")
    main = next(s.address for s in machine.layout.image.symbols if s.name == "mmu_virtual_main")
    machine.step()
    assert not machine.cpu.mmu_enabled()  # read while stopped, and kept...
    machine.debug.add_breakpoint(main)
    machine.run(50_000_000)
    assert machine.cpu.pc == main
    assert machine.cpu.mmu_enabled()  # ...until the guest ran and turned it on
    # And what a debugger reads there goes through the guest's tables.
    assert machine.debug_read(main, 4) == machine.memory.read(machine.virtual_to_ipa(main), 4)


def _at_virtual_main(make_machine: MachineFactory, arch: str) -> tuple[Machine, int]:
    machine, _ = make_machine(arch, bootargs="xgdbvm.test=mmu")
    main = next(s.address for s in machine.layout.image.symbols if s.name == "mmu_virtual_main")
    machine.debug.add_breakpoint(main)
    machine.run(50_000_000)
    assert machine.cpu.pc == main
    return machine, main


def _moved_leaf(machine: Machine, va: int) -> tuple[int, int, bytes]:
    """(IPA of va, descriptor address, the descriptor moved one entry's span on)."""
    walk = machine.translate(va)
    leaf = walk.steps[-1]
    assert walk.ipa is not None and leaf.descriptor is not None
    width = 4 if walk.format is TableFormat.SHORT else 8
    moved = (leaf.descriptor + leaf.span).to_bytes(width, "little")
    return walk.ipa, leaf.address, moved


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("view", ["debugger", "vcpu"])
def test_a_page_table_edit_is_seen_by_the_next_read(
    make_machine: MachineFactory, arch: str, view: str
) -> None:
    # The debugger's reads trust a walk checked since the last run or debugger write;
    # the vCPU's (hypercall copies) check each time, since the guest runs between them
    # unseen: here the edit comes behind the machine's back, as the guest's store would.
    machine, main = _at_virtual_main(make_machine, arch)
    if view == "debugger":
        read, write = machine.debug_read, machine.debug_write_physical  # gdb in IPA mode
    else:
        read, write = machine.read_virtual, machine.memory.write
    ipa, descriptor, moved = _moved_leaf(machine, main)
    assert read(main, 4) == machine.memory.read(ipa, 4)  # now kept
    write(descriptor, moved)
    span = machine.translate(main).ipa - ipa  # type: ignore[operator]
    assert span > 0
    assert read(main, 4) == machine.memory.read(ipa + span, 4)


@pytest.mark.parametrize("arch", ARCHES)
def test_a_debugger_write_of_a_translation_register_is_seen_by_the_next_read(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, main = _at_virtual_main(make_machine, arch)
    assert machine.debug_read(main, 4)
    sctlr = machine.cpu.register_table()["SCTLR_EL1" if arch == "arm64" else "SCTLR"]
    sctlr.write(sctlr.read() & ~1)  # the MMU off, from the debugger
    with pytest.raises(GuestMemoryFault):
        machine.debug_read(main, 4)  # now a physical address with no RAM behind it


@pytest.mark.parametrize("arch", ARCHES)
def test_a_kept_translation_outlives_a_step_without_a_new_walk(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, main = _at_virtual_main(make_machine, arch)
    tlb = machine._walks
    first = machine.debug_read(main, 16)
    walks = tlb.walks
    for _ in range(5):
        machine.step()  # the guest runs: its registers are read again, its tables checked
        assert machine.debug_read(main, 16) == first
    assert tlb.walks == walks


def test_permissions_apply_to_a_kept_walk(make_machine: MachineFactory) -> None:
    machine, main = _at_virtual_main(make_machine, "arm64")
    data = machine.read_virtual(main, 4)
    machine.write_virtual(main, data)  # writable, and now kept
    leaf = machine.translate(main).steps[-1]
    assert leaf.descriptor is not None
    read_only = leaf.descriptor | 1 << 7  # AP[2]: read-only at every level
    machine.debug_write_physical(leaf.address, read_only.to_bytes(8, "little"))
    assert machine.read_virtual(main, 4) == data
    with pytest.raises(GuestMemoryFault, match="permission"):
        machine.write_virtual(main, data)


@pytest.mark.parametrize("arch", ARCHES)
def test_a_walk_the_vcpu_checked_mid_run_is_checked_again_after_it(
    make_machine: MachineFactory, arch: str
) -> None:
    # During a run a hypercall copy checks a kept walk, then the guest rewrites the
    # table: the debugger, reading once the run is over, must not trust that check.
    machine, main = _at_virtual_main(make_machine, arch)
    ipa, descriptor, moved = _moved_leaf(machine, main)

    def guest_activity(uc: unicorn.Uc, address: int, size: int, data: object) -> None:
        assert machine.read_virtual(main, 4) == machine.memory.read(ipa, 4)  # a copy
        machine.memory.write(descriptor, moved)  # then the guest's own store

    machine.uc.hook_add(unicorn.UC_HOOK_CODE, guest_activity, begin=main, end=main)
    machine.step()
    span = machine.translate(main).ipa - ipa  # type: ignore[operator]
    assert span > 0
    assert machine.debug_read(main, 4) == machine.memory.read(ipa + span, 4)
