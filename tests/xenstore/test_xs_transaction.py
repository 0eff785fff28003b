"""Transactions: isolation, commit, abort, conflicts, limits."""

from __future__ import annotations

from collections.abc import Callable

from xgdbvm.machine.xen.xenstore import Limits, Quotas, XenStore, XsClient, XsError, XsType

from .conftest import fails


def test_commit_makes_changes_visible(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    other = client(0)
    tx = dom0.transaction_start()
    dom0.write("/t/a", "1", tx=tx)
    dom0.mkdir("/t/b", tx=tx)
    assert dom0.read("/t/a", tx=tx) == b"1"  # reads inside see own writes
    assert dom0.directory("/t", tx=tx) == ["a", "b"]
    fails(XsError.ENOENT, other.read, "/t/a")  # others do not, yet
    dom0.transaction_end(tx)
    assert other.read("/t/a") == b"1"
    assert other.directory("/t") == ["a", "b"]


def test_abort_discards(dom0: XsClient) -> None:
    dom0.write("/keep", "old")
    tx = dom0.transaction_start()
    dom0.write("/keep", "new", tx=tx)
    dom0.rm("/keep", tx=tx)
    fails(XsError.ENOENT, dom0.read, "/keep", tx=tx)
    dom0.transaction_end(tx, commit=False)
    assert dom0.read("/keep") == b"old"
    fails(XsError.ENOENT, dom0.transaction_end, tx)  # it is gone


def test_conflicting_commit_is_eagain(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    other = client(0)
    dom0.write("/c", "0")
    tx = dom0.transaction_start()
    assert dom0.read("/c", tx=tx) == b"0"
    other.write("/c", "1")
    assert dom0.read("/c", tx=tx) == b"0"  # repeatable read inside the transaction
    dom0.write("/d", "x", tx=tx)
    fails(XsError.EAGAIN, dom0.transaction_end, tx)
    fails(XsError.ENOENT, dom0.read, "/d")
    assert dom0.read("/c") == b"1"
    fails(XsError.ENOENT, dom0.transaction_end, tx)  # ended even though it failed


def test_conflicting_create_is_eagain(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    other = client(0)
    tx = dom0.transaction_start()
    dom0.write("/race/x", "mine", tx=tx)
    other.write("/race/y", "theirs")  # /race created meanwhile
    fails(XsError.EAGAIN, dom0.transaction_end, tx)
    assert dom0.directory("/race") == ["y"]


def test_unrelated_change_does_not_conflict(
    dom0: XsClient, client: Callable[[int], XsClient]
) -> None:
    other = client(0)
    dom0.write("/x/a", "0")
    dom0.write("/y/b", "0")
    tx = dom0.transaction_start()
    dom0.write("/x/a", "1", tx=tx)
    other.write("/y/b", "1")
    dom0.transaction_end(tx)
    assert dom0.read("/x/a") == b"1"


def test_two_transactions_second_loses(dom0: XsClient) -> None:
    dom0.write("/n", "0")
    t1 = dom0.transaction_start()
    t2 = dom0.transaction_start()
    assert t1 != t2
    dom0.write("/n", dom0.read("/n", tx=t1) + b"1", tx=t1)
    dom0.write("/n", dom0.read("/n", tx=t2) + b"2", tx=t2)
    dom0.transaction_end(t1)
    fails(XsError.EAGAIN, dom0.transaction_end, t2)
    assert dom0.read("/n") == b"01"


def test_watches_fire_on_commit_only(dom0: XsClient, client: Callable[[int], XsClient]) -> None:
    watcher = client(0)
    watcher.watch("/wt", "t")
    watcher.take_events()
    tx = dom0.transaction_start()
    dom0.write("/wt/a", "1", tx=tx)
    dom0.write("/wt/b", "1", tx=tx)
    assert watcher.take_events() == []
    dom0.transaction_end(tx)
    assert watcher.take_events() == [("/wt/a", b"t"), ("/wt/b", b"t")]
    tx = dom0.transaction_start()
    dom0.write("/wt/c", "1", tx=tx)
    dom0.transaction_end(tx, commit=False)
    assert watcher.take_events() == []


def test_transaction_rm_fires_on_commit(dom0: XsClient, guest: XsClient) -> None:
    guest.write("data/gone/x", "1")
    guest.watch("data", "t")
    guest.take_events()
    tx = dom0.transaction_start()
    dom0.rm("/local/domain/1/data/gone", tx=tx)
    dom0.transaction_end(tx)
    # As outside transactions: the removed child only reaches exact watches.
    assert guest.take_events() == [("data/gone", b"t")]


def test_nesting_and_bad_end(dom0: XsClient) -> None:
    tx = dom0.transaction_start()
    fails(XsError.EBUSY, dom0.call, XsType.TRANSACTION_START, "", tx=tx)
    fails(XsError.EINVAL, dom0.call, XsType.TRANSACTION_END, "X", tx=tx)
    fails(XsError.ENOENT, dom0.call, XsType.TRANSACTION_END, "T")
    dom0.transaction_end(tx)


def test_ids_are_per_connection(client: Callable[[int], XsClient]) -> None:
    a, b = client(0), client(0)
    ta = a.transaction_start()
    assert ta != 0
    fails(XsError.ENOENT, b.read, "/tool", tx=ta)


def test_guest_transaction_respects_permissions(guest: XsClient) -> None:
    tx = guest.transaction_start()
    fails(XsError.EACCES, guest.write, "name", "x", tx=tx)
    guest.write("data/ok", "1", tx=tx)
    guest.transaction_end(tx)
    assert guest.read("data/ok") == b"1"


def test_transaction_quota() -> None:
    store = XenStore(Limits(unprivileged=Quotas(transactions=3)))
    guest = XsClient(store, 5)
    guest.transaction_start()
    guest.transaction_start()
    fails(XsError.ENOSPC, guest.transaction_start)


def test_transaction_node_limit_poisons_the_transaction() -> None:
    store = XenStore(Limits(privileged=Quotas(transaction_nodes=4, nodes=0)))
    xs = XsClient(store, 0)
    tx = xs.transaction_start()
    xs.write("/a", "1", tx=tx)  # touches / and /a
    fails(XsError.ENOSPC, xs.write, "/b/c/d", "1", tx=tx)
    fails(XsError.ENOMEM, xs.transaction_end, tx)
    fails(XsError.ENOENT, xs.read, "/a")
