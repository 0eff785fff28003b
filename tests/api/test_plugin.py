"""The pytest plugin, as a user's pytest run sees it: a failing example prints the trace
events and console lines around the failure, and --xgdbvm-keep (or the xgdbvm_keep
marker) keeps the VM's files.

Two pytest subprocesses, side by side, run deliberately failing copies of the example
tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import trio

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tests" / "examples" / "test_example.py"
RUN_TIMEOUT = 60

FAILING_TESTS = """

@pytest.mark.xgdbvm_keep
async def test_marked_failure_in_gdb(xgdbvm_vm: VmFactory) -> None:
    with trio.fail_after(10):
        vm = await xgdbvm_vm(arch="arm32")
        gdb = await vm.gdb()
        await gdb.break_at("guest_main")
        await gdb.cont()
        assert await gdb.read_register("r0") == 0x1234


async def test_expected_console_that_never_comes(xgdbvm_vm: VmFactory) -> None:
    with trio.fail_after(10):
        vm = await xgdbvm_vm(wait_for_gdb=False)
        await vm.console.expect("this line is never printed", within=0.3)


async def test_firmware_fixture(xgdbvm_firmware: dict[str, Path]) -> None:
    assert set(xgdbvm_firmware) == {"arm64", "arm32"}
    assert all(path.exists() for path in xgdbvm_firmware.values())
"""


def failing_copy(directory: Path) -> Path:
    """The example file with a wrong hypercall sequence, plus two more failing tests."""
    source = EXAMPLE.read_text()
    wrong = source.replace('    "xen_version.get_features",\n', '    "memory_op.add_to_physmap",\n')
    assert wrong != source
    wrong = wrong.replace("import trio\n", "import trio\nfrom pathlib import Path\n", 1)
    path = directory / "test_failing_examples.py"
    path.write_text(wrong + FAILING_TESTS)
    return path


# pytest in a subprocess, without Hypothesis: pytest-trio imports it if it can, and that
# is 2-3 s of start-up these runs do not need.
RUN_PYTEST = """
import sys

class NoHypothesis:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "hypothesis":
            raise ImportError(name)

sys.meta_path.insert(0, NoHypothesis())
import pytest

sys.exit(pytest.main(sys.argv[1:]))
"""


async def run_pytest(directory: Path, *args: str) -> str:
    with trio.fail_after(RUN_TIMEOUT):
        result = await trio.run_process(
            [
                sys.executable,
                "-c",
                RUN_PYTEST,
                "-p",
                "no:hypothesispytest",
                "-p",
                "no:cacheprovider",
                "-o",
                "trio_mode=true",
                "--rootdir",
                str(directory),
                "-q",
                *args,
            ],
            cwd=directory,
            capture_stdout=True,
            stderr=subprocess.STDOUT,
            check=False,
        )
    return result.stdout.decode(errors="replace")


async def test_a_failing_example_prints_the_trace_and_the_console(tmp_path: Path) -> None:
    with_option, marker_only = tmp_path / "with-option", tmp_path / "marker-only"
    outputs: dict[Path, str] = {}

    async def run(directory: Path, *args: str) -> None:
        directory.mkdir()
        test_file = failing_copy(directory)
        outputs[directory] = await run_pytest(directory, test_file.name, *args)

    keep = with_option / "kept"
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            run,
            with_option,
            "-k",
            "boot_hypercalls or marked or never or firmware",
            f"--xgdbvm-keep={keep}",
        )
        nursery.start_soon(run, marker_only, "-k", "marked or never")
    out = outputs[with_option]
    assert "4 failed, 1 passed" in out, out

    # The failed expectation: the diff of the calls, then what the trace and console held.
    assert "expected the hypercalls" in out, out
    assert "-memory_op.add_to_physmap\n" in out and "+xen_version.get_features\n" in out
    assert "What happened (" in out and "as `xgdbvm trace` prints it:" in out
    for arch in ("arm64", "arm32"):
        assert f"console[uart] xgdbvm guest: hello from {arch}" in out
        assert f"  xgdbvm guest: hello from {arch}\n" in out  # the console lines
    assert re.search(r"vcpu0  xen_version\(version.*\) -> 0x40013\n", out)
    assert re.search(r"vcpu0  xen_version\(get_features.*\) -> 0\b", out)
    assert "expected console output matching 'this line is never printed'" in out

    # A plain assert gets the plugin's sections: the VM's last trace events and console.
    assert "test_marked_failure_in_gdb" in out and "assert 1205862400 == 4660" in out
    assert "xgdbvm vm0 (arm32): trace, last" in out
    assert "xgdbvm vm0 (arm32): console, last" in out

    # --xgdbvm-keep: each failing test's trace file and console log, listed in its report.
    assert "xgdbvm: kept files" in out
    kept = sorted(p.relative_to(keep).as_posix() for p in keep.rglob("*") if p.is_file())
    assert kept == sorted(
        f"test_failing_examples.py_{test}/vm0-{arch}.{kind}"
        for test, arch in [
            ("test_boot_hypercalls_arm64", "arm64"),
            ("test_boot_hypercalls_arm32", "arm32"),
            ("test_marked_failure_in_gdb", "arm32"),
            ("test_expected_console_that_never_comes", "arm64"),
        ]
        for kind in ("trace.jsonl", "console.log")
    ), kept
    folder = keep / "test_failing_examples.py_test_boot_hypercalls_arm32"
    lines = (folder / "vm0-arm32.trace.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "hello"
    assert any(json.loads(line).get("name") == "xen_version" for line in lines[1:])
    assert "hello from arm32" in (folder / "vm0-arm32.console.log").read_text()

    # Without the option, only the marked test keeps its files, in the rootdir.
    out = outputs[marker_only]
    assert "2 failed" in out, out
    failures = marker_only / "xgdbvm-failures"
    assert [p.name for p in failures.iterdir()] == [
        "test_failing_examples.py_test_marked_failure_in_gdb"
    ]
    assert sorted(p.name for p in next(failures.iterdir()).iterdir()) == [
        "vm0-arm32.console.log",
        "vm0-arm32.trace.jsonl",
    ]
