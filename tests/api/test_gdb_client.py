"""GdbClient against an in-process VM: registers by name, memory and symbols, typed
stops, stepping, watchpoints, interrupts, monitor commands, raw packets."""

from __future__ import annotations

import pytest
import trio

from xgdbvm import open_vm
from xgdbvm.api import (
    BreakpointStop,
    ExitedStop,
    GdbError,
    SignalStop,
    SymbolError,
    TerminatedStop,
    WatchpointStop,
)

TIMEOUT = 10
DTB = 0x47E0_0000  # RAM base + 128 MiB - 2 MiB, where the toolstack puts the DTB
ENTRY = {"arm64": 0x4008_0000, "arm32": 0x4000_8000}


@pytest.mark.parametrize("arch", ["arm64", "arm32"])
async def test_registers_memory_and_symbols_at_the_first_instruction(arch: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(arch=arch) as vm:
            gdb = await vm.gdb()
            first = gdb.last_stop
            assert isinstance(first, SignalStop) and first.signal_name == "SIGTRAP"
            assert first.pc == ENTRY[arch] and first.symbol == "_start"
            assert await gdb.read_register("pc") == ENTRY[arch]
            if arch == "arm64":  # Xen's boot protocol: x0 = DTB
                assert await gdb.read_register("x0") == DTB
                assert await gdb.read_register("CurrentEL") == 1 << 2  # EL1
                assert await gdb.read_register("sctlr_el1") & 1 == 0  # MMU off
            else:  # r0 = 0, r1 = 0xffffffff, r2 = DTB
                assert [await gdb.read_register(f"r{n}") for n in range(3)] == [
                    0,
                    0xFFFF_FFFF,
                    DTB,
                ]
                assert await gdb.read_register("cpsr") & 0x1F == 0x13  # SVC
            await gdb.write_register("lr", 0x1234_5678)
            assert await gdb.read_register("lr") == 0x1234_5678
            # The DTB's magic, big-endian, in guest memory.
            assert await gdb.read_memory(DTB, 4) == bytes.fromhex("d00dfeed")
            await gdb.write_symbol("boot_stage", 0x55AA)
            assert await gdb.read_symbol("boot_stage") == 0x55AA
            assert await gdb.read_memory("boot_stage", 2) == b"\xaa\x55"
            assert gdb.symbol_address("boot_stage") == vm.symbols.address("boot_stage")
            with pytest.raises(SymbolError, match="no symbol 'no_such_symbol'"):
                await gdb.read_symbol("no_such_symbol")
            big = bytes(range(256)) * 80  # more than one m/M packet
            await gdb.write_memory(0x4400_0000, big)
            assert await gdb.read_memory(0x4400_0000, len(big)) == big
            with pytest.raises(GdbError):
                await gdb.read_memory(0x1000_0000, 4)  # unmapped IPA


@pytest.mark.parametrize("arch", ["arm64", "arm32"])
async def test_breakpoints_steps_watchpoints_and_the_exit(arch: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(arch=arch) as vm:
            gdb = await vm.gdb()
            bp = await gdb.break_at("guest_main")
            stop = await gdb.cont()
            assert isinstance(stop, BreakpointStop) and not stop.hardware
            assert stop.symbol == "guest_main" and stop.pc == vm.symbols.address("guest_main")
            stop = await gdb.step()
            assert isinstance(stop, SignalStop) and stop.signal == 5
            assert stop.symbol == "guest_main+0x4"
            stop = await gdb.step(3)
            assert isinstance(stop, SignalStop) and stop.pc != vm.symbols.address("guest_main") + 4
            await gdb.delete(bp)
            watch = await gdb.watch("boot_stage", "write")
            stop = await gdb.cont()
            assert isinstance(stop, WatchpointStop) and stop.access == "write"
            assert stop.address == vm.symbols.address("boot_stage")
            assert await gdb.read_symbol("boot_stage") == 1  # BOOT_STAGE_ENTRY
            await gdb.delete(watch)
            stop = await gdb.cont()
            assert isinstance(stop, ExitedStop) and stop.code == 0
            # The trace has caught up with the stop.
            assert vm.trace.calls()[-1] == "sched_op.shutdown"
            hypercalls = await gdb.monitor("info hypercalls")
            assert "console_io" in hypercalls and "sched_op" in hypercalls, hypercalls


async def test_a_thumb_function_gets_a_thumb_breakpoint_on_arm32() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(arch="arm32") as vm:
            gdb = await vm.gdb()
            assert vm.symbols.address("thumb_xen_version") & 1  # a Thumb symbol
            bp = await gdb.break_at("thumb_xen_version", hardware=True)
            assert bp.kind == 2 and bp.address == vm.symbols.address("thumb_xen_version") - 1
            stop = await gdb.cont()
            assert isinstance(stop, BreakpointStop) and stop.hardware
            assert stop.pc == bp.address and await gdb.read_register("cpsr") & 0x20  # T bit


@pytest.mark.parametrize("arch", ["arm64", "arm32"])
async def test_interrupting_a_spinning_guest(arch: str) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(arch=arch, bootargs="xgdbvm.test=spin") as vm:
            gdb = await vm.gdb()
            with pytest.raises(trio.TooSlowError):
                await gdb.cont(timeout=0.2)  # interrupted for us: the session goes on
            assert not gdb.running
            assert isinstance(gdb.last_stop, SignalStop)
            assert gdb.last_stop.signal_name == "SIGINT"
            first = await gdb.read_symbol("spin_count", 8 if arch == "arm64" else 4)
            assert first > 1000
            await gdb.resume()
            with pytest.raises(GdbError, match="the guest is running"):
                await gdb.read_register("pc")
            await trio.sleep(0.05)
            await gdb.interrupt()
            stop = await gdb.wait_stop()
            assert isinstance(stop, SignalStop) and stop.signal == 2
            assert stop.symbol is not None and stop.symbol.startswith("scenario_spin")
            assert await gdb.read_symbol("spin_count", 4) != first & 0xFFFF_FFFF


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("crash", TerminatedStop(packet=b"X06", signal=6)),
        ("reboot", ExitedStop(packet=b"W01", code=1)),
    ],
)
async def test_abnormal_ends_are_typed(scenario: str, expected: object) -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(bootargs=f"xgdbvm.test={scenario}") as vm:
            gdb = await vm.gdb()
            stop = await gdb.cont()
            assert type(stop) is type(expected)
            assert stop.kind == expected.kind  # type: ignore[attr-defined]
            assert getattr(stop, "signal", getattr(stop, "code", None)) == getattr(
                expected, "signal", getattr(expected, "code", None)
            )


async def test_one_client_at_a_time_raw_packets_and_monitor() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm() as vm:
            gdb = await vm.gdb()
            with pytest.raises(GdbError, match="another GDB client is attached"):
                await vm.gdb()
            assert await gdb.raw("qAttached") == b"1"
            assert (await gdb.raw(b"?")).startswith(b"T05")
            assert "xgdbvm monitor commands" in await gdb.monitor("help")
            await gdb.aclose()
            assert vm.gdb_clients == []
            again = await vm.gdb()  # the detached guest waits for the next client
            assert await again.read_register("pc") == ENTRY["arm64"]
            with pytest.raises(GdbError, match="closed"):
                await gdb.read_register("pc")
