"""Store semantics: tree operations, permissions, dispatch errors, directory chunking."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xgdbvm.machine.xen.xenstore import (
    Message,
    NodePerms,
    XenStore,
    XsClient,
    XsError,
    XsType,
    request,
)
from xgdbvm.machine.xen.xenstore.wire import parse_error, split_strings

from .conftest import fails


def test_fresh_store_has_xenstored_structure() -> None:
    xs = XsClient(XenStore())
    assert xs.directory("/") == ["tool"]
    assert xs.directory("/tool") == ["xenstored"]
    assert xs.get_perms("@releaseDomain").texts() == ["n0", "r32757"]
    assert xs.get_perms("@introduceDomain").texts() == ["n0"]


def test_write_read_creates_parents(dom0: XsClient) -> None:
    dom0.write("/a/b/c", b"value\0with nul")
    assert dom0.read("/a/b/c") == b"value\0with nul"
    assert dom0.read("/a/b") == b""
    assert dom0.directory("/a") == ["b"]
    dom0.write("/a/b/c", "")
    assert dom0.read("/a/b/c") == b""


def test_directory_keeps_creation_order(dom0: XsClient) -> None:
    for name in ["z", "a", "m"]:
        dom0.mkdir(f"/d/{name}")
    assert dom0.directory("/d") == ["z", "a", "m"]
    dom0.rm("/d/a")
    assert dom0.directory("/d") == ["z", "m"]


def test_read_missing_is_enoent(dom0: XsClient) -> None:
    fails(XsError.ENOENT, dom0.read, "/nope")
    fails(XsError.ENOENT, dom0.directory, "/nope")


def test_mkdir_keeps_existing_value(dom0: XsClient) -> None:
    dom0.write("/m", "keep")
    dom0.mkdir("/m")
    assert dom0.read("/m") == b"keep"
    dom0.mkdir("/m/n/o")
    assert dom0.directory("/m/n") == ["o"]


def test_rm_recursive_and_tolerant(dom0: XsClient) -> None:
    dom0.write("/r/a/b", "1")
    dom0.write("/r/a/c", "2")
    dom0.rm("/r/a")
    assert dom0.directory("/r") == []
    dom0.rm("/r/a")  # absent, parent present: fine
    fails(XsError.ENOENT, dom0.rm, "/r/x/y")  # parent absent too
    fails(XsError.EINVAL, dom0.rm, "/")


def test_rm_very_deep_tree(dom0: XsClient) -> None:
    path = "/deep" + "/d" * 1500
    dom0.write(path, "x")
    dom0.rm("/deep")
    fails(XsError.ENOENT, dom0.read, "/deep")


def test_relative_paths_are_under_the_domain_home(guest: XsClient, dom0: XsClient) -> None:
    assert guest.read("name") == b"guest1"
    guest.write("data/x", "1")
    assert dom0.read("/local/domain/1/data/x") == b"1"
    assert dom0.read("domid") == b"0"  # dom0's home is /local/domain/0


@pytest.mark.parametrize("path", ["/a//b", "/a/", "bad path", "/a.b", "@introduceDomain"])
def test_invalid_paths(dom0: XsClient, path: str) -> None:
    fails(XsError.EINVAL, dom0.read, path)
    fails(XsError.EINVAL, dom0.write, path, "v")


def test_one_arg_requests_need_exactly_one_string(dom0: XsClient) -> None:
    fails(XsError.EINVAL, dom0.call, XsType.READ, "/tool", "extra")
    fails(XsError.EINVAL, dom0.call, XsType.READ, raw_tail=b"/tool")
    fails(XsError.EINVAL, dom0.call, XsType.WRITE, raw_tail=b"/no-nul")


# --- permissions ---------------------------------------------------------------


def test_guest_cannot_write_dom0_owned_node(guest: XsClient, dom0: XsClient) -> None:
    fails(XsError.EACCES, guest.write, "name", "evil")
    fails(XsError.EACCES, guest.write, "/local/domain/1/memory/target", "1")
    fails(XsError.EACCES, guest.rm, "name")
    fails(XsError.EACCES, guest.mkdir, "newdir")  # home is read-only to the guest
    dom0.write("/local/domain/1/name", "renamed")  # dom0 may do anything
    assert guest.read("name") == b"renamed"


def test_guest_cannot_see_other_trees(guest: XsClient, dom0: XsClient) -> None:
    fails(XsError.EACCES, guest.read, "/local/domain/0/name")
    fails(XsError.EACCES, guest.directory, "/")
    # A missing node below an unreadable one does not even admit to being missing.
    fails(XsError.EACCES, guest.read, "/local/domain/0/nothing-here")
    fails(XsError.EACCES, guest.read, "/tool/nothing")
    # ...but below a readable one it does.
    fails(XsError.ENOENT, guest.read, "nothing-here")


def test_new_nodes_inherit_perms_and_guest_becomes_owner(guest: XsClient, dom0: XsClient) -> None:
    dom0.set_perms("/local/domain/1/data", NodePerms.of("n1", "r0", "w7"))
    guest.write("data/a/b", "x")
    assert guest.get_perms("data/a").texts() == ["n1", "r0", "w7"]
    dom0.set_perms("/local/domain/1/data", NodePerms.of("n0", "b1"))
    guest.write("data/c", "y")
    assert guest.get_perms("data/c").texts() == ["n1", "b1"]
    # dom0 creating below a guest-owned node keeps the inherited owner.
    dom0.write("/local/domain/1/data/d", "z")
    assert dom0.get_perms("/local/domain/1/data/d").texts() == ["n0", "b1"]


def test_set_perms_rules(guest: XsClient, dom0: XsClient) -> None:
    guest.write("data/p", "x")
    guest.set_perms("data/p", NodePerms.of("n1", "r0"))
    fails(XsError.EPERM, guest.set_perms, "data/p", NodePerms.of("n0"))
    fails(XsError.EACCES, guest.set_perms, "name", NodePerms.of("b1"))
    dom0.set_perms("/local/domain/1/data/p", NodePerms.of("r0"))  # dom0 changes owners
    assert guest.read("data/p") == b"x"  # "r0": owner letter r = default for others
    fails(XsError.EACCES, guest.write, "data/p", "y")
    fails(XsError.EINVAL, dom0.call, XsType.SET_PERMS, "/local/domain/1/data/p")
    fails(XsError.EINVAL, dom0.call, XsType.SET_PERMS, "/local/domain/1/data/p", "q1")


def test_get_and_set_perms_on_special_nodes(dom0: XsClient, guest: XsClient) -> None:
    dom0.set_perms("@introduceDomain", NodePerms.of("n0", "r1"))
    assert guest.get_perms("@introduceDomain").texts() == ["n0", "r1"]
    fails(XsError.ENOENT, dom0.get_perms, "@nonexistent")


def test_target_domain_acts_for_its_target(store: XenStore, dom0: XsClient) -> None:
    store.introduce_domain(2, 1)
    store.introduce_domain(1, 1)
    dom0.call(XsType.SET_TARGET, "2", "1")
    stubdom = XsClient(store, 2)
    assert stubdom.read("/local/domain/1/name") == b"guest1"


# --- dispatch ------------------------------------------------------------------


@pytest.mark.parametrize("msg_type", [20, 15, 16, 23, 24, 25, 26, 27, 0xFFFF, 0x12345678])
def test_unsupported_types_get_enosys(dom0: XsClient, msg_type: int) -> None:
    fails(XsError.ENOSYS, dom0.call, msg_type, "/")


@pytest.mark.parametrize(
    ("kind", "args"),
    [
        (XsType.CONTROL, ("check",)),
        (XsType.INTRODUCE, ("3", "0", "1")),
        (XsType.RELEASE, ("1",)),
        (XsType.IS_DOMAIN_INTRODUCED, ("1",)),
        (XsType.RESUME, ("1",)),
        (XsType.SET_TARGET, ("1", "0")),
    ],
)
def test_dom0_only_requests(guest: XsClient, kind: XsType, args: tuple[str, ...]) -> None:
    fails(XsError.EACCES, guest.call, kind, *args)


def test_error_reply_echoes_ids(store: XenStore) -> None:
    conn = store.connect(0)
    resp = store.handle(conn, request(XsType.READ, "/missing", req_id=77))
    assert resp.reply.msg_type == XsType.ERROR
    assert resp.reply.req_id == 77
    assert parse_error(resp.reply.payload) is XsError.ENOENT
    assert conn.pop_output() == resp.reply


def test_unknown_transaction_id_is_enoent(dom0: XsClient) -> None:
    fails(XsError.ENOENT, dom0.read, "/tool", tx=1234)


def test_get_domain_path(guest: XsClient) -> None:
    assert guest.call(XsType.GET_DOMAIN_PATH, "5") == b"/local/domain/5\0"
    assert guest.call(XsType.GET_DOMAIN_PATH, "") == b"/local/domain/0\0"
    fails(XsError.EINVAL, guest.call, XsType.GET_DOMAIN_PATH, "65536")
    fails(XsError.EINVAL, guest.call, XsType.GET_DOMAIN_PATH, "x")


def test_domain_queries(dom0: XsClient) -> None:
    assert dom0.call(XsType.IS_DOMAIN_INTRODUCED, "1") == b"T\0"
    assert dom0.call(XsType.IS_DOMAIN_INTRODUCED, "9") == b"F\0"
    assert dom0.call(XsType.IS_DOMAIN_INTRODUCED, str(0x7FF0)) == b"T\0"
    assert dom0.call(XsType.RESUME, "1") == b"OK\0"
    fails(XsError.EINVAL, dom0.call, XsType.RESUME, "0")
    fails(XsError.ENOENT, dom0.call, XsType.RESUME, "9")
    fails(XsError.EINVAL, dom0.call, XsType.INTRODUCE, "3", "0", "0")
    assert dom0.call(XsType.INTRODUCE, "3", "0", "7") == b"OK\0"
    assert dom0.call(XsType.IS_DOMAIN_INTRODUCED, "3") == b"T\0"
    assert dom0.call(XsType.RELEASE, "3") == b"OK\0"
    assert dom0.call(XsType.IS_DOMAIN_INTRODUCED, "3") == b"F\0"


def test_control(dom0: XsClient) -> None:
    assert dom0.call(XsType.CONTROL, "check") == b"OK\0"
    assert b"check" in dom0.call(XsType.CONTROL, "help")
    assert b"nodes" in dom0.call(XsType.CONTROL, "quota")
    assert dom0.call(XsType.CONTROL, "print", "hello") == b"OK\0"
    fails(XsError.EINVAL, dom0.call, XsType.CONTROL, "live-update")
    fails(XsError.EINVAL, dom0.call, XsType.CONTROL)


# --- big directories ------------------------------------------------------------


def _big_dir(dom0: XsClient, count: int) -> list[str]:
    names = [f"child-number-{i:05d}" for i in range(count)]
    for name in names:
        dom0.mkdir(f"/big/{name}")
    return names


def _directory_part(xs: XsClient, path: str) -> list[str]:
    """libxenstore's xs_directory_part() loop."""
    gen = None
    strings = b""
    offset = 0
    while True:
        reply = xs.call(XsType.DIRECTORY_PART, path, str(offset))
        this_gen, _, rest = reply.partition(b"\0")
        if offset and this_gen != gen:
            strings, offset, gen = b"", 0, None
            continue
        gen = this_gen
        strings += rest
        offset += len(rest)
        if offset <= 1 or strings[offset - 2] == 0:
            break
    if offset > 1:
        strings = strings[:-1]
    return [s.decode() for s in split_strings(strings)]


