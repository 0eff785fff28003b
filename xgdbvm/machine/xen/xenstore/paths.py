"""Xenstore path rules: validation, canonical form, parent/child relations.

Contract (docs/misc/xenstore.txt, tools/xenstored/core.c canonicalize(),
tools/xenstored/watch.c is_child()):

- allowed characters are ``A-Z a-z 0-9 - / _ @``; no ``//``; no trailing
  ``/`` except the root; the empty path is invalid;
- a path not starting with ``/`` (or ``@``) is relative to the connection's
  home ``/local/domain/<domid>``;
- ``@`` paths are special watch names, accepted only where the caller allows;
- for unprivileged connections the path, counted from after
  ``/local/domain/<n>/`` when it lies there, must be shorter than the
  path-max quota (2048 by default); privileged connections have no length
  limit besides the payload size.

Any violation raises XenStoreError(EINVAL).
"""

from __future__ import annotations

import re
from typing import Final

from .wire import XenStoreError, XsError

_VALID: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-/_@")
# xenstored measures unprivileged path length from after this prefix (sscanf %5u).
_LOCAL_PREFIX: Final = re.compile(r"/local/domain/\d{1,5}/")

ROOT: Final = "/"


def domain_path(domid: int) -> str:
    """The home of a domain, the base of its relative paths."""
    return f"/local/domain/{domid}"


def is_special(path: str) -> bool:
    return path.startswith("@")


def canonicalize(raw: bytes, domid: int, *, allow_special: bool, path_max: int = 0) -> str:
    """Validate a wire path and make it absolute; ``path_max`` 0 means unlimited."""
    if not all(c in _VALID for c in raw):
        raise XenStoreError(XsError.EINVAL, "invalid character in path")
    text = raw.decode("ascii")
    if text.startswith("@") and not allow_special:
        raise XenStoreError(XsError.EINVAL, "special path not allowed here")
    name = text if text.startswith(("/", "@")) else f"{domain_path(domid)}/{text}"
    if (name.endswith("/") and name != ROOT) or "//" in name:
        raise XenStoreError(XsError.EINVAL, "malformed path")
    if path_max:
        match = _LOCAL_PREFIX.match(name)
        counted = len(name) - (match.end() if match else 0)
        if counted >= path_max:
            raise XenStoreError(XsError.EINVAL, "path too long")
    return name


def parent(path: str) -> str:
    """The parent of a non-root path (``/a`` -> ``/``)."""
    slash = path.rfind("/")
    return path[:slash] if slash > 0 else ROOT


def basename(path: str) -> str:
    return path[path.rfind("/") + 1 :]


def child_path(parent_path: str, name: str) -> str:
    return f"/{name}" if parent_path == ROOT else f"{parent_path}/{name}"


def is_child(child: str, parent_path: str, depth: int | None) -> bool:
    """Whether ``child`` equals ``parent_path`` or lies below it within ``depth`` levels.

    ``depth`` None means unlimited, 0 only the path itself, 1 direct
    children too. Written to agree with xenstored's is_child(), including
    its treatment of the root.
    """
    n = len(parent_path)
    if not child.startswith(parent_path):
        return False
    if n > 1 and len(child) > n and child[n] != "/":
        return False
    if depth is None or len(child) == n:
        return True
    levels = 1 if n == 1 else 0
    i = n
    while levels <= depth:
        if i == len(child):
            return True
        if child[i] == "/":
            levels += 1
        i += 1
    return False
