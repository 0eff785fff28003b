"""The xgdbvm pytest plugin (registered as the ``xgdbvm`` pytest11 entry point).

Fixtures (async ones need pytest-trio: ``trio_mode = true`` or ``@pytest.mark.trio``):

``xgdbvm_vm``
    an async factory: ``vm = await xgdbvm_vm(arch="arm32", bootargs=...)`` takes the
    options of :func:`xgdbvm.open_vm` and returns a running :class:`xgdbvm.api.VM`.
    Every VM it made is closed when the test ends.
``xgdbvm_firmware``
    the built guest firmware: ``{"arm64": Path, "arm32": Path}``.

When a test that used ``xgdbvm_vm`` fails, its report gets, for each VM, the
last trace events (as ``xgdbvm trace`` prints them) and console lines. With
``--xgdbvm-keep=DIR`` (or the ``xgdbvm_keep`` marker) each VM's trace file
(JSON lines, readable with ``xgdbvm trace FILE``) and console log are kept in
``DIR/<test id>/``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import trio

    from xgdbvm.api.vm import VM

ARCHES = ("arm64", "arm32")
TRACE_SHOWN = 40
CONSOLE_SHOWN = 30
DEFAULT_KEEP_DIR = "xgdbvm-failures"


@dataclass
class _Kept:
    vm: VM
    label: str
    trace_file: Path | None


@dataclass
class VmFactory:
    """``await xgdbvm_vm(**open_vm_options)`` -> a running VM, closed at the end of the test."""

    workdir: Path
    nursery: trio.Nursery | None = None
    vms: list[_Kept] = field(default_factory=list)

    async def __call__(self, arch: str = "arm64", **options: Any) -> VM:
        if self.nursery is None:
            raise RuntimeError("the xgdbvm_vm fixture has ended")
        index = len(self.vms)
        label = f"vm{index} ({arch})"
        trace_file = options.get("trace_file")
        if trace_file is None:
            trace_file = options["trace_file"] = self.workdir / f"vm{index}-{arch}.trace.jsonl"
        vm: VM = await self.nursery.start(self._serve, arch, options)
        self.vms.append(_Kept(vm, label, Path(trace_file)))
        return vm

    @staticmethod
    async def _serve(
        arch: str, options: dict[str, Any], *, task_status: trio.TaskStatus[VM]
    ) -> None:
        import trio

        from xgdbvm.api.vm import open_vm

        async with open_vm(arch=arch, **options) as vm:
            task_status.started(vm)
            await trio.sleep_forever()


_FACTORY = pytest.StashKey[VmFactory]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xgdbvm")
    group.addoption(
        "--xgdbvm-keep",
        metavar="DIR",
        default=None,
        help="keep the trace file and console log of each VM of a failing test in DIR/<test id>/",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "xgdbvm_keep(dir=None): when this test fails, keep its VMs' trace files and console "
        f"logs (in --xgdbvm-keep DIR, else dir, else {DEFAULT_KEEP_DIR}/ in the rootdir)",
    )


@pytest.fixture(scope="session")
def xgdbvm_firmware() -> dict[str, Path]:
    """The built guest firmware per arch (what ``open_vm`` boots by default)."""
    from xgdbvm.cli import default_image

    paths = {arch: default_image(arch) for arch in ARCHES}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        pytest.fail(f"firmware not built ({', '.join(missing)}): run ./scripts/bootstrap")
    return paths


@pytest.fixture
async def xgdbvm_vm(request: pytest.FixtureRequest) -> AsyncIterator[VmFactory]:
    """An async factory of VMs (the options of ``xgdbvm.open_vm``), all closed at the end."""
    import trio

    factory = VmFactory(Path(tempfile.mkdtemp(prefix="xgdbvm-test-")))
    request.node.stash[_FACTORY] = factory
    async with trio.open_nursery() as nursery:
        factory.nursery = nursery
        try:
            yield factory
        finally:
            factory.nursery = None
            nursery.cancel_scope.cancel()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    factory = item.stash.get(_FACTORY, None)
    if factory is None:
        return report
    if report.when == "call" and report.failed:
        for kept in factory.vms:
            _add_sections(report, kept)
        keep_dir = _keep_dir(item)
        if keep_dir is not None and factory.vms:
            paths = _keep(factory, keep_dir / _safe_name(item.nodeid))
            report.sections.append(("xgdbvm: kept files", "".join(f"{path}\n" for path in paths)))
    if report.when in ("call", "teardown"):
        shutil.rmtree(factory.workdir, ignore_errors=True)
    return report


def _add_sections(report: pytest.TestReport, kept: _Kept) -> None:
    from xgdbvm.api.trace import format_events

    trace = kept.vm.trace
    events = trace.log.events
    lines = format_events(events[-TRACE_SHOWN:])
    dropped = f"; {trace.dropped} dropped" if trace.dropped else ""
    title = f"xgdbvm {kept.label}: trace, last {min(len(events), TRACE_SHOWN)} of {len(events)}"
    report.sections.append((title + dropped, "".join(f"{line}\n" for line in lines)))
    console = kept.vm.console.lines
    report.sections.append(
        (
            f"xgdbvm {kept.label}: console, last {min(len(console), CONSOLE_SHOWN)} lines",
            "".join(f"{line}\n" for line in console[-CONSOLE_SHOWN:]),
        )
    )


def _keep_dir(item: pytest.Item) -> Path | None:
    option = item.config.getoption("--xgdbvm-keep")
    if option:
        return Path(option)
    marker = item.get_closest_marker("xgdbvm_keep")
    if marker is None:
        return None
    given = marker.kwargs.get("dir") or (marker.args[0] if marker.args else None)
    return Path(given) if given else item.config.rootpath / DEFAULT_KEEP_DIR


def _keep(factory: VmFactory, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, kept in enumerate(factory.vms):
        stem = f"vm{index}-{kept.vm.arch}"
        if kept.trace_file is not None and kept.trace_file.exists():
            target = directory / f"{stem}.trace.jsonl"
            shutil.copyfile(kept.trace_file, target)
            paths.append(target)
        console = directory / f"{stem}.console.log"
        console.write_text(kept.vm.console.text, encoding="utf-8")
        paths.append(console)
    return paths


def _safe_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", nodeid).strip("_") or "test"