def test_directory_larger_than_payload_is_e2big(dom0: XsClient) -> None:
    names = _big_dir(dom0, 300)  # 300 * 19 bytes > 4096
    fails(XsError.E2BIG, dom0.directory, "/big")
    assert _directory_part(dom0, "/big") == names


def test_directory_part_chunks(dom0: XsClient) -> None:
    _big_dir(dom0, 300)
    first = dom0.call(XsType.DIRECTORY_PART, "/big", "0")
    assert len(first) <= 4096
    gen, _, rest = first.partition(b"\0")
    assert gen.isdigit()
    assert not rest.endswith(b"\0\0")  # not the end yet
    end = dom0.call(XsType.DIRECTORY_PART, "/big", "999999")
    assert end == gen + b"\0\0"


def test_directory_part_small_and_empty(dom0: XsClient) -> None:
    dom0.write("/s/a", "")
    dom0.write("/s/bb", "")
    reply = dom0.call(XsType.DIRECTORY_PART, "/s", "0")
    assert reply.partition(b"\0")[2] == b"a\0bb\0\0"
    assert dom0.call(XsType.DIRECTORY_PART, "/s/a", "0") == dom0.call(
        XsType.DIRECTORY_PART, "/s/a", "5"
    )
    fails(XsError.EINVAL, dom0.call, XsType.DIRECTORY_PART, "/s")


