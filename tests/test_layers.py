"""DESIGN.md's rule that rsp/ is sans-IO on the standard library alone.

import-linter checks the layers and forbidden packages; "only the standard
library" is a closed list it cannot express, so it is checked here.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

RSP = Path(__file__).resolve().parent.parent / "xgdbvm" / "rsp"


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_rsp_imports_only_the_standard_library_and_itself() -> None:
    files = sorted(RSP.rglob("*.py"))
    assert files
    offenders = {
        f"{path.name}: {name}"
        for path in files
        for name in imported_top_levels(path)
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("xgdbvm.rsp")
    }
    assert not offenders
