"""Quotas, checked for unprivileged domains the way xenstored does."""

from __future__ import annotations

from xgdbvm.machine.xen.xenstore import (
    Limits,
    NodePerms,
    Quotas,
    XenStore,
    XsClient,
    XsError,
    XsType,
)

from .conftest import fails


def _guest_store(**quota: int) -> tuple[XenStore, XsClient, XsClient]:
    store = XenStore(Limits(unprivileged=Quotas(**quota)))
    dom0 = XsClient(store, 0)
    dom0.mkdir("/local/domain/3")
    dom0.set_perms("/local/domain/3", NodePerms.of("n3"))  # owned by the guest: 1 node
    return store, dom0, XsClient(store, 3)


def test_node_quota() -> None:
    store, _, guest = _guest_store(nodes=5)
    guest.write("a", "1")
    guest.write("b", "1")
    guest.write("c", "1")  # 4 nodes owned; a fifth would reach the quota
    assert store.db.owned(3) == 4
    fails(XsError.ENOSPC, guest.write, "d", "1")
    fails(XsError.ENOSPC, guest.mkdir, "e/f")
    guest.rm("c")
    guest.write("d", "1")


def test_node_quota_counts_implicit_parents_atomically() -> None:
    store, _, guest = _guest_store(nodes=4)
    fails(XsError.ENOSPC, guest.write, "x/y/z", "1")  # 1 + 3 would reach 4
    fails(XsError.ENOENT, guest.read, "x")  # nothing half-created
    assert store.db.owned(3) == 1


def test_node_quota_at_commit() -> None:
    store, _, guest = _guest_store(nodes=4)
    tx = guest.transaction_start()
    guest.write("a", "1", tx=tx)
    guest.write("b", "1", tx=tx)
    other = XsClient(store, 3)
    other.write("c", "1")  # meanwhile, elsewhere: now 2 + 2 would reach 4
    fails(XsError.ENOSPC, guest.transaction_end, tx)


def test_node_size_quota() -> None:
    _, dom0, guest = _guest_store(node_size=100)
    # 16 header + 8 per permission entry + value: 16 + 8 + 75 = 99 fits.
    guest.write("v", b"x" * 75)
    fails(XsError.ENOSPC, guest.write, "v", b"x" * 76)
    assert guest.read("v") == b"x" * 75
    dom0.write("/local/domain/3/v", b"x" * 1000)  # dom0 is not limited


def test_node_size_counts_children() -> None:
    _, _, guest = _guest_store(node_size=16 + 8 + 10)
    guest.write("abcd", "")  # the home node grows to 16 + 8 + 5
    fails(XsError.ENOSPC, guest.write, "efgh", "")  # 16 + 8 + 10 would reach the quota
    fails(XsError.ENOENT, guest.read, "efgh")


def test_default_node_size_refuses_2048_byte_nodes(guest: XsClient) -> None:
    # n1 (one entry): 16 + 8 + value; 2023 bytes of value make 2047, 2024 reach 2048.
    guest.write("data/big", b"x" * 2023)
    fails(XsError.ENOSPC, guest.write, "data/big", b"x" * 2024)


def test_permission_entries_quota(guest: XsClient, dom0: XsClient) -> None:
    guest.write("data/p", "1")
    guest.set_perms("data/p", NodePerms.of("n1", "r2", "r3", "r4"))
    fails(XsError.ENOSPC, guest.set_perms, "data/p", NodePerms.of("n1", "r2", "r3", "r4", "r5"))
    dom0.set_perms("/local/domain/1/data/p", NodePerms.of("n1", "r2", "r3", "r4", "r5", "r6", "r7"))


def _long_path(length: int) -> str:
    """A relative path of ``length`` characters made of short components."""
    path = "data"
    while len(path) < length:
        path += "/" + "a" * min(50, length - len(path) - 1)
    assert len(path) == length
    return path


def test_path_length_quota(guest: XsClient, dom0: XsClient) -> None:
    guest.write(_long_path(2047), "1")  # counted after "/local/domain/1/"
    fails(XsError.EINVAL, guest.write, _long_path(2048), "1")
    dom0.write("/" + _long_path(3500), "1")  # dom0 is not limited


def test_outstanding_quota_listed(dom0: XsClient) -> None:
    text = dom0.call(XsType.CONTROL, "quota").decode()
    assert "outstanding" in text and "20" in text
