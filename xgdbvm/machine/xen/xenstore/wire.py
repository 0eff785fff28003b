"""The xenstore wire format, identical on the guest ring and the Unix socket.

Contract: a message is a 16-byte little-endian header (``type``, ``req_id``,
``tx_id``, ``len``; all u32) followed by ``len`` payload bytes, with ``len``
at most ``XENSTORE_PAYLOAD_MAX`` (4096) in both directions. Errors travel as
the errno *name* plus NUL inside an ``XS_ERROR`` reply. ``MessageDecoder``
turns any chunking of a byte stream into whole messages and rejects a header
promising more than 4096 bytes (xenstored kills such a connection), ``encode``
does the reverse.

Facts from xen/include/public/io/xs_wire.h and docs/misc/xenstore.txt.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from xgdbvm.machine.xen.structs import Layout

XENSTORE_PAYLOAD_MAX: Final = 4096
XENSTORE_ABS_PATH_MAX: Final = 3072
XENSTORE_REL_PATH_MAX: Final = 2048
HEADER_SIZE: Final = 16
_U32_MAX: Final = 0xFFFF_FFFF


class XsType(IntEnum):
    """``enum xsd_sockmsg_type``; 20 was XS_RESTRICT and is now invalid."""

    CONTROL = 0
    DEBUG = 0  # deprecated alias of CONTROL
    DIRECTORY = 1
    READ = 2
    GET_PERMS = 3
    WATCH = 4
    UNWATCH = 5
    TRANSACTION_START = 6
    TRANSACTION_END = 7
    INTRODUCE = 8
    RELEASE = 9
    GET_DOMAIN_PATH = 10
    WRITE = 11
    MKDIR = 12
    RM = 13
    SET_PERMS = 14
    WATCH_EVENT = 15
    ERROR = 16
    IS_DOMAIN_INTRODUCED = 17
    RESUME = 18
    SET_TARGET = 19
    RESET_WATCHES = 21
    DIRECTORY_PART = 22
    GET_FEATURE = 23
    SET_FEATURE = 24
    GET_QUOTA = 25
    SET_QUOTA = 26
    INVALID = 0xFFFF


XS_TYPE_COUNT: Final = 27


class XsError(IntEnum):
    """The errors xenstore can name on the wire, valued as Linux errno numbers.

    Only the *name* crosses the wire; the value is what a Linux client maps it
    to, handy for tests and for the socket server's logs.
    """

    EINVAL = 22
    EACCES = 13
    EEXIST = 17
    EISDIR = 21
    ENOENT = 2
    ENOMEM = 12
    ENOSPC = 28
    EIO = 5
    ENOTEMPTY = 39
    ENOSYS = 38
    EROFS = 30
    EBUSY = 16
    EAGAIN = 11
    EISCONN = 106
    E2BIG = 7
    EPERM = 1


# The xsd_errors[] table order; new entries are only ever appended there.
XSD_ERRORS: Final = tuple(XsError)


class XenStoreError(Exception):
    """A request failed with a wire-nameable error; becomes an XS_ERROR reply."""

    def __init__(self, code: XsError, detail: str = "") -> None:
        super().__init__(f"{code.name}{': ' + detail if detail else ''}")
        self.code = code


class ProtocolError(Exception):
    """The peer broke framing (payload length over the limit): drop the connection."""


HEADER = Layout(
    lambda c: c.Struct(
        "type" / c.Int32ul,
        "req_id" / c.Int32ul,
        "tx_id" / c.Int32ul,
        "len" / c.Int32ul,
    )
)


@dataclass(frozen=True, slots=True)
class Message:
    """One xenstore message. ``msg_type`` is a plain int so unknown types survive."""

    msg_type: int
    req_id: int
    tx_id: int
    payload: bytes

    def __post_init__(self) -> None:
        for name in ("msg_type", "req_id", "tx_id"):
            value = getattr(self, name)
            if not 0 <= value <= _U32_MAX:
                raise ValueError(f"{name} {value} does not fit in a u32")
        if len(self.payload) > XENSTORE_PAYLOAD_MAX:
            raise ValueError(f"payload of {len(self.payload)} bytes exceeds the maximum")

    @property
    def kind(self) -> XsType | None:
        """The known message type, or None for a number xs_wire.h does not define."""
        try:
            return XsType(self.msg_type)
        except ValueError:
            return None

    def strings(self) -> list[bytes]:
        """The NUL-terminated strings of the payload; an unterminated tail is ignored.

        This mirrors xenstored's get_strings(): callers that need the binary
        tail (XS_WRITE's value) slice the payload themselves.
        """
        return split_strings(self.payload)

    def encode(self) -> bytes:
        return encode(self)


def encode(msg: Message) -> bytes:
    """Header plus payload, ready for a ring or a socket."""
    header: bytes = HEADER.get().build(
        {"type": msg.msg_type, "req_id": msg.req_id, "tx_id": msg.tx_id, "len": len(msg.payload)}
    )
    return header + msg.payload


def split_strings(payload: bytes) -> list[bytes]:
    """NUL-terminated strings of a payload, dropping an unterminated tail."""
    return payload.split(b"\0")[:-1]


def join_strings(*parts: bytes | str) -> bytes:
    """Each part NUL-terminated, the common payload shape."""
    out = bytearray()
    for part in parts:
        out += part.encode("ascii") if isinstance(part, str) else part
        out += b"\0"
    return bytes(out)


def request(
    kind: int, *parts: bytes | str, req_id: int = 0, tx_id: int = 0, raw_tail: bytes = b""
) -> Message:
    """A request whose payload is ``parts`` NUL-terminated, then ``raw_tail`` verbatim."""
    return Message(kind, req_id, tx_id, join_strings(*parts) + raw_tail)


def reply_to(req: Message, payload: bytes) -> Message:
    """A success reply echoes the request's type, req_id and tx_id."""
    return Message(req.msg_type, req.req_id, req.tx_id, payload)


def error_reply(req: Message, code: XsError) -> Message:
    """An error reply names the errno and echoes req_id and tx_id only."""
    return Message(XsType.ERROR, req.req_id, req.tx_id, join_strings(code.name))


def watch_event(path: bytes, token: bytes) -> Message:
    """Unsolicited watch event; req_id and tx_id are 0."""
    return Message(XsType.WATCH_EVENT, 0, 0, path + b"\0" + token + b"\0")


def parse_error(payload: bytes) -> XsError:
    """The error an XS_ERROR payload names; an unknown name reads as EINVAL as in libxenstore."""
    name = payload.split(b"\0", 1)[0].decode("ascii", "replace")
    return XsError.__members__.get(name, XsError.EINVAL)


class MessageDecoder:
    """Incremental decoder: feed bytes in any chunking, get whole messages out.

    It buffers at most one partial message (header + 4096 bytes). After a
    ProtocolError it stays broken: a stream out of sync cannot be resumed,
    only replaced by a fresh decoder.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need: int | None = None  # payload length once the header is in
        self._broken = False

    @property
    def buffered(self) -> int:
        """Bytes held for a message not yet complete."""
        return len(self._buf)

    @property
    def broken(self) -> bool:
        return self._broken

    def wanted(self) -> int:
        """Bytes still needed to finish the current header or message.

        A transport that must not read past one message (to keep
        backpressure at a message boundary) feeds at most this many bytes.
        """
        if self._need is None:
            return HEADER_SIZE - len(self._buf)
        return HEADER_SIZE + self._need - len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        if self._broken:
            raise ProtocolError("decoder is out of sync after an earlier error")
        self._buf += data
        out: list[Message] = []
        start = 0
        buf = self._buf
        while True:
            avail = len(buf) - start
            if self._need is None:
                if avail < HEADER_SIZE:
                    break
                length = int.from_bytes(buf[start + 12 : start + 16], "little")
                if length > XENSTORE_PAYLOAD_MAX:
                    self._broken = True
                    self._buf = bytearray()
                    raise ProtocolError(f"header announces a {length}-byte payload")
                self._need = length
            if avail < HEADER_SIZE + self._need:
                break
            hdr = HEADER.get().parse(bytes(buf[start : start + HEADER_SIZE]))
            body = bytes(buf[start + HEADER_SIZE : start + HEADER_SIZE + self._need])
            out.append(Message(hdr.type, hdr.req_id, hdr.tx_id, body))
            start += HEADER_SIZE + self._need
            self._need = None
        # One compaction per feed keeps this linear in the input size.
        del buf[:start]
        return out
