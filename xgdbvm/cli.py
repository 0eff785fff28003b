"""The ``xgdbvm`` command line.

Errors a user can cause (a missing image, a bad device tree, a bad size) are
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from xgdbvm.machine.errors import ConfigError

if TYPE_CHECKING:
    from xgdbvm.machine.board import MachineConfig
    from xgdbvm.machine.machine import Machine
    from xgdbvm.machine.memory import P2mLayout
    from xgdbvm.machine.stop import StopReason
    from xgdbvm.server.app import ServeOptions
    from xgdbvm.server.endpoints import Endpoint
    from xgdbvm.server.listeners import Listening
    from xgdbvm.server.outlet import Outlet

# The machine, the server and Trio are imported by the commands that use them (about
# 0.3 s of start-up), so that parsing arguments, `--help` and `xgdbvm trace` do not pay
# for them, and so that `main` can pause the garbage collector while they load.

REPO = Path(__file__).resolve().parent.parent
EXIT_POWEROFF, EXIT_FAILURE, EXIT_USAGE, EXIT_REBOOT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}  # what server.app.wait_for_signals catches


def default_image(arch: str) -> Path:
    return REPO / "firmware" / "build" / arch / "guest.elf"


def default_dts(arch: str) -> Path:
    return REPO / "dts" / f"xen-guest-{arch}.dts"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 128M, 1G, 65536)")
    return int(match.group(1)) * SIZE_UNITS[match.group(2).lower()]


def parse_p2m(text: str) -> P2mLayout:
    from xgdbvm.machine.memory import P2mLayout

    try:
        return P2mLayout.parse(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_count(text: str) -> int:
    try:
        value = int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"xgdbvm: {message}\n")


def build_parser(*, with_trace: bool = True) -> argparse.ArgumentParser:
    """The command line; ``with_trace=False`` leaves out the ``trace`` command, whose
    options come with the trace readers (~25 ms of imports): ``main`` does so when the
    command is ``run``, which never needs them."""
    parser = _Parser(prog="xgdbvm", description="A GDB-remote Xen-on-ARM virtual machine.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="boot a guest and serve it")
    run.add_argument("--arch", choices=("arm64", "arm32"), default="arm64")
    run.add_argument("--image", type=Path, help="ELF, arm64 Image or arm32 zImage")
    run.add_argument("--dts", type=Path, help="guest device tree (.dts or .dtb)")
    run.add_argument("--memory", type=parse_size, default=128 << 20, help="guest RAM (128M)")
    run.add_argument("--bootargs", help="replace /chosen/bootargs")
    run.add_argument("--max-instructions", type=parse_count, help="stop after N instructions")
    run.add_argument("--domid", type=int, default=1, help="the guest's domain id (1)")
    run.add_argument(
        "--p2m",
        type=parse_p2m,
        help="stage-2 layout: scatter (domU default), identity (dom0 default) or offset:N",
    )
    run.add_argument(
        "--role",
        choices=("domU", "dom0"),
        default="domU",
        help="dom0 sets XENFEAT_dom0 and direct-mapped memory",
    )
    run.add_argument("--name", default="guest", help="the guest's domain name")
    run.add_argument(
        "--gdb",
        metavar="ADDR",
        help="serve GDB on HOST:PORT (host 127.0.0.1 by default), unix:PATH or stdio",
    )
    run.add_argument(
        "--allow-remote", action="store_true", help="allow --gdb on a non-loopback address"
    )
    run.add_argument(
        "--wait-for-gdb",
        action="store_true",
        help="hold the guest at its first instruction until a GDB client resumes it",
    )
    run.add_argument(
        "--fast",
        action="store_true",
        help="full guest speed: no instruction counting, guest time follows the host clock",
    )
    run.add_argument(
        "--realtime",
        action="store_true",
        help="guest time follows the host clock (default: virtual and deterministic)",
    )
    run.add_argument(
        "--xenstore-socket",
        type=Path,
        metavar="PATH",
        help="serve xenstore to host tools on this Unix socket (default: in a private "
        "directory for the run)",
    )
    run.add_argument(
        "--on-reboot",
        choices=("exit", "restart"),
        default="exit",
        help="what a guest reboot does: exit with status 3 (default) or boot again",
    )
    run.add_argument(
        "--trace", metavar="ADDR", help="serve the trace channel on HOST:PORT or unix:PATH"
    )
    run.add_argument(
        "--trace-file", type=Path, metavar="PATH", help="record every trace event (JSON lines)"
    )
    run.add_argument(
        "--trace-lossless",
        action="store_true",
        help="make the guest wait for slow trace subscribers instead of dropping events",
    )
    if with_trace:
        from xgdbvm.trace_cli import add_trace_parser

        add_trace_parser(commands)
    return parser


def machine_config(args: argparse.Namespace) -> MachineConfig:
    from xgdbvm.machine.board import MachineConfig
    from xgdbvm.machine.xen.domain import DomainConfig

    return MachineConfig(
        arch=args.arch,
        image=args.image or default_image(args.arch),
        dts=args.dts or default_dts(args.arch),
        memory=args.memory,
        bootargs=args.bootargs,
        domain=DomainConfig(domid=args.domid, name=args.name, dom0=args.role == "dom0"),
        p2m=args.p2m,
        realtime=args.realtime,
        fast=args.fast,
    )


def summary(machine: Machine, reason: StopReason, wall: float) -> str:
    calls = machine.hypervisor.dispatcher.stats.calls
    counted = " ".join(f"{name}={n}" for name, n in sorted(calls.items())) or "none"
    unimpl = machine.hypervisor.dispatcher.stats.unimplemented
    missing = (
        f"; ENOSYS: {' '.join(f'{k}={n}' for k, n in sorted(unimpl.items()))}" if unimpl else ""
    )
    return (
        f"xgdbvm: {describe_stop(reason)}; {machine.clock.instructions} instructions, "
        f"{wall:.3f} s; hypercalls: {counted}{missing}"
    )


def describe_stop(reason: StopReason) -> str:
    from xgdbvm.machine.stop import Shutdown

    if isinstance(reason, Shutdown):
        return f"guest shutdown: {reason.reason.name} (via {reason.via})"
    return {
        "BudgetExhausted": "instruction budget exhausted",
        "HostInterrupt": "interrupted",
        "Idle": "guest idle in WFI with nothing to wake it",
    }.get(type(reason).__name__, f"stopped: {reason}")


def exit_status(reason: StopReason) -> int:
    from xgdbvm.machine.stop import HostInterrupt, Shutdown
    from xgdbvm.machine.xen.abi import ShutdownReason

    if isinstance(reason, Shutdown):
        return {ShutdownReason.poweroff: EXIT_POWEROFF, ShutdownReason.reboot: EXIT_REBOOT}.get(
            reason.reason, EXIT_FAILURE
        )
    return EXIT_INTERRUPTED if isinstance(reason, HostInterrupt) else EXIT_FAILURE


def command_run(args: argparse.Namespace) -> int:
    from xgdbvm.machine.machine import Machine
    from xgdbvm.server.endpoints import EndpointError, StdioEndpoint, TcpEndpoint, parse_endpoint
    from xgdbvm.server.listeners import GDB_UNIX_BACKLOG, listen, listen_xenstore

    try:
        endpoint = parse_endpoint(args.gdb) if args.gdb else None
    except EndpointError as error:
        raise ConfigError(f"--gdb: {error}") from None
    if isinstance(endpoint, TcpEndpoint) and not endpoint.loopback:
        if not args.allow_remote:
            raise ConfigError(
                f"--gdb {endpoint} is not a loopback address; add --allow-remote to expose "
                "guest memory and execution to the network"
            )
        print(
            f"xgdbvm: warning: serving GDB on {endpoint}, reachable from the network",
            file=sys.stderr,
        )
    if args.wait_for_gdb and endpoint is None:
        raise ConfigError("--wait-for-gdb needs --gdb")
    try:
        trace = parse_endpoint(args.trace, stdio_allowed=False) if args.trace else None
    except EndpointError as error:
        raise ConfigError(f"--trace: {error}") from None
    if isinstance(trace, TcpEndpoint) and not trace.loopback and not args.allow_remote:
        raise ConfigError(f"--trace {trace} is not a loopback address; add --allow-remote")
    if args.trace_lossless and trace is None:
        raise ConfigError("--trace-lossless needs --trace")
    machine = Machine(machine_config(args))
    trace_file = None if args.trace_file is None else _open_trace_file(args.trace_file)
    # From here on there are a state directory and sockets to clean up: SIGINT and
    # SIGTERM are held (blocked, not lost) until the server catches them.
    unblocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    # Created with the signals held, so their threads never take one.
    streams = _Streams.open()
    state_dir: Path | None = None
    opened: list[Listening] = []
    xenstore: Listening | None = None
    try:
        # The run's state directory: private (0700), removed when the run ends.
        if not args.xenstore_socket:
            state_dir = Path(tempfile.mkdtemp(prefix="xgdbvm-"))
        # Listen with the standard library and announce before importing Trio and the
        # server (~0.1 s): a client that connects meanwhile waits in the accept queue.
        gdb: Endpoint | Listening | None = endpoint
        if endpoint is not None and not isinstance(endpoint, StdioEndpoint):
            gdb = listen(endpoint, "--gdb", unix_backlog=GDB_UNIX_BACKLOG)
            opened.append(gdb)
        assert not isinstance(trace, StdioEndpoint)  # parse_endpoint refused it
        trace_on = None if trace is None else listen(trace, "--trace")
        if trace_on is not None:
            opened.append(trace_on)
        xenstore = listen_xenstore(args.xenstore_socket or (state_dir or Path()) / "xenstored.sock")
        opened.append(xenstore)
        _announce_listening(machine.config.image, gdb, xenstore, trace_on, streams.announce)
        return _serve_run(machine, args, gdb, trace_on, xenstore, trace_file, unblocked, streams)
    finally:
        streams.close()
        # What the server took over it has closed already; this is for when it did not.
        for listening in opened:
            listening.close()
        if xenstore is not None and xenstore.path is not None:
            xenstore.path.unlink(missing_ok=True)
        if trace_file is not None:
            trace_file.close()
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        if state_dir is not None:
            shutil.rmtree(state_dir, ignore_errors=True)


def _serve_run(
    machine: Machine,
    args: argparse.Namespace,
    gdb: Endpoint | Listening | None,
    trace: Listening | None,
    xenstore: Listening,
    trace_file: TextIO | None,
    unblocked: Iterable[int],
    streams: _Streams,
) -> int:
    """Serve the machine until it ends (or Ctrl-C), then its summary and exit status."""
    import trio

    from xgdbvm.machine.stop import HostInterrupt
    from xgdbvm.server.app import ConsolePrinter, ServeOptions
    from xgdbvm.server.endpoints import StdioEndpoint

    # With GDB on stdio, stdout is the protocol: the console goes to stderr.
    stdio = isinstance(gdb, StdioEndpoint)
    machine.observers.subscribe(ConsolePrinter(streams.stderr if stdio else streams.stdout))
    options = ServeOptions(
        gdb=gdb,
        wait_for_gdb=args.wait_for_gdb,
        max_instructions=args.max_instructions,
        restart_on_reboot=args.on_reboot == "restart",
        trace=trace,
        trace_file=trace_file,
        trace_lossless=args.trace_lossless,
        xenstore_socket=xenstore,
        console_input=None if stdio else _console_input_fd(),
    )
    _end_startup()
    started = time.perf_counter()
    try:
        stop, interrupted = trio.run(_serve, machine, options, unblocked, streams.announce)
    except BaseExceptionGroup as group:
        # A server that cannot start (a bad path) is a usage error.
        failed = group.subgroup(ConfigError)
        if failed is None:
            raise
        raise _first(failed) from None
    reason: StopReason = stop if stop is not None else HostInterrupt()
    streams.announce(summary(machine, reason, time.perf_counter() - started))
    if gdb is not None and interrupted:
        return EXIT_POWEROFF
    return EXIT_INTERRUPTED if interrupted else exit_status(reason)


def _open_trace_file(path: Path) -> TextIO:
    """The --trace-file, opened before anything is announced: a path that cannot be
    written is a one-line usage error, not one after the server said it was ready."""
    try:
        return path.open("w", encoding="utf-8", buffering=1)
    except OSError as error:
        raise ConfigError(f"--trace-file {path}: {error.strerror or error}") from None


def _announce_listening(
    image: Path,
    gdb: Endpoint | Listening | None,
    xenstore: Listening,
    trace: Listening | None,
    announce: Callable[[str], None],
) -> None:
    """What a run serves; ``gdb`` is announced when it listens (not for stdio)."""
    from xgdbvm.server.listeners import Listening

    if isinstance(gdb, Listening):
        announce(
            f"xgdbvm: GDB server on {gdb.address}; attach with:\n"
            f"  gdb-multiarch {image} -ex 'target remote {gdb.address}'"
        )
    announce(
        f"xgdbvm: xenstore on {xenstore.address}; use it with: "
        f"XENSTORED_PATH={xenstore.address} xenstore-ls"
    )
    if trace is not None:
        announce(
            f"xgdbvm: trace server on {trace.address}; read it with: xgdbvm trace {trace.address}"
        )


def _first(group: BaseExceptionGroup[ConfigError]) -> ConfigError:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    assert isinstance(error, ConfigError)
    return error


def _console_input_fd() -> int | None:
    """stdin, when it is a terminal or a pipe: then it feeds the guest's PV console."""
    try:
        mode = os.fstat(0).st_mode
    except OSError:
        return None
    return 0 if os.isatty(0) or stat.S_ISFIFO(mode) else None


