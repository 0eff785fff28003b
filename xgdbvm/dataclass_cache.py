"""The methods ``@dataclass`` writes for xgdbvm's classes, compiled once and kept.

For each class, CPython 3.11's ``dataclasses`` writes the source of ``__init__``,
``__repr__``, ``__eq__``, ``__hash__`` and, frozen, ``__setattr__`` and
``__delattr__``, and compiles each with ``exec``: about 1.4 ms a class here,
70% of it in the compiler. ``xgdbvm run`` defines 92 dataclasses before it can
announce its GDB socket, which made them the largest part of start-up (113 ms).

The source text decides the compiled code entirely (the class's own values
reach the methods as arguments of an outer function, never as text), so the
code can be kept, like a ``.pyc``: in memory, and in files beside the package's
bytecode (one a module) that the next process loads. ``install`` does this by giving
the ``dataclasses`` module its own ``exec``, which, for classes of xgdbvm's
modules only, looks the text up before compiling it. Everything else goes to
the built-in ``exec`` untouched.

The file is only a cache: one that is missing, unreadable, from another Python
or corrupt is ignored and rewritten; one that cannot be written is not kept.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import marshal
import os
import sys
from types import CodeType
from typing import Any

PACKAGE = "xgdbvm"
# The marshal format and the generated source both belong to one interpreter.
HEADER = f"xgdbvm dataclass methods 1 {sys.version}\n".encode()
MAX_ENTRIES = 512  # per module: code changes leave old texts behind, start over past this


def cache_dir() -> str:
    # os.path rather than pathlib: this runs at the package's import, before anything.
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "__pycache__", "dataclass-methods")


class MethodCache:
    """Compiled code by module and source text, one file a module, each read when its
    module defines its first dataclass. ``exec`` is what the dataclasses module calls.
    ``directory`` None: kept in memory only."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        self.modules: dict[str, dict[str, CodeType]] = {}
        self.compiled = 0  # texts this process compiled (not found in a file)
        self._changed: set[str] = set()
        self._save_registered = False

    def exec(
        self, source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /
    ) -> None:
        module = None if globals is None else globals.get("__name__")
        if type(source) is str and type(module) is str and _ours(module):
            codes = self.modules.get(module)
            if codes is None:
                codes = self.modules[module] = self._load(module)
            code = codes.get(source)
            if code is None:
                # Not inheriting our own `from __future__ import annotations`: the
                # methods must be compiled as dataclasses itself compiles them.
                code = compile(source, "<string>", "exec", dont_inherit=True)
                codes[source] = code
                self.compiled += 1
                self._changed.add(module)
                self._save_at_exit()
            source = code
        exec(source, globals, locals)

    def save(self) -> bool:
        """Write the files of the modules that compiled something; False where one
        cannot be written."""
        if self.directory is None:
            return False
        saved = True
        for module in sorted(self._changed):
            codes = self.modules[module]
            if len(codes) > MAX_ENTRIES:
                codes.clear()
            saved &= _write(self._path(module), HEADER + marshal.dumps(codes))
        self._changed.clear()
        return saved

    def _path(self, module: str) -> str:
        assert self.directory is not None
        return os.path.join(self.directory, f"{module}.{sys.implementation.cache_tag}")

    def _load(self, module: str) -> dict[str, CodeType]:
        if self.directory is None:
            return {}
        try:
            with open(self._path(module), "rb") as file:
                data = file.read()
        except OSError:
            return {}
        if not data.startswith(HEADER):
            return {}
        try:
            codes = marshal.loads(data[len(HEADER) :])
        except (EOFError, ValueError, TypeError):
            return {}
        if not isinstance(codes, dict):
            return {}
        return {k: v for k, v in codes.items() if type(k) is str and type(v) is CodeType}

    def _save_at_exit(self) -> None:
        if self._save_registered or self.directory is None or sys.dont_write_bytecode:
            return
        self._save_registered = True
        atexit.register(self.save)


def _ours(module: str) -> bool:
    return module == PACKAGE or module.startswith(PACKAGE + ".")


def _write(path: str, data: bytes) -> bool:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temporary, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False
    return True


_installed: MethodCache | None = None


def install(directory: str | None = None) -> MethodCache:
    """Serve the dataclasses module's compiles from the cache (once per process)."""
    global _installed
    if _installed is None:
        _installed = MethodCache(directory if directory is not None else cache_dir())
        dataclasses.exec = _installed.exec  # type: ignore[attr-defined]
    return _installed


def warm() -> int:
    """Import every module of the package and write the cache; the number of methods
    in it. The setup script runs this, as it compiles the bytecode, for the
    processes that must not write (PYTHONDONTWRITEBYTECODE)."""
    import importlib
    import pkgutil

    cache = install()
    package = sys.modules[PACKAGE]
    for module in pkgutil.walk_packages(package.__path__, PACKAGE + "."):
        if module.name.endswith(".__main__"):
            continue
        # Some modules need their host (gdb's embedded Python); what is not
        # importable here is simply not cached.
        with contextlib.suppress(Exception):
            importlib.import_module(module.name)
    cache._changed.update(cache.modules)  # every module read, rewritten whole
    if not cache.save():
        raise OSError(f"cannot write the dataclass method cache in {cache.directory}")
    return sum(len(codes) for codes in cache.modules.values())
