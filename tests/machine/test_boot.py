"""Boot the real firmware on Unicorn, both arches, and check what the guest did."""

from __future__ import annotations

import functools
import threading

import pytest

import xgdbvm.machine.machine as machine_module
from tests.conftest import ARCHES, MachineFactory, firmware
from xgdbvm.machine.events import (
    ConsoleOutput,
    ConsoleSource,
    ExceptionInjected,
    HypercallExit,
    SmcccCall,
    XenstoreRequest,
)
from xgdbvm.machine.stop import BudgetExhausted, HostInterrupt, Shutdown
from xgdbvm.machine.ucnative import ClockKind, InstructionClock
from xgdbvm.machine.xen.abi import ShutdownReason
from xgdbvm.machine.xen.xenstore import XsType

BUDGET = 50_000_000


@pytest.mark.parametrize("arch", ARCHES)
def test_default_boot_prints_banner_version_and_powers_off(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, rec = make_machine(arch)
    stop = machine.run(BUDGET)
    assert stop == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
    console = rec.console()
    assert f"xgdbvm guest: hello from {arch}\n" in console
    assert "Xen 4.19.0\n" in console
    assert "Xen features: 0x00056005\n" in console
    assert "dtb: memory 0x40000000+0x08000000 uart 0x22000000" in console
    assert "shared_info: wc_version=2 wc_sec=1767225600\n" in console
    assert 'xenstore: name = "guest"\n' in console
    assert console.endswith("xgdbvm guest: powering off\n")
    # The banner also went through console_io, which Xen prefixes with the domain.
    xen_lines = [e for e in rec.of(ConsoleOutput) if e.source is ConsoleSource.XEN]  # type: ignore[union-attr]
    assert [e.data for e in xen_lines] == [f"(d1) xgdbvm guest: hello from {arch}\n".encode()]  # type: ignore[union-attr]


@pytest.mark.parametrize("arch", ARCHES)
def test_hypercall_sequence_of_the_default_boot(make_machine: MachineFactory, arch: str) -> None:
    machine, rec = make_machine(arch)
    machine.run(BUDGET)
    calls = [(e.name, e.subop, e.ret) for e in rec.of(HypercallExit)]  # type: ignore[union-attr]
    # What every Xen guest does early (firmware/README.md, default boot).
    assert calls == [
        ("console_io", "write", 0),
        ("xen_version", "version", (4 << 16) | 19),
        ("xen_version", "extraversion", 0),
        ("xen_version", "get_features", 0),
        ("memory_op", "add_to_physmap", 0),
        *[("hvm_op", "get_param", 0)] * 5,
        ("vcpu_op", "register_vcpu_info", 0),
        *[("event_channel_op", "send", 0)] * 6,  # 5 xenstore requests, the PV console
        ("sched_op", "shutdown", 0),
    ]
    assert machine.hypervisor.dispatcher.stats.calls == {
        "console_io": 1,
        "xen_version": 3,
        "memory_op": 1,
        "hvm_op": 5,
        "vcpu_op": 1,
        "event_channel_op": 6,
        "sched_op": 1,
    }


@pytest.mark.parametrize("arch", ARCHES)
def test_kernel_style_raw_image_boots(make_machine: MachineFactory, arch: str) -> None:
    raw = firmware(arch, "Image" if arch == "arm64" else "zImage")
    machine, rec = make_machine(arch, image=raw)
    assert machine.layout.image.format == ("Image" if arch == "arm64" else "zImage")
    assert machine.layout.image.start == (0x40080000 if arch == "arm64" else 0x40008000)
    assert machine.run(BUDGET) == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
    assert f"hello from {arch}" in rec.console()


@pytest.mark.parametrize("arch", ARCHES)
def test_psci_system_off_through_hvc0(make_machine: MachineFactory, arch: str) -> None:
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=psci")
    assert machine.run(BUDGET) == Shutdown(ShutdownReason.poweroff, "PSCI")
    assert "psci: version 0x00010001 smccc 0x00010002 features(SYSTEM_OFF)=0" in rec.console()
    smccc = [e.name for e in rec.of(SmcccCall)]  # type: ignore[union-attr]
    assert smccc[-1] == "PSCI_SYSTEM_OFF"
    assert {"PSCI_VERSION", "SMCCC_VERSION", "PSCI_FEATURES"} <= set(smccc)


@pytest.mark.parametrize("arch", ARCHES)
def test_hvc_with_another_immediate_injects_undef(make_machine: MachineFactory, arch: str) -> None:
    machine, rec = make_machine(arch, bootargs="xgdbvm.test=hvc-undef")
    assert machine.run(BUDGET) == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
    console = rec.console()
    assert "undef: pc=" in console
    assert "hvc-undef: survived" in console
    injected = rec.of(ExceptionInjected)
    assert [(e.kind, e.detail) for e in injected] == [("undef", "hvc #0x1")]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("crash", ShutdownReason.crash),
        ("reboot", ShutdownReason.reboot),
        ("nosuch", ShutdownReason.crash),
    ],
)
def test_shutdown_reasons(
    make_machine: MachineFactory, scenario: str, reason: ShutdownReason
) -> None:
    machine, _ = make_machine("arm64", bootargs=f"xgdbvm.test={scenario}")
    stop = machine.run(BUDGET)
    assert isinstance(stop, Shutdown)
    assert stop.reason is reason


