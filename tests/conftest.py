"""Shared fixtures: the built firmware and a machine factory."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from xgdbvm.machine.board import MachineConfig
from xgdbvm.machine.events import ConsoleOutput, MachineEvent
from xgdbvm.machine.machine import Machine

REPO = Path(__file__).resolve().parent.parent
ARCHES = ("arm64", "arm32")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (what a start-up imports, say), within 60 s."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def firmware(arch: str, name: str = "guest.elf") -> Path:
    path = REPO / "firmware" / "build" / arch / name
    assert path.exists(), f"{path} missing: run ./scripts/bootstrap"
    return path


def dts(arch: str) -> Path:
    return REPO / "dts" / f"xen-guest-{arch}.dts"


class Recorder:
    """An observer that keeps every machine event."""

    def __init__(self) -> None:
        self.events: list[MachineEvent] = []

    def machine_event(self, event: MachineEvent) -> None:
        self.events.append(event)

    def console(self) -> str:
        return b"".join(e.data for e in self.events if isinstance(e, ConsoleOutput)).decode(
            errors="replace"
        )

    def of(self, kind: type[MachineEvent]) -> list[MachineEvent]:
        return [e for e in self.events if isinstance(e, kind)]


MachineFactory = Callable[..., tuple[Machine, Recorder]]


@pytest.fixture
def make_machine() -> MachineFactory:
    def make(arch: str = "arm64", **overrides: object) -> tuple[Machine, Recorder]:
        options: dict[str, object] = {"arch": arch, "image": firmware(arch), "dts": dts(arch)}
        options.update(overrides)
        machine = Machine(MachineConfig(**options))  # type: ignore[arg-type]
        recorder = Recorder()
        machine.observers.subscribe(recorder)
        return machine, recorder

    return make