def _load_gdb_support() -> None:
    import xgdbvm.adapters.gdb_target
    import xgdbvm.server.gdb_session  # noqa: F401


class _Streams:
    """A run's stdout and stderr, written without ever blocking the server (see
    xgdbvm/server/outlet.py): a harness that never reads them cannot stall it."""

    CLOSE_TIMEOUT_S = 5.0  # at exit, for a reader that is slow or not reading at all

    def __init__(self, stdout: Outlet, stderr: Outlet) -> None:
        self.stdout = stdout
        self.stderr = stderr

    @classmethod
    def open(cls) -> _Streams:
        from xgdbvm.server.outlet import Outlet

        sys.stdout.flush()
        sys.stderr.flush()
        return cls(Outlet(sys.stdout.fileno(), "stdout"), Outlet(sys.stderr.fileno(), "stderr"))

    def announce(self, text: str) -> None:
        self.stderr.write(text.encode("utf-8", "backslashreplace") + b"\n")

    def close(self) -> None:
        deadline = time.monotonic() + self.CLOSE_TIMEOUT_S
        self.stdout.close(timeout=self.CLOSE_TIMEOUT_S)
        self.stderr.close(timeout=max(0.0, deadline - time.monotonic()))


async def _serve(
    machine: Machine,
    options: ServeOptions,
    unblocked: Iterable[int],
    announce: Callable[[str], None],
) -> tuple[StopReason | None, bool]:
    import trio

    from xgdbvm.server.app import Bound, Server, wait_for_signals

    server = Server(machine, options, announce)
    outcome: list[StopReason | None] = []
    async with trio.open_nursery() as nursery:
        signals = trio.CancelScope()

        async def watch_signals(
            *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
        ) -> None:
            with signals:
                await wait_for_signals(nursery.cancel_scope, task_status=task_status)

        async def serve(*, task_status: trio.TaskStatus[Bound] = trio.TASK_STATUS_IGNORED) -> None:
            outcome.append(await server.serve(task_status=task_status))
            signals.cancel()

        await nursery.start(watch_signals)
        # Caught from now on: one that came since the announce is taken here.
        signal.pthread_sigmask(signal.SIG_SETMASK, unblocked)
        bound = await nursery.start(serve)
        if bound.gdb is not None and bound.gdb != "stdio":
            # The server imports GDB support when a client connects; loading it now uses
            # the time until one does (gdb's own start-up is longer) instead of adding
            # ~0.15 s to the attach. Concurrent imports of a module wait for each other.
            threading.Thread(target=_load_gdb_support, name="gdb-preload", daemon=True).start()
    interrupted = not outcome
    return (outcome[0] if outcome else server.runner.last_stop), interrupted


def command_trace(args: argparse.Namespace) -> int:
    from xgdbvm.trace_cli import command_trace

    return command_trace(args)


COMMANDS = {"run": command_run, "trace": command_trace}


def _end_startup() -> None:
    """Resume the garbage collector if `main` paused it for start-up.

    What start-up allocated (modules, classes, the machine) lives as long as the process,
    so it is frozen out of later collections too: scanning it again never frees anything.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    # Start-up allocates tens of thousands of objects that all stay alive (modules,
    # classes, the functions of ~200 dataclasses); the collections their allocation
    # triggers free next to nothing and cost about 30 ms here.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(with_trace=argv[:1] != ["run"]).parse_args(argv)
        if args.command != "run":
            _end_startup()
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"xgdbvm: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        if was_enabled:
            gc.enable()


if __name__ == "__main__":
    sys.exit(main())
