"""Issue 4 through gdb-multiarch: breakpoints across the MMU switch, faults, translate."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from tests.conftest import ARCHES, firmware
from tests.server.conftest import running_server
from tests.server.test_gdb_multiarch import gdb_batch


def virt_to_load(arch: str, va: int) -> int:
    """The load (physical) address of a virtual link address, from the ELF's program
    headers: an independent answer to what the guest's page tables should say."""
    data = firmware(arch).read_bytes()
    is64 = data[4] == 2
    phoff, phentsize, phnum = (
        (struct.unpack_from("<Q", data, 32)[0], *struct.unpack_from("<HH", data, 54))
        if is64
        else (struct.unpack_from("<I", data, 28)[0], *struct.unpack_from("<HH", data, 42))
    )
    for i in range(phnum):
        off = phoff + i * phentsize
        if is64:
            _t, _f, _o, vaddr, paddr, _fs, memsz, _a = struct.unpack_from("<IIQQQQQQ", data, off)
        else:
            _t, _o, vaddr, paddr, _fs, memsz, _f, _a = struct.unpack_from("<IIIIIIII", data, off)
        if vaddr <= va < vaddr + memsz:
            return int(paddr + va - vaddr)
    raise AssertionError(f"{va:#x} is in no segment")


@pytest.mark.parametrize("arch", ARCHES)
async def test_breakpoints_and_memory_across_the_mmu_switch(arch: str, tmp_path: Path) -> None:
    script = """
break mmu_offset_scenario
continue
x/4wx &boot_stage
break mmu_virtual_main
continue
p/x $pc
break vputs
continue
x/4wx &boot_stage
p/x (unsigned long) mmu_virtual_main
eval "monitor translate 0x%lx", (unsigned long) mmu_virtual_main
delete
continue
"""
    async with running_server(arch, "xgdbvm.test=mmu") as srv:
        out = await gdb_batch(arch, srv.address, script, tmp_path)
    assert "Breakpoint 1, mmu_offset_scenario" in out, out
    assert "Breakpoint 2, mmu_virtual_main" in out  # a virtual (link-time) address, MMU on
    pc = int(re.search(r"\$1 = (0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    assert pc >= (0xFFFF000000000000 if arch == "arm64" else 0xC0000000)
    dumps = re.findall(r"<boot_stage>:((?:\s+0x[0-9a-f]{8}){4})", out)
    assert len(dumps) == 2 and dumps[0] == dumps[1], out  # same bytes before and after
    ipa = int(re.search(r"stage 2: ipa (0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    symbol = int(re.search(r"\$2 = (0x[0-9a-f]+)", out).group(1), 16)  # type: ignore[union-attr]
    assert ipa == virt_to_load(arch, symbol)  # the guest's tables agree with the ELF
    assert "[Inferior 1 (process 1) exited normally]" in out


@pytest.mark.parametrize("arch", ARCHES)
async def test_stage2_fault_caught_as_sigsegv_then_delivered(arch: str, tmp_path: Path) -> None:
    script = """
monitor catch stage2-fault on
continue
p/x $pc
monitor info faults
continue
continue
"""
    async with running_server(arch, "xgdbvm.test=fault") as srv:
        out = await gdb_batch(arch, srv.address, script, tmp_path)
        console = "\n".join(srv.server.history.last(100))
        announced = "\n".join(srv.announcements)
    assert "Program received signal SIGSEGV" in out, out
    assert "read  va 0x48000000 ipa 0x48000000" in out  # the end of RAM: no p2m entry
    assert "stage-2 fault: read of va 0x48000000" in announced
    # Resuming delivers the abort Xen injects; the guest handles both and powers off.
    assert "[Inferior 1 (process 1) exited normally]" in out
    assert "fault: survived" in console
    expected = "status 0x00" if arch == "arm64" else "status 0x02"
    assert f"fault: data abort at 0x10000000 {expected}" in console


@pytest.mark.parametrize("arch", ARCHES)
async def test_p2m_and_address_spaces_from_gdb(arch: str, tmp_path: Path) -> None:
    script = """
monitor p2m 0x40000-0x40002
monitor mem machine
x/2wx 0x40000000
monitor mem virtual
x/2wx 0x40000000
"""
    async with running_server(arch) as srv:
        out = await gdb_batch(arch, srv.address, script, tmp_path)
        maddr = srv.machine.memory.machine_address(0x40000000)
    assert f"mfn {maddr >> 12:#x}" in out, out  # type: ignore[operator]
    assert "GDB memory accesses now use machine addresses (read-only)" in out
    # The machine address 0x40000000 is not guest RAM under the scatter layout.
    assert "Cannot access memory at address 0x40000000" in out
