"""The package's walkers load on first use; its names are the same either way."""

from __future__ import annotations

import pytest

from tests.conftest import run_python
from xgdbvm.machine import mmu


@pytest.mark.parametrize("name", sorted(mmu.__all__))
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(mmu, name) is not None


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError):
        _ = mmu.no_such_thing  # type: ignore[attr-defined]


def test_functions_stay_functions_whatever_is_imported_first() -> None:
    """A submodule import sets the package attribute of its name: none is named after a
    function the package exports."""
    probe = (
        "import xgdbvm.machine.mmu.ranges, xgdbvm.machine.mmu.walk, xgdbvm.machine.mmu.render\n"
        "from xgdbvm.machine.mmu import check, format_translation, mappings, translate\n"
        "import types\n"
        "print(all(isinstance(f, types.FunctionType)"
        " for f in (check, format_translation, mappings, translate)))\n"
    )
    done = run_python(probe)
    assert done.stdout.strip() == "True", done.stderr