def test_directory_part_generation_changes_with_the_directory(dom0: XsClient) -> None:
    dom0.mkdir("/g/a")
    before = dom0.call(XsType.DIRECTORY_PART, "/g", "0").partition(b"\0")[0]
    assert dom0.call(XsType.DIRECTORY_PART, "/g", "0").partition(b"\0")[0] == before
    dom0.mkdir("/g/b")
    assert dom0.call(XsType.DIRECTORY_PART, "/g", "0").partition(b"\0")[0] != before


def test_directory_part_restart_when_generation_changes(
    dom0: XsClient, client: Callable[[int], XsClient]
) -> None:
    names = _big_dir(dom0, 300)
    other = client(0)
    original_call = dom0.call
    calls = {"n": 0}

    def racing_call(kind: int, *parts: bytes | str, **kw: object) -> bytes:
        calls["n"] += 1
        if calls["n"] == 2:
            other.mkdir("/big/late-arrival")
        return original_call(kind, *parts, **kw)  # type: ignore[arg-type]

    dom0.call = racing_call  # type: ignore[method-assign]
    assert _directory_part(dom0, "/big") == [*names, "late-arrival"]


def test_response_for_write_has_no_events_without_watchers(store: XenStore) -> None:
    conn = store.connect(0)
    resp = store.handle(conn, Message(XsType.WRITE, 1, 0, b"/w\0v"))
    assert resp.reply.payload == b"OK\0"
    assert resp.events == ()
