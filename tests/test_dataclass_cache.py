"""The dataclass method cache: same classes as without it, fewer compiles, no failures."""

from __future__ import annotations

import dataclasses
import os
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_python
from xgdbvm.dataclass_cache import HEADER, MethodCache

SOURCE = '''
from __future__ import annotations
from dataclasses import dataclass, field

@dataclass(frozen=True)
class Stop:
    """A stop."""
    pc: int
    reason: str = "breakpoint"
    notes: tuple[str, ...] = field(default_factory=tuple)
'''


Define = Callable[[MethodCache, str], Any]


@pytest.fixture
def define(monkeypatch: pytest.MonkeyPatch) -> Iterator[Define]:
    """define(cache, module name): run SOURCE as that module with the cache in place."""
    names: list[str] = []

    def run(cache: MethodCache, name: str) -> types.ModuleType:
        monkeypatch.setattr(dataclasses, "exec", cache.exec, raising=False)
        module = types.ModuleType(name)
        sys.modules[name] = module
        names.append(name)
        exec(compile(SOURCE, name, "exec"), module.__dict__)
        return module

    yield run
    for name in names:
        sys.modules.pop(name, None)


def test_a_cached_class_is_the_class_dataclasses_makes(define: Define, tmp_path: Path) -> None:
    cached = define(MethodCache(str(tmp_path)), "xgdbvm.cache_probe").Stop
    stop = cached(0x4000_0000)
    assert stop == cached(0x4000_0000, "breakpoint", ())
    assert stop != cached(0x4000_0004)
    assert hash(stop) == hash(cached(0x4000_0000))
    assert repr(stop) == "Stop(pc=1073741824, reason='breakpoint', notes=())"
    with pytest.raises(dataclasses.FrozenInstanceError):
        stop.pc = 0
    # Compiled as dataclasses compiles it, not under this test's postponed annotations.
    assert cached.__init__.__annotations__["return"] is None


def test_the_next_process_compiles_nothing(define: Define, tmp_path: Path) -> None:
    first = MethodCache(str(tmp_path))
    define(first, "xgdbvm.cache_probe")
    assert first.compiled > 0
    assert first.save()
    second = MethodCache(str(tmp_path))
    stop = define(second, "xgdbvm.cache_probe").Stop
    assert second.compiled == 0
    assert stop(1) == stop(1) and stop(1) != stop(2)


def test_classes_outside_the_package_are_left_to_dataclasses(
    define: Define, tmp_path: Path
) -> None:
    cache = MethodCache(str(tmp_path))
    stop = define(cache, "somebody_else").Stop
    assert cache.compiled == 0 and not cache.modules
    assert stop(1) == stop(1)


@pytest.mark.parametrize(
    "content",
    [b"", b"not a cache", HEADER + b"\x00garbage", HEADER[:-3] + b"old\n"],
    ids=["empty", "foreign", "corrupt", "other-python"],
)
def test_a_bad_file_is_ignored_and_rewritten(
    define: Define, tmp_path: Path, content: bytes
) -> None:
    first = MethodCache(str(tmp_path))
    define(first, "xgdbvm.cache_probe")
    first.save()
    (written,) = tmp_path.iterdir()
    written.write_bytes(content)
    second = MethodCache(str(tmp_path))
    stop = define(second, "xgdbvm.cache_probe").Stop
    assert second.compiled == first.compiled
    assert stop(3).pc == 3
    assert second.save()
    assert MethodCache(str(tmp_path))._load("xgdbvm.cache_probe")


def test_a_cache_that_cannot_be_written_is_only_kept_in_memory(
    define: Define, tmp_path: Path
) -> None:
    blocked = tmp_path / "file-in-the-way"
    blocked.write_text("")
    cache = MethodCache(str(blocked / "cache"))
    define(cache, "xgdbvm.cache_probe")
    assert not cache.save()
    assert os.listdir(tmp_path) == ["file-in-the-way"]


def test_the_setup_leaves_nothing_for_a_run_to_compile() -> None:
    # ./scripts/bootstrap warms the cache: a start-up compiles no dataclass method.
    probe = (
        "import xgdbvm.machine.machine, xgdbvm.server.app, xgdbvm.rsp.commands;"
        "from xgdbvm.dataclass_cache import install; print(install().compiled)"
    )
    done = run_python(probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
