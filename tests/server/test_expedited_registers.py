"""The registers of every stop reply, read in one batch, are the ones read one by one."""

from __future__ import annotations

import pytest

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.adapters.registers import EXPEDITED, RegisterMap


@pytest.mark.parametrize("arch", ARCHES)
def test_batched_expedited_registers_match_single_reads(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, _ = make_machine(arch)
    for _ in range(200):  # somewhere past the entry, with sp, fp and flags set
        machine.step()
    cpu = machine.cpu
    batched = RegisterMap(arch, cpu.register_table(), cpu.read_regs)
    single = RegisterMap(arch, cpu.register_table())
    values = batched.read_expedited()
    assert values == single.read_expedited()
    assert [regnum for regnum, _ in values] == [r.numbered.regnum for r in single.expedited]
    assert [r.numbered.name for r in single.expedited] == list(EXPEDITED[arch])
    pc = next(data for regnum, data in values if regnum == single.expedited[0].numbered.regnum)
    assert int.from_bytes(pc, "little") == cpu.pc
