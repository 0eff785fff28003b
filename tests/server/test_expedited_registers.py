"""The registers of every stop reply: read in one batch as one by one, and never stale."""

from __future__ import annotations

import pytest

from tests.conftest import ARCHES, MachineFactory
from xgdbvm.adapters.console_history import ConsoleHistory
from xgdbvm.adapters.gdb_target import GdbTarget
from xgdbvm.adapters.registers import EXPEDITED, RegisterMap
from xgdbvm.machine.stop import Breakpoint, SingleStep
from xgdbvm.rsp.session import ReplyFormat


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
    fields = batched.encode_expedited(batched.expedited_values())
    assert fields == single.encode_expedited(single.expedited_values())
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


@pytest.mark.parametrize("arch", ARCHES)
def test_kept_stop_replies_follow_the_registers_and_the_format(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, _ = make_machine(arch)
    target = GdbTarget(machine, ConsoleHistory())
    plain, multiprocess = ReplyFormat(), ReplyFormat(multiprocess=True, pid=1)
    first = target.stop_reply(SingleStep(), plain)
    assert target.stop_reply(SingleStep(), plain) == first
    # A new pc is a new reply, then the old one again when the pc comes back.
    pc, pc_reg = machine.cpu.pc, target.registers.expedited[0]
    assert pc_reg.write_bytes((pc + 4).to_bytes(pc_reg.size, "little"))
    moved = target.stop_reply(SingleStep(), plain)
    assert moved != first
    assert target.registers.encode_expedited(target.registers.expedited_values()) in moved
    assert pc_reg.write_bytes(pc.to_bytes(pc_reg.size, "little"))
    assert target.stop_reply(SingleStep(), plain) == first
    # The stop's kind and the client's format are part of it too.
    swbreak = ReplyFormat(swbreak=True)
    assert b"swbreak:" in target.stop_reply(Breakpoint(pc), swbreak)
    assert b"swbreak:" not in target.stop_reply(SingleStep(), swbreak)
    assert b"thread:p1.1;" in target.stop_reply(SingleStep(), multiprocess)
    assert target.stop_reply(SingleStep(), plain) == first
