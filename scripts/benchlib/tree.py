"""Which xgdbvm is measured: the working tree, or a snapshot of a git revision.

Other people edit the checkout while benchmarks run; `--rev REV` measures a
commit instead: `git archive REV` into a temporary directory, the firmware built
there with its own Makefile, the native extension copied from the working tree when
its sources are unchanged (else compiled with cc from the sources the revision's
pyproject.toml lists), and xgdbvm run
as `.venv/bin/python -m xgdbvm` with that directory first on PYTHONPATH.
Either way xgdbvm's bytecode is compiled before measuring (`compile_bytecode`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sysconfig
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"


@dataclass(frozen=True)
class Tree:
    root: Path
    label: str  # "working tree at <sha>" or "<rev> (<sha>)"
    snapshot: bool

    def elf(self, arch: str) -> Path:
        return self.root / "firmware" / "build" / arch / "guest.elf"

    def xgdbvm(self) -> list[str]:
        """The command; run it with cwd=root (`python -m` puts the cwd first on sys.path)."""
        if self.snapshot:
            return [str(VENV_PYTHON), "-m", "xgdbvm"]
        return [str(REPO / ".venv" / "bin" / "xgdbvm")]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.snapshot:
            env["PYTHONPATH"] = str(self.root)
        else:
            env.pop("PYTHONPATH", None)
        env["PYTHONUNBUFFERED"] = "1"
        return env


def _native_sources(root: Path) -> list[str]:
    """The C sources of the revision's extension module, as its pyproject.toml lists them
    (none before the instruction clock was written in C)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    modules = project.get("tool", {}).get("setuptools", {}).get("ext-modules", [])
    return [source for module in modules for source in module.get("sources", [])]


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True, timeout=60
    ).stdout.strip()


def compile_bytecode(root: Path) -> None:
    """Write the .pyc files of `root`/xgdbvm, as `pip install` does for an installed copy.

    Start-up is measured from cold processes: without cached bytecode each run compiles
    every xgdbvm module from source (about 0.3 s here), a cost no installed copy pays.
    An editable install writes the cache on first import, unless PYTHONDONTWRITEBYTECODE
    is set (some shells and containers set it); compileall writes it regardless.
    """
    done = subprocess.run(
        [str(VENV_PYTHON), "-m", "compileall", "-q", str(root / "xgdbvm")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"compileall {root / 'xgdbvm'} failed: {done.stdout.strip()[-300:]}")
    if not (root / "xgdbvm" / "dataclass_cache.py").exists():
        return  # an older revision: nothing more to cache
    # Likewise the compiled dataclass methods, which ./scripts/bootstrap writes too.
    done = subprocess.run(
        [str(VENV_PYTHON), "-c", "from xgdbvm.dataclass_cache import warm; warm()"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    if done.returncode != 0:
        raise RuntimeError(f"caching the dataclass methods failed: {done.stderr.strip()[-300:]}")


def working_tree() -> Tree:
    compile_bytecode(REPO)
    try:
        sha = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--", "xgdbvm", "firmware", "dts", "pyproject.toml")
    except (subprocess.SubprocessError, OSError):
        return Tree(REPO, "working tree (not a git checkout)", False)
    state = " with uncommitted changes to xgdbvm/firmware" if dirty else ""
    return Tree(REPO, f"working tree at {sha}{state}", False)


def snapshot(rev: str, workdir: Path) -> Tree:
    """Export and build `rev`; raises RuntimeError with the reason on failure."""
    try:
        sha = _git("rev-parse", "--short=12", f"{rev}^{{commit}}")
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"--rev {rev}: {error.stderr.strip()}") from None
    root = workdir / f"xgdbvm-{sha}"
    root.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", sha],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True, timeout=120)
    sources = _native_sources(root)
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    target = root / "xgdbvm" / "machine" / f"_tick{suffix}"
    built = REPO / "xgdbvm" / "machine" / f"_tick{suffix}"
    # The sources' directories, not just the files: a source's headers count too.
    watched = ["pyproject.toml", *sorted({str(Path(source).parent) for source in sources})]
    unchanged = (
        subprocess.run(
            ["git", "-C", str(REPO), "diff", "--quiet", sha, "--", *watched], timeout=60
        ).returncode
        == 0
    )
    if sources:
        if unchanged and built.exists():
            shutil.copy2(built, target)
        else:
            include = sysconfig.get_paths()["include"]
            subprocess.run(
                ["cc", "-O2", "-shared", "-fPIC", f"-I{include}",
                 *(str(root / source) for source in sources), "-o", str(target)],
                check=True, capture_output=True, timeout=300,
            )  # fmt: skip
    make = subprocess.run(
        ["make", "-s", "-C", str(root / "firmware")], capture_output=True, text=True, timeout=600
    )
    if make.returncode != 0:
        raise RuntimeError(f"firmware of {sha} does not build: {make.stderr.strip()[-300:]}")
    compile_bytecode(root)
    return Tree(root, f"{rev} ({sha})", True)
