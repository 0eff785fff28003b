"""Watches: what a registered watch is and which changes it matches.

Contract (docs/misc/xenstore.txt "Watches", tools/xenstored/watch.c):

- a watch is (absolute path, token, optional depth); a relative watch path
  yields relative event paths, so the watch remembers how much to strip;
- a change is reported with one of four match kinds:
  SUBTREE (the changed node and everything above it: write, mkdir, set_perms
  and the root of a removal), EXACT (descendants removed with their parent:
  only a watch on exactly that path fires), DEPTH and NODEPTH (the special
  ``@introduceDomain``/``@releaseDomain`` events, with and without the
  ``/<domid>`` suffix);
- the event payload is ``<path>\\0<token>\\0``; events longer than the payload
  limit are silently not sent, as in xenstored.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from .paths import is_child


class WatchMatch(Enum):
    SUBTREE = auto()
    EXACT = auto()
    DEPTH = auto()
    NODEPTH = auto()


@dataclass(frozen=True, slots=True)
class Watch:
    path: str  # canonical (absolute or @special)
    token: bytes
    depth: int | None = None  # None: no depth limit
    strip: int = 0  # characters to drop from event paths for a relative watch

    def matches(self, changed: str, how: WatchMatch) -> bool:
        return _MATCHERS[how](self, changed)

    def event_path(self, changed: str) -> bytes:
        return changed[self.strip :].encode("ascii")


def _subtree(w: Watch, changed: str) -> bool:
    return is_child(changed, w.path, w.depth)


def _exact(w: Watch, changed: str) -> bool:
    return changed == w.path


def _depth(w: Watch, changed: str) -> bool:
    # "@releaseDomain/<domid>" reaches an exact watch on it, or a watch on the
    # bare special name registered with a depth (1 is the only useful one).
    if changed == w.path:
        return True
    return w.depth is not None and w.depth > 0 and is_child(changed, w.path, w.depth)


def _nodepth(w: Watch, changed: str) -> bool:
    # The bare special event goes only to watches registered without a depth.
    return changed == w.path and w.depth is None


_MATCHERS = {
    WatchMatch.SUBTREE: _subtree,
    WatchMatch.EXACT: _exact,
    WatchMatch.DEPTH: _depth,
    WatchMatch.NODEPTH: _nodepth,
}
