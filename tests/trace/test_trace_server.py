"""The trace channel over TCP, in process, with the real firmware booting on a real Machine."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import trio

from tests.server.conftest import wait_until
from tests.trace.conftest import TIMEOUT, Subscriber, read_jsonl, traced_server
from xgdbvm.machine.stop import Shutdown
from xgdbvm.trace.schema import Hello, from_json

HCALLS = 5_000
HCALL_LOOP = f"xgdbvm.test=hcall-loop xgdbvm.n={HCALLS}"


def is_shutdown(obj: dict[str, object]) -> bool:
    return obj.get("kind") == "lifecycle" and obj.get("type") == "shutdown"


async def read_until_shutdown(subscriber: Subscriber) -> list[dict[str, object]]:
    lines = []
    while (obj := await subscriber.line()) is not None:
        lines.append(obj)
        if is_shutdown(obj):
            break
    return lines


async def test_a_default_boot_over_tcp_is_decoded_in_order() -> None:
    with trio.fail_after(TIMEOUT):
        async with traced_server() as traced:
            subscriber = await Subscriber.connect(traced.host_port, "{}")
            hello = from_json(await subscriber.line() or {})
            assert hello == Hello(
                arch="arm64", image=traced.machine.layout.image.path, domid=1, domain="guest"
            )
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 1)
            stop = await traced.run_guest()
            assert isinstance(stop, Shutdown)
            lines = await read_until_shutdown(subscriber)
    assert [line["seq"] for line in lines] == list(range(len(lines)))
    calls = [
        (line["name"], line["subop"], line["ret"], line["note"])
        for line in lines
        if line["kind"] == "hypercall_exit"
    ]
    assert calls[:2] == [("console_io", "write", 0, ""), ("xen_version", "version", 0x40013, "")]
    assert ("xen_version", "get_features", 0, "") in calls
    assert calls[-1] == ("sched_op", "shutdown", 0, "")
    assert lines[-2]["fields"] == {"reason": "poweroff"}  # decoded from the guest's struct
    consoles = [line["text"] for line in lines if line["kind"] == "console"]
    assert consoles[0] == "xgdbvm guest: hello from arm64\n"
    assert "xgdbvm guest: powering off\n" in consoles
    enter = next(line for line in lines if line["kind"] == "hypercall_enter")
    assert str(enter["sym"]).startswith("HYPERVISOR_console_io")
    assert enter["t_ns"] == enter["icount"]


async def test_a_live_subscription_and_the_trace_file_agree(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    with trio.fail_after(TIMEOUT):
        async with traced_server(HCALL_LOOP, trace_file=path, lossless=True) as traced:
            subscriber = await Subscriber.connect(traced.host_port, "")
            assert (await subscriber.line() or {})["kind"] == "hello"
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 1)
            live: list[dict[str, object]] = []

            async def read() -> None:
                live.extend(await read_until_shutdown(subscriber))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read)
                await traced.run_guest()
    recorded = read_jsonl(path)
    assert isinstance(recorded[0], Hello)
    assert [from_json(obj) for obj in live] == recorded[1:]
    versions = [o for o in live if o["kind"] == "hypercall_exit" and o["subop"] == "version"]
    assert len(versions) == HCALLS + 1  # the boot's and the loop's


async def test_a_subscriber_that_never_reads_loses_events_not_guest_time() -> None:
    with trio.fail_after(TIMEOUT):
        async with traced_server(HCALL_LOOP, capacity=500) as traced:
            stuck = await Subscriber.connect(traced.host_port, "", rcvbuf=4096)
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 1)
            (subscription,) = traced.server.trace.subscriptions
            stop = await traced.run_guest()
            assert isinstance(stop, Shutdown)  # it ran to the end
            assert subscription.blocked_s == 0  # and never waited for the subscriber
            assert subscription.dropped_total > 0
            total = traced.server.trace.events
            # Now it reads: what was queued, and a count of what it lost wherever it lost
            # some (the guest makes hypercall events in bursts, so the server may drain
            # the queue between two losses); the end of the run was lost but for the
            # shutdown, which is never dropped: a count, then the shutdown, come last.
            lines = []
            counted = 0
            while not lines or lines[-1].get("type") != "shutdown":
                obj = await stuck.line()
                assert obj is not None
                lines.append(obj)
                if obj["kind"] == "dropped":
                    counted += int(obj["count"])  # type: ignore[call-overload]
    assert lines[0]["kind"] == "hello"
    assert lines[-2]["kind"] == "dropped"
    assert lines[-1]["kind"] == "lifecycle"
    events = [line for line in lines if line["kind"] not in ("hello", "dropped")]
    assert counted == subscription.dropped_total
    assert len(events) + subscription.dropped_total == total
    seqs = [int(line["seq"]) for line in events]  # type: ignore[call-overload]
    assert seqs == sorted(set(seqs)) and seqs[0] == 0


async def test_lossless_mode_loses_nothing_to_a_slow_subscriber() -> None:
    with trio.fail_after(TIMEOUT):
        async with traced_server(HCALL_LOOP, lossless=True, capacity=100) as traced:
            slow = await Subscriber.connect(traced.host_port, "kind=hypercall_exit", rcvbuf=4096)
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 1)
            (subscription,) = traced.server.trace.subscriptions
            received: list[dict[str, object]] = []

            async def read_slowly() -> None:
                await trio.sleep(0.5)  # the guest runs into a full queue meanwhile
                while (obj := await slow.line()) is not None:
                    received.append(obj)
                    if len(received) % 1000 == 0:
                        await trio.sleep(0.05)
                    if obj.get("subop") == "shutdown":
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(read_slowly)
                await traced.run_guest()
    assert received[0]["kind"] == "hello"
    assert all(obj["kind"] == "hypercall_exit" for obj in received[1:])
    assert sum(obj.get("subop") == "version" for obj in received) == HCALLS + 1
    seqs = [int(str(obj["seq"])) for obj in received[1:]]
    assert seqs == sorted(seqs)
    assert subscription.dropped_total == 0
    assert subscription.blocked_s > 0  # the guest did wait for it


async def test_the_filter_line_in_both_spellings_and_the_hello_echoes_it() -> None:
    with trio.fail_after(TIMEOUT):
        async with traced_server() as traced:
            by_json = await Subscriber.connect(
                traced.host_port, json.dumps({"name": ["xen_version.get_features"]})
            )
            by_text = await Subscriber.connect(traced.host_port, "kind=console pc=0x0-0x1")
            silent = await Subscriber.connect(traced.host_port)  # no filter line at all
            hellos = [await s.line() for s in (by_json, by_text, silent)]
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 3)
            await traced.run_guest()
            selected = [await by_json.line(), await by_json.line()]
            everything = await read_until_shutdown(silent)
            await traced.server.trace_server.flush()
            assert all(s.queued == 0 for s in traced.server.trace.subscriptions)
    assert [h and h["filter"] for h in hellos] == [
        {"name": ["xen_version.get_features"]},
        {"kind": ["console"], "pc": [0, 1]},
        None,
    ]
    assert [(s and s["kind"], s and s["subop"]) for s in selected] == [
        ("hypercall_enter", None),
        ("hypercall_exit", "get_features"),
    ]
    assert len(everything) == traced.server.trace.events


async def test_a_bad_filter_is_answered_with_an_error_and_the_server_goes_on() -> None:
    with trio.fail_after(TIMEOUT):
        async with traced_server() as traced:
            bad = await Subscriber.connect(traced.host_port, '{"kinds": ["console"]}')
            assert await bad.line() == {
                "kind": "error",
                "message": "bad filter: unknown filter key 'kinds' (use kind, name, pc)",
            }
            assert await bad.line() is None  # closed
            good = await Subscriber.connect(traced.host_port, "kind=lifecycle")
            assert (await good.line() or {})["kind"] == "hello"


async def test_subscribers_that_go_away_are_never_an_error() -> None:
    with trio.fail_after(TIMEOUT):
        async with traced_server(HCALL_LOOP) as traced:
            quitters = [await Subscriber.connect(traced.host_port, "") for _ in range(3)]
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 3)
            for quitter in quitters:
                await quitter.aclose()
            await traced.run_guest()
            await wait_until(lambda: not traced.server.trace.subscriptions)
            late = await Subscriber.connect(traced.host_port, "")
            assert (await late.line() or {})["kind"] == "hello"


async def test_the_cli_reads_a_live_stream(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with trio.fail_after(TIMEOUT), out.open("wb") as sink:
        async with trio.open_nursery() as nursery, traced_server() as traced:
            command = [
                sys.executable,
                "-m",
                "xgdbvm",
                "trace",
                traced.address,
                "--filter",
                "name=xen_version",
            ]
            process = await nursery.start(
                lambda task_status: trio.run_process(
                    command, stdout=sink, stderr=sink, check=False, task_status=task_status
                )
            )
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 1)
            await traced.run_guest()
            await traced.server.trace_server.flush()
            # The server has gone: the client sees the end of the stream and exits.
    assert process.returncode == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("xgdbvm trace (schema 1): arm64 ")
    calls = [line.split("vcpu0  ", 1)[1] for line in lines[1:]]
    assert calls == [
        "xen_version(version, 0x0) -> 0x40013",
        calls[1],
        calls[2],
    ]
    assert calls[1].startswith("xen_version(extraversion, 0x")
    assert calls[2].startswith("xen_version(get_features, 0x")


async def test_a_full_xen_bringup_over_tcp_in_order() -> None:
    with trio.fail_after(TIMEOUT):
        async with traced_server("xgdbvm.test=bringup") as traced:
            subscriber = await Subscriber.connect(traced.host_port, "kind=hypercall_exit,xenstore")
            assert (await subscriber.line() or {})["kind"] == "hello"
            await wait_until(lambda: len(traced.server.trace.subscriptions) == 1)
            assert isinstance(await traced.run_guest(), Shutdown)
            await traced.server.trace_server.flush()
            lines: list[dict[str, object]] = []
            while not lines or lines[-1].get("subop") != "shutdown":
                lines.append(await subscriber.line() or {})

    def find(start: int, check: Callable[[dict[str, object]], bool]) -> int:
        return next(i for i in range(start, len(lines)) if check(lines[i]))

    def call(name: str, subop: str, note: str = "") -> Callable[[dict[str, object]], bool]:
        return lambda o: (
            (o.get("name"), o.get("subop")) == (name, subop)
            and (note in str(o["note"]) or note in str(o.get("fields")))
        )

    at = find(0, call("xen_version", "version"))
    at = find(at, call("memory_op", "add_to_physmap", "shared_info"))
    at = find(at, call("hvm_op", "get_param", "STORE_PFN"))
    at = find(at, lambda o: o["kind"] == "xenstore_request")
    at = find(at, call("event_channel_op", "send"))
    assert find(at, call("sched_op", "shutdown", "poweroff")) == len(lines) - 1
    assert all(o["errno"] is None for o in lines if o["kind"] == "hypercall_exit")  # no failure
