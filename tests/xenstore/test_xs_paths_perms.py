"""Path rules, watch matching and the permission format/access rule."""

from __future__ import annotations

import pytest

from xgdbvm.machine.xen.xenstore.paths import basename, canonicalize, child_path, is_child, parent
from xgdbvm.machine.xen.xenstore.perms import DOMID_ANY, FULL, Access, NodePerms, Perm
from xgdbvm.machine.xen.xenstore.watch import Watch, WatchMatch
from xgdbvm.machine.xen.xenstore.wire import XenStoreError, XsError


@pytest.mark.parametrize(
    ("raw", "domid", "expected"),
    [
        (b"/", 0, "/"),
        (b"/local/domain/3/x", 3, "/local/domain/3/x"),
        (b"device/vbd", 3, "/local/domain/3/device/vbd"),
        (b"name", 0, "/local/domain/0/name"),
        (b"/A-z_0/9", 1, "/A-z_0/9"),
    ],
)
def test_canonicalize_ok(raw: bytes, domid: int, expected: str) -> None:
    assert canonicalize(raw, domid, allow_special=False) == expected


@pytest.mark.parametrize(
    "raw",
    [b"", b"/a/", b"//a", b"/a//b", b"/a b", b"/a.b", b"/a\xff", b"@introduceDomain", b"x/"],
)
def test_canonicalize_rejects(raw: bytes) -> None:
    with pytest.raises(XenStoreError) as err:
        canonicalize(raw, 1, allow_special=False)
    assert err.value.code is XsError.EINVAL


def test_special_paths_only_when_allowed() -> None:
    assert canonicalize(b"@releaseDomain", 1, allow_special=True) == "@releaseDomain"


def test_path_max_counts_after_the_domain_prefix() -> None:
    inside = b"/local/domain/7/" + b"a" * 2047
    assert canonicalize(inside, 7, allow_special=False, path_max=2048)
    with pytest.raises(XenStoreError):
        canonicalize(inside + b"a", 7, allow_special=False, path_max=2048)
    with pytest.raises(XenStoreError):
        canonicalize(b"/" + b"a" * 2047, 7, allow_special=False, path_max=2048)
    # Relative paths are measured the same way once made absolute.
    assert canonicalize(b"a" * 2047, 7, allow_special=False, path_max=2048)


def test_parent_basename_child() -> None:
    assert parent("/a") == "/"
    assert parent("/a/b/c") == "/a/b"
    assert parent("@releaseDomain") == "/"
    assert basename("/a/b") == "b"
    assert child_path("/", "a") == "/a"
    assert child_path("/a", "b") == "/a/b"


@pytest.mark.parametrize(
    ("child", "parent_path", "depth", "expected"),
    [
        ("/a", "/a", None, True),
        ("/a/b/c", "/a", None, True),
        ("/ab", "/a", None, False),
        ("/a", "/a/b", None, False),
        ("/anything", "/", None, True),
        ("/a", "/a", 0, True),
        ("/a/b", "/a", 0, False),
        ("/a/b", "/a", 1, True),
        ("/a/b/c", "/a", 1, False),
        ("/a/b/c", "/a", 2, True),
        ("/a", "/", 0, False),
        ("/a", "/", 1, True),
        ("/a/b", "/", 1, False),
        ("@releaseDomain/5", "@releaseDomain", 1, True),
    ],
)
def test_is_child(child: str, parent_path: str, depth: int | None, expected: bool) -> None:
    assert is_child(child, parent_path, depth) is expected


def test_watch_match_kinds() -> None:
    w = Watch("/a", b"t")
    assert w.matches("/a/b", WatchMatch.SUBTREE)
    assert not w.matches("/a/b", WatchMatch.EXACT)
    assert w.matches("/a", WatchMatch.EXACT)
    bare = Watch("@releaseDomain", b"t")
    deep = Watch("@releaseDomain", b"t", depth=1)
    one = Watch("@releaseDomain/5", b"t")
    assert bare.matches("@releaseDomain", WatchMatch.NODEPTH)
    assert not deep.matches("@releaseDomain", WatchMatch.NODEPTH)
    assert deep.matches("@releaseDomain/5", WatchMatch.DEPTH)
    assert not bare.matches("@releaseDomain/5", WatchMatch.DEPTH)
    assert one.matches("@releaseDomain/5", WatchMatch.DEPTH)
    assert not one.matches("@releaseDomain/6", WatchMatch.DEPTH)


def test_relative_watch_strips_prefix() -> None:
    w = Watch("/local/domain/3/device", b"t", strip=len("/local/domain/3/"))
    assert w.event_path("/local/domain/3/device/vbd") == b"device/vbd"


@pytest.mark.parametrize(
    ("text", "perm"),
    [
        ("n0", Perm(0, Access.NONE)),
        ("r5", Perm(5, Access.READ)),
        ("w65535", Perm(65535, Access.WRITE)),
        ("b7", Perm(7, Access.READ | Access.WRITE)),
        ("r0x10", Perm(16, Access.READ)),
    ],
)
def test_perm_parse(text: str, perm: Perm) -> None:
    assert Perm.parse(text) == perm


@pytest.mark.parametrize("text", ["", "x1", "r", "r-1", "r65536", "r1a", "R1"])
def test_perm_parse_rejects(text: str) -> None:
    with pytest.raises(XenStoreError) as err:
        Perm.parse(text)
    assert err.value.code is XsError.EINVAL


def test_perms_encode() -> None:
    perms = NodePerms.of("n0", "r5", "b6")
    assert perms.encode() == b"n0\0r5\0b6\0"
    assert perms.owner == 0
    assert perms.with_owner(5).texts() == ["n5", "r5", "b6"]


def test_access_rule() -> None:
    perms = NodePerms.of("r3", "w5", "n6")
    assert perms.access_for(0, privileged=True) == FULL
    assert perms.access_for(3, privileged=False) == FULL  # owner
    assert perms.access_for(5, privileged=False) == Access.WRITE
    assert perms.access_for(6, privileged=False) == Access.NONE
    assert perms.access_for(9, privileged=False) == Access.READ  # owner's letter = default
    assert perms.access_for(9, privileged=False, target=5) == Access.WRITE
    anyone = NodePerms((Perm(0, Access.NONE), Perm(DOMID_ANY, Access.READ)))
    assert anyone.access_for(42, privileged=False) == Access.READ
