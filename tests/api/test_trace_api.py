"""vm.trace, vm.console and vm.xenstore against an in-process VM."""

from __future__ import annotations

import pytest
import trio

from xgdbvm import open_vm
from xgdbvm.api import (
    ConsoleEvent,
    ExpectationFailed,
    HypercallEnterEvent,
    HypercallExitEvent,
    LifecycleEvent,
    XenstoreError,
)
from xgdbvm.machine.xen.xenstore import XsError

TIMEOUT = 10
MINIMAL = "xgdbvm.test=minimal"  # banner, version queries, poweroff


async def test_the_trace_holds_the_boot_from_its_first_event() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(arch="arm32", wait_for_gdb=False) as vm:
            shutdown = await vm.trace.expect(kind="lifecycle", type="shutdown")
            assert isinstance(shutdown, LifecycleEvent) and shutdown.detail == "poweroff"
            events = vm.trace.events()
            assert [e.seq for e in events] == list(range(len(events)))  # none missed
            assert vm.trace.dropped == 0
            assert vm.trace.hello is not None and vm.trace.hello.arch == "arm32"
            first = events[0]
            assert isinstance(first, ConsoleEvent) and first.text.startswith("xgdbvm guest")

            # Filters, in either spelling; iteration from the start, not following.
            calls = vm.trace.events("kind=hypercall name=xen_version.get_features")
            assert [type(e) for e in calls] == [HypercallEnterEvent, HypercallExitEvent]
            listed = [e async for e in vm.trace({"kind": ["console"]}, follow=False)]
            assert listed == vm.trace.events("kind=console") and len(listed) >= 7
            assert all(isinstance(e, ConsoleEvent) for e in listed)
            with pytest.raises(ValueError, match="trace filter"):
                vm.trace.events("colour=blue")

            text = vm.trace.format()
            assert "xen_version(get_features" in text and "lifecycle shutdown poweroff" in text


async def test_following_the_trace_live() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(bootargs=MINIMAL) as vm:
            gdb = await vm.gdb()
            seen: list[str] = []

            async def follow() -> None:
                async for event in vm.trace("kind=hypercall_exit"):
                    assert isinstance(event, HypercallExitEvent)
                    seen.append(event.name)
                    if event.name == "sched_op":
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow)
                await trio.sleep(0.01)
                assert seen == []  # held at the first instruction: nothing yet
                await gdb.cont()
            assert seen == ["console_io", "xen_version", "xen_version", "xen_version", "sched_op"]


async def test_expectations_keep_their_place_and_say_what_happened() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(wait_for_gdb=False, bootargs=MINIMAL) as vm:
            write = await vm.trace.expect(hypercall="console_io", subop="write")
            assert isinstance(write, HypercallExitEvent) and write.ret == 0
            await vm.trace.expect(hypercall="xen_version.get_features", ret=0)
            await vm.trace.expect(console=r"scenario: \w+")
            await vm.trace.expect(kind="lifecycle", type="shutdown")
            # console_io came before the place the expectations have reached.
            with pytest.raises(ExpectationFailed) as failure:
                await vm.trace.expect(hypercall="console_io", within=0.2)
            message = str(failure.value)
            assert message.startswith("expected hypercall console_io within 0.2 s\n")
            assert "after the previous match" in message
            assert "lifecycle shutdown poweroff" in message  # the events around
            assert "Console (last 7 line(s)):\n  xgdbvm guest: hello from arm64" in message
            with pytest.raises(TypeError, match="expect what"):
                await vm.trace.expect()

            # expect_calls from the start: a wrong sequence fails at once, with a diff.
            vm.trace.cursor = 0
            with pytest.raises(ExpectationFailed, match=r"(?s)-memory_op\n\+xen_version"):
                await vm.trace.expect_calls(["console_io.write", "memory_op"], within=5)
            exits = await vm.trace.expect_calls(["console_io.write", "xen_version.version"])
            assert [e.subop for e in exits] == ["write", "version"]

            # The console, with its own place.
            match = await vm.console.expect(r"Xen (\d+)\.(\d+)")
            assert match.groups() == ("4", "19")
            assert "powering off" in vm.console.lines[-1]
            with pytest.raises(ExpectationFailed, match="expected console output matching"):
                await vm.console.expect("hello from", within=0.1)  # already behind us


async def test_xenstore_as_dom0() -> None:
    with trio.fail_after(TIMEOUT):
        async with open_vm(bootargs=MINIMAL) as vm:
            xs = vm.xenstore
            home = xs.domain_path
            assert home == "/local/domain/1"
            assert await xs.read(f"{home}/name") == "guest"
            assert {"name", "domid", "control", "data"} <= set(await xs.ls(home))
            await xs.write(f"{home}/data/test/value", "42")
            assert await xs.ls(f"{home}/data/test") == ["value"]
            assert await xs.exists(f"{home}/data/test/value")
            await xs.rm(f"{home}/data/test")
            assert not await xs.exists(f"{home}/data/test")
            with pytest.raises(XenstoreError) as error:
                await xs.read(f"{home}/data/test/value")
            assert error.value.code is XsError.ENOENT
            assert str(error.value) == f"{home}/data/test/value: ENOENT"
