"""Watches: matching, the first event, permissions, specials, queue bounds."""

from __future__ import annotations

from collections.abc import Callable

from xgdbvm.machine.xen.xenstore import (
    Limits,
    NodePerms,
    Quotas,
    XenStore,
    XsClient,
    XsError,
    XsType,
    request,
)

from .conftest import fails


def test_watch_fires_immediately_after_the_reply(store: XenStore) -> None:
    conn = store.connect(0)
    resp = store.handle(conn, request(XsType.WATCH, "/some/path", "tok", req_id=3))
    assert resp.reply.payload == b"OK\0"
    out = conn.drain_output()
    assert out[0] == resp.reply
    assert out[1].msg_type == XsType.WATCH_EVENT
    assert (out[1].req_id, out[1].tx_id) == (0, 0)
    assert out[1].payload == b"/some/path\0tok\0"
    assert [e.message for e in resp.events] == [out[1]]


def test_exact_and_below(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    watcher = client(0)
    watcher.watch("/w", "t")
    watcher.take_events()
    dom0.write("/w", "1")
    dom0.write("/w/a/b", "2")
    dom0.write("/wx", "3")  # a sibling with the same prefix does not match
    dom0.write("/other", "4")
    assert watcher.take_events() == [("/w", b"t"), ("/w/a/b", b"t")]


def test_write_fires_only_for_the_written_path(
    dom0: XsClient, client: Callable[[int], XsClient]
) -> None:
    watcher = client(0)
    watcher.watch("/p/q", "t")  # /p/q will be created implicitly
    watcher.take_events()
    dom0.write("/p/q/r", "x")
    assert watcher.take_events() == [("/p/q/r", b"t")]


def test_unwatch(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    watcher = client(0)
    watcher.watch("/u", "t")
    watcher.unwatch("/u", "t")
    watcher.take_events()
    dom0.write("/u", "1")
    assert watcher.take_events() == []
    fails(XsError.ENOENT, watcher.unwatch, "/u", "t")


def test_duplicate_watch_is_eexist_but_other_token_is_fine(dom0: XsClient) -> None:
    dom0.watch("/d", "t")
    fails(XsError.EEXIST, dom0.watch, "/d", "t")
    dom0.watch("/d", "t2")


def test_watch_argument_errors(dom0: XsClient) -> None:
    fails(XsError.EINVAL, dom0.call, XsType.WATCH, "/only-path")
    fails(XsError.EINVAL, dom0.call, XsType.WATCH, "/p", "t", "1", "extra")
    fails(XsError.EINVAL, dom0.call, XsType.WATCH, "/p", "t", "-1")
    fails(XsError.EINVAL, dom0.call, XsType.WATCH, "/p//q", "t")


def test_watch_depth(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    watcher = client(0)
    watcher.watch("/dp", "t", depth=1)
    watcher.take_events()
    dom0.write("/dp", "0")
    dom0.write("/dp/a", "1")
    dom0.write("/dp/a/b", "2")
    assert watcher.take_events() == [("/dp", b"t"), ("/dp/a", b"t")]


def test_watch_ignores_tx_id(dom0: XsClient) -> None:
    dom0.call(XsType.WATCH, "/tx", "t", tx=999)
    dom0.call(XsType.UNWATCH, "/tx", "t", tx=999)


def test_relative_watch_gives_relative_paths(guest: XsClient) -> None:
    guest.watch("data", "rel")
    guest.watch("/local/domain/1/data", "abs")
    assert guest.take_events() == [("data", b"rel"), ("/local/domain/1/data", b"abs")]
    guest.write("data/x", "1")
    assert sorted(guest.take_events()) == [
        ("/local/domain/1/data/x", b"abs"),
        ("data/x", b"rel"),
    ]


def test_rm_fires_for_each_removed_node(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    dom0.write("/rm/a/b", "x")
    watcher = client(0)
    watcher.watch("/rm", "sub")
    watcher.watch("/rm/a/b", "exact")
    watcher.watch("/rm/a/never", "absent")
    watcher.take_events()
    dom0.rm("/rm/a")
    # Children go first and only reach watches on exactly their path (EXACT);
    # the removed root reaches watches above it (SUBTREE). Absent nodes say nothing.
    assert watcher.take_events() == [("/rm/a/b", b"exact"), ("/rm/a", b"sub")]


def test_events_need_read_permission(dom0: XsClient, guest: XsClient) -> None:
    guest.watch("/", "root")  # the first event is always sent
    guest.take_events()
    dom0.write("/secret/x", "1")  # n0 everywhere: the guest may not know
    dom0.write("/local/domain/1/data/x", "1")  # guest-owned: it may
    assert guest.take_events() == [("/local/domain/1/data/x", b"root")]


def test_event_for_readable_parent(dom0: XsClient, guest: XsClient) -> None:
    # A node the guest cannot read, under one it can: the parent makes it visible.
    dom0.write("/local/domain/1/data/hidden", "1")
    dom0.set_perms("/local/domain/1/data/hidden", NodePerms.of("n0"))
    guest.watch("data", "t")
    guest.take_events()
    dom0.write("/local/domain/1/data/hidden", "2")
    assert guest.take_events() == [("data/hidden", b"t")]


def test_losing_permission_still_reports_the_change(dom0: XsClient, guest: XsClient) -> None:
    dom0.write("/pub/node", "x")
    dom0.set_perms("/pub", NodePerms.of("n0"))
    dom0.set_perms("/pub/node", NodePerms.of("n0", "r1"))
    guest.watch("/pub/node", "t")
    guest.take_events()
    dom0.set_perms("/pub/node", NodePerms.of("n0"))
    assert guest.take_events() == [("/pub/node", b"t")]
    dom0.write("/pub/node", "y")
    assert guest.take_events() == []


def test_introduce_domain_special(store: XenStore, dom0: XsClient, guest: XsClient) -> None:
    dom0.watch("@introduceDomain", "intro")
    dom0.watch("@introduceDomain", "deep", depth=1)
    guest.watch("@introduceDomain", "g")
    dom0.take_events()
    guest.take_events()
    events = store.introduce_domain(5, 3)
    assert [(e.connection, e.message.payload) for e in events] == [
        (dom0.conn, b"@introduceDomain\0intro\0"),
        (dom0.conn, b"@introduceDomain/5\0deep\0"),
    ]
    assert guest.conn.queued_events == 0  # @introduceDomain is n0: guests hear nothing
    dom0.take_events()
    assert store.introduce_domain(5, 3) == ()  # already known: no new event
    dom0.call(XsType.INTRODUCE, "6", "0", "4")
    assert ("@introduceDomain", b"intro") in dom0.take_events()


def test_release_domain_special(store: XenStore, dom0: XsClient, guest: XsClient) -> None:
    other = XsClient(store, 2)
    store.introduce_domain(2, 1)
    other.watch("@releaseDomain", "any")  # readable by everyone (DOMID_ANY)
    dom0.watch("@releaseDomain/1", "one")
    dom0.watch("@releaseDomain/3", "three")
    other.take_events()
    dom0.take_events()
    guest.watch("/", "doomed")
    dom0.call(XsType.RELEASE, "1")
    assert guest.conn.closed
    assert dom0.take_events() == [("@releaseDomain/1", b"one")]
    assert other.conn.drain_output()[-1].payload == b"@releaseDomain\0any\0"


def test_identical_pending_events_are_coalesced(dom0: XsClient, store: XenStore) -> None:
    conn = store.connect(0)
    store.handle(conn, request(XsType.WATCH, "/c", "t"))
    conn.drain_output()
    for value in "abc":
        dom0.write("/c", value)
    assert [m.payload for m in conn.drain_output()] == [b"/c\0t\0"]


def test_event_queue_is_bounded_and_drops_newest() -> None:
    store = XenStore(Limits(privileged=Quotas(queued_events=4)))
    writer = XsClient(store, 0)
    conn = store.connect(0)
    store.handle(conn, request(XsType.WATCH, "/q", "t"))
    conn.pop_output()  # the OK reply; the first event stays queued
    for i in range(10):
        writer.write(f"/q/{i}", "x")
    payloads = [m.payload for m in conn.drain_output()]
    assert payloads == [b"/q\0t\0", b"/q/0\0t\0", b"/q/1\0t\0", b"/q/2\0t\0"]
    assert conn.events_dropped == 7


def test_watch_quota() -> None:
    store = XenStore(Limits(unprivileged=Quotas(watches=3)))
    guest = XsClient(store, 4)
    guest.watch("/a", "1")
    guest.watch("/a", "2")
    fails(XsError.ENOSPC, guest.watch, "/a", "3")


def test_reset_watches(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    watcher = client(0)
    watcher.watch("/r", "t")
    tx = watcher.transaction_start()
    watcher.call(XsType.RESET_WATCHES, "")
    watcher.take_events()
    dom0.write("/r", "x")
    assert watcher.take_events() == []
    fails(XsError.ENOENT, watcher.transaction_end, tx)