@pytest.mark.parametrize("arch", ARCHES)
def test_budget_and_host_stop_interrupt_a_spinning_guest(
    make_machine: MachineFactory, arch: str
) -> None:
    machine, _ = make_machine(arch, bootargs="xgdbvm.test=spin")
    stop = machine.run(2_000_000)
    assert isinstance(stop, BudgetExhausted)
    assert 2_000_000 <= machine.clock.instructions < 2_100_000
    machine.request_stop()
    assert machine.run(BUDGET) == HostInterrupt()


@pytest.mark.parametrize("arch", ARCHES)
def test_reset_boots_again_from_the_image(make_machine: MachineFactory, arch: str) -> None:
    machine, rec = make_machine(arch)
    machine.run(BUDGET)
    machine.reset()
    assert machine.clock.instructions == 0
    assert machine.run(BUDGET) == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
    # UART, console_io and the PV console ring, twice.
    assert rec.console().count(f"hello from {arch}\n") == 6


def test_instruction_count_is_deterministic(make_machine: MachineFactory) -> None:
    counts = []
    for _ in range(2):
        machine, _ = make_machine("arm64")
        machine.run(BUDGET)
        counts.append(machine.clock.instructions)
    assert counts[0] == counts[1] > 10_000


def test_the_inline_counter_and_the_block_hook_keep_the_same_time(
    make_machine: MachineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A64 only: T32 code (arm32's Thumb module) is where the block hook approximates.
    runs = []
    for kind in ClockKind:
        monkeypatch.setattr(
            machine_module, "InstructionClock", functools.partial(InstructionClock, kind=kind)
        )
        machine, rec = make_machine("arm64")
        assert machine.run(BUDGET) == Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")
        assert isinstance(machine.clock, InstructionClock) and machine.clock.kind is kind
        runs.append((machine.clock.instructions, machine.time.now_ns(), rec.console()))
    assert runs[0] == runs[1]


def test_thumb_module_makes_a_hypercall_from_thumb_state(make_machine: MachineFactory) -> None:
    machine, rec = make_machine("arm32")
    thumb = next(s for s in machine.layout.image.symbols if s.name == "thumb_xen_version")
    assert thumb.address & 1, "thumb_xen_version must be a Thumb function"
    machine.run(BUDGET)
    start, end = thumb.address & ~1, (thumb.address & ~1) + thumb.size
    from_thumb = [e for e in rec.of(HypercallExit) if start <= e.pc < end]
    assert [(e.name, e.subop) for e in from_thumb] == [("xen_version", "version")]  # type: ignore[union-attr]


def test_host_xenstore_requests_while_the_guest_runs_leave_its_registers_alone(
    make_machine: MachineFactory,
) -> None:
    # The socket's requests come from the server's thread while the vCPU runs on
    # another. Reading the vCPU's registers from there once corrupted the guest's
    # (one scratch buffer, two threads) and it never saw the shutdown request.
    machine, rec = make_machine("arm32", bootargs="xgdbvm.test=xenstore")
    machine.idle_pacing = True
    stops: list[object] = []
    vcpu = threading.Thread(target=lambda: stops.append(machine.run(BUDGET)))
    vcpu.start()
    xenstored = machine.hypervisor.xenstored
    dom0 = xenstored.connect()
    try:
        for _ in range(2000):
            assert xenstored.request(dom0, XsType.READ, "/local/domain/1/name") == b"guest"
        xenstored.request(dom0, XsType.WRITE, "/local/domain/1/control/shutdown", value=b"poweroff")
    finally:
        vcpu.join(timeout=60)
    assert stops == [Shutdown(ShutdownReason.poweroff, "SCHEDOP_shutdown")], rec.console()
    requests = rec.of(XenstoreRequest)
    host = [e for e in requests if e.pc == 0]
    guest = [e for e in requests if e.pc != 0]
    assert len(host) >= 2001 and guest
