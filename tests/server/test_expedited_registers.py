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
    fields = batched.expedited_fields()
    assert fields == single.expedited_fields()
    assert [r.numbered.name for r in single.expedited] == list(EXPEDITED[arch])
    # n:r; per register, in order, each value little-endian at its register's width
    values = dict(field.split(b":") for field in fields.rstrip(b";").split(b";"))
    assert [int(n, 16) for n in values] == [r.numbered.regnum for r in single.expedited]
    for reg in single.expedited:
        data = bytes.fromhex(values[b"%02x" % reg.numbered.regnum].decode())
        assert len(data) == reg.size
        assert int.from_bytes(data, "little") == reg.access.read()
    pc = values[b"%02x" % single.expedited[0].numbered.regnum]
    assert int.from_bytes(bytes.fromhex(pc.decode()), "little") == cpu.pc
