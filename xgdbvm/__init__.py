"""xgdbvm: a GDB-remote server that emulates a Xen-on-ARM guest.

``xgdbvm.open_vm`` and ``xgdbvm.connect`` (the scripting API, :mod:`xgdbvm.api`)
are imported on first use, so ``import xgdbvm`` stays cheap. Importing the
package installs the dataclass method cache (:mod:`xgdbvm.dataclass_cache`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from xgdbvm import dataclass_cache

# First, before any module of ours defines a dataclass (see the module's notes).
dataclass_cache.install()

if TYPE_CHECKING:
    from xgdbvm.api import connect, open_vm

__all__ = ["connect", "open_vm"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from xgdbvm import api

        return getattr(api, name)
    raise AttributeError(f"module 'xgdbvm' has no attribute {name!r}")
