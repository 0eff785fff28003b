"""docs/testing.md shows the example tests exactly as tests/examples/ runs them."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKER = "<!-- tests/examples/test_example.py -->"


def example_block(markdown: str) -> str:
    """The code block right after the marker."""
    assert MARKER in markdown, f"{MARKER} is missing from docs/testing.md"
    after = markdown.split(MARKER, 1)[1]
    match = re.match(r"\s*```python\n(.*?)^```$", after, re.DOTALL | re.MULTILINE)
    assert match is not None, "no ```python block follows the marker"
    return match.group(1)


def test_the_documented_example_is_the_example_that_runs() -> None:
    documented = example_block((REPO / "docs" / "testing.md").read_text())
    assert documented == (REPO / "tests" / "examples" / "test_example.py").read_text()


def test_the_readme_points_to_the_testing_guide() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Scripting xgdbvm from tests", 1)
    assert len(section) == 2, "README.md has no 'Scripting xgdbvm from tests' section"
    assert "docs/testing.md" in section[1]
