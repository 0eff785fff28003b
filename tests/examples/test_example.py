"""Testing a Xen guest with xgdbvm: debug its boot, assert its hypercalls, talk to xenstore.

Copy this file into your project's tests: it needs xgdbvm (whose pytest plugin
provides the ``xgdbvm_vm`` fixture) and pytest-trio. It boots xgdbvm's own test
firmware; give ``xgdbvm_vm`` ``image=`` (and ``dts=``) to boot yours.
"""

import pytest
import trio

from xgdbvm.pytest_plugin import VmFactory

pytestmark = pytest.mark.trio

ARCHES = ["arm64", "arm32"]

# What the firmware's default boot asks of Xen, in order (firmware/README.md): what
# every Xen guest does early, from its banner to xenstore and the PV console.
BOOT_HYPERCALLS = [
    "console_io.write",
    "xen_version.version",
    "xen_version.extraversion",
    "xen_version.get_features",
    "memory_op.add_to_physmap",  # shared_info
    *["hvm_op.get_param"] * 5,  # callback IRQ, xenstore and console pages and ports
    "vcpu_op.register_vcpu_info",
    *["event_channel_op.send"] * 6,  # five xenstore requests, the PV console banner
    "sched_op.shutdown",
]


@pytest.mark.parametrize("arch", ARCHES)
async def test_break_in_guest_main(xgdbvm_vm: VmFactory, arch: str) -> None:
    with trio.fail_after(10):
        vm = await xgdbvm_vm(arch=arch)  # held at its first instruction until GDB resumes it
        gdb = await vm.gdb()
        await gdb.break_at("guest_main")
        stop = await gdb.cont()
        assert stop.kind == "breakpoint"
        assert stop.pc == gdb.symbol_address("guest_main")
        # guest_main(fdt): the device tree, where Xen's toolstack put it (the top 2 MiB
        # of the guest's 128 MiB of RAM).
        assert await gdb.read_register("x0" if arch == "arm64" else "r0") == 0x47E00000
        assert await gdb.read_symbol("boot_stage") == 0
        stop = await gdb.cont()
        assert stop.kind == "exited" and stop.code == 0  # SCHEDOP_shutdown(poweroff)


@pytest.mark.parametrize("arch", ARCHES)
async def test_boot_hypercalls(xgdbvm_vm: VmFactory, arch: str) -> None:
    with trio.fail_after(10):
        vm = await xgdbvm_vm(arch=arch, wait_for_gdb=False)  # the guest runs at once
        await vm.console.expect(f"hello from {arch}")
        await vm.trace.expect_calls(BOOT_HYPERCALLS)
        shutdown = await vm.trace.expect(kind="lifecycle", type="shutdown")
        assert shutdown.detail == "poweroff"


@pytest.mark.parametrize("arch", ARCHES)
async def test_xenstore_shutdown_request(xgdbvm_vm: VmFactory, arch: str) -> None:
    with trio.fail_after(10):
        # This scenario sets up xenstore, then waits for a shutdown request on it.
        vm = await xgdbvm_vm(arch=arch, bootargs="xgdbvm.test=xenstore", wait_for_gdb=False)
        await vm.console.expect("watching control/shutdown")
        home = vm.xenstore.domain_path  # /local/domain/1
        assert await vm.xenstore.read(f"{home}/data/boot-status") == "ok"
        await vm.xenstore.write(f"{home}/control/shutdown", "poweroff")
        await vm.trace.expect(hypercall="sched_op", subop="shutdown")
        await vm.console.expect('control/shutdown = "poweroff"')
