"""Fixtures: a store with dom0 and one toolstack-built guest, and clients on it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xgdbvm.machine.xen.xenstore import (
    DomainConfig,
    XenStore,
    XenStoreError,
    XsClient,
    XsError,
    populate_dom0,
    populate_domain,
)


@pytest.fixture
def store() -> XenStore:
    s = XenStore()
    populate_dom0(s)
    populate_domain(s, DomainConfig(domid=1, name="guest1"))
    return s


@pytest.fixture
def dom0(store: XenStore) -> XsClient:
    return XsClient(store, 0)


@pytest.fixture
def guest(store: XenStore) -> XsClient:
    return XsClient(store, 1)


@pytest.fixture
def client(store: XenStore) -> Callable[[int], XsClient]:
    return lambda domid: XsClient(store, domid)


def fails(code: XsError, fn: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Assert that ``fn`` raises XenStoreError with ``code``."""
    with pytest.raises(XenStoreError) as err:
        fn(*args, **kwargs)
    assert err.value.code is code, f"expected {code.name}, got {err.value.code.name}"
