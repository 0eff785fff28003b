"""Xenstore: a pure, in-process reimplementation of xenstored's behaviour.

Contract: one ``XenStore`` holds the tree, permissions, watches,
transactions and quotas. Every client gets a ``Connection`` from
``XenStore.connect(domid)``; ``XenStore.handle(conn, message)`` answers one
request, queues the reply and any watch events on the connections' output
queues and returns a ``Response`` naming them. Transports sit on top:
``RingTransport`` serves a guest's shared ring page; a socket server (in
``xgdbvm.server``) feeds ``MessageDecoder`` with socket bytes, calls
``handle`` on a dom0 connection and writes ``conn.pop_output()`` back.
No I/O, no threads, no trio here.
"""

from .client import XsClient
from .connection import PRIVILEGED_QUOTAS, Connection, Limits, Quotas
from .node import Node
from .paths import domain_path
from .perms import DOMID_ANY, DOMID_SELF, Access, NodePerms, Perm
from .ring import (
    INTERFACE_SIZE,
    XENSTORE_RING_SIZE,
    RingConnection,
    RingError,
    RingOffset,
    RingState,
    RingTransport,
    ServerFeature,
)
from .store import DEFAULT_FEATURES, QueuedEvent, Response, XenStore
from .toolstack import DomainConfig, populate_dom0, populate_domain
from .wire import (
    HEADER_SIZE,
    XENSTORE_PAYLOAD_MAX,
    Message,
    MessageDecoder,
    ProtocolError,
    XenStoreError,
    XsError,
    XsType,
    encode,
    error_reply,
    parse_error,
    request,
    watch_event,
)

__all__ = [
    "DEFAULT_FEATURES",
    "DOMID_ANY",
    "DOMID_SELF",
    "HEADER_SIZE",
    "INTERFACE_SIZE",
    "PRIVILEGED_QUOTAS",
    "XENSTORE_PAYLOAD_MAX",
    "XENSTORE_RING_SIZE",
    "Access",
    "Connection",
    "DomainConfig",
    "Limits",
    "Message",
    "MessageDecoder",
    "Node",
    "NodePerms",
    "Perm",
    "ProtocolError",
    "QueuedEvent",
    "Quotas",
    "Response",
    "RingConnection",
    "RingError",
    "RingOffset",
    "RingState",
    "RingTransport",
    "ServerFeature",
    "XenStore",
    "XenStoreError",
    "XsClient",
    "XsError",
    "XsType",
    "domain_path",
    "encode",
    "error_reply",
    "parse_error",
    "populate_dom0",
    "populate_domain",
    "request",
    "watch_event",
]
