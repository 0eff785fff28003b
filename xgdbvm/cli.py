"""The ``xgdbvm`` command line.

Errors a user can cause (a missing image, a bad device tree, a bad size) are
one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from xgdbvm.machine.board import MachineConfig
from xgdbvm.machine.errors import ConfigError
from xgdbvm.machine.events import ConsoleOutput, MachineEvent
from xgdbvm.machine.machine import Machine
from xgdbvm.machine.stop import HostInterrupt, Shutdown, StopReason
from xgdbvm.machine.xen.abi import ShutdownReason
from xgdbvm.machine.xen.domain import DomainConfig

REPO = Path(__file__).resolve().parent.parent
EXIT_POWEROFF, EXIT_FAILURE, EXIT_USAGE, EXIT_REBOOT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def default_image(arch: str) -> Path:
    return REPO / "firmware" / "build" / arch / "guest.elf"


def default_dts(arch: str) -> Path:
    return REPO / "dts" / f"xen-guest-{arch}.dts"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)(?:i?[bB])?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 128M, 1G, 65536)")
    return int(match.group(1)) * SIZE_UNITS[match.group(2).lower()]


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


def build_parser() -> argparse.ArgumentParser:
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
    run.add_argument("--name", default="guest", help="the guest's domain name")
    run.add_argument(
        "--on-reboot",
        choices=("exit", "restart"),
        default="exit",
        help="what a guest reboot does: exit with status 3 (default) or boot again",
    )
    return parser


def machine_config(args: argparse.Namespace) -> MachineConfig:
    return MachineConfig(
        arch=args.arch,
        image=args.image or default_image(args.arch),
        dts=args.dts or default_dts(args.arch),
        memory=args.memory,
        bootargs=args.bootargs,
        domain=DomainConfig(domid=args.domid, name=args.name),
    )


class ConsolePrinter:
    def __init__(self, stream: object) -> None:
        self._out = stream

    def machine_event(self, event: MachineEvent) -> None:
        if isinstance(event, ConsoleOutput):
            out = self._out
            out.buffer.write(event.data)  # type: ignore[attr-defined]
            out.flush()  # type: ignore[attr-defined]


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
    if isinstance(reason, Shutdown):
        return f"guest shutdown: {reason.reason.name} (via {reason.via})"
    return {
        "BudgetExhausted": "instruction budget exhausted",
        "HostInterrupt": "interrupted",
        "Idle": "guest idle in WFI with nothing to wake it",
    }.get(type(reason).__name__, f"stopped: {reason}")


def exit_status(reason: StopReason) -> int:
    if isinstance(reason, Shutdown):
        return {ShutdownReason.poweroff: EXIT_POWEROFF, ShutdownReason.reboot: EXIT_REBOOT}.get(
            reason.reason, EXIT_FAILURE
        )
    return EXIT_INTERRUPTED if isinstance(reason, HostInterrupt) else EXIT_FAILURE


def command_run(args: argparse.Namespace) -> int:
    machine = Machine(machine_config(args))
    machine.observers.subscribe(ConsolePrinter(sys.stdout))
    started = time.perf_counter()
    outcome: list[StopReason] = []

    def worker() -> None:
        # --max-instructions bounds the whole run, across guest reboots.
        spent = 0
        while True:
            budget = None if args.max_instructions is None else args.max_instructions - spent
            reason = machine.run(budget)
            restart = (
                isinstance(reason, Shutdown)
                and reason.reason is ShutdownReason.reboot
                and args.on_reboot == "restart"
            )
            if not restart:
                outcome.append(reason)
                return
            spent += machine.clock.instructions
            machine.reset()

    # The machine runs in a worker so that Ctrl-C reaches Python while Unicorn executes.
    thread = threading.Thread(target=worker, name="xgdbvm-machine", daemon=True)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: machine.request_stop())
    try:
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
    finally:
        signal.signal(signal.SIGINT, previous)
    reason = outcome[0]
    print(summary(machine, reason, time.perf_counter() - started), file=sys.stderr)
    return exit_status(reason)


COMMANDS = {"run": command_run}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"xgdbvm: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
