"""What the two ends agreed on: server capabilities, client features, modes.

:class:`Capabilities` is what *we* offer (one table drives the ``qSupported``
reply); :class:`Session` is the per-connection state the connection keeps as
packets arrive; :class:`ReplyFormat` is the frozen slice of it that reply
builders need, so they stay pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .commands import QuerySupported
from .constants import DEFAULT_MAX_PACKET, ThreadOp
from .thread_id import ThreadId


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Features this server offers; ``packet_size`` is also the decoder's limit."""

    packet_size: int = DEFAULT_MAX_PACKET
    xfer_features: bool = True
    xfer_memory_map: bool = False
    xfer_threads: bool = True
    no_ack_mode: bool = True
    vcont_supported: bool = True
    swbreak: bool = True
    hwbreak: bool = True
    multiprocess: bool = False
    thread_suffix: bool = True
    list_threads_in_stop_reply: bool = True
    error_strings: bool = True
    #: Further ``name+``/``name=value`` items appended verbatim.
    extra: tuple[str, ...] = ()


#: Field of :class:`Capabilities` -> feature name in the ``qSupported`` reply.
QSUPPORTED_FEATURES: tuple[tuple[str, str], ...] = (
    ("xfer_features", "qXfer:features:read"),
    ("xfer_memory_map", "qXfer:memory-map:read"),
    ("xfer_threads", "qXfer:threads:read"),
    ("no_ack_mode", "QStartNoAckMode"),
    ("vcont_supported", "vContSupported"),
    ("swbreak", "swbreak"),
    ("hwbreak", "hwbreak"),
    ("multiprocess", "multiprocess"),
    ("thread_suffix", "QThreadSuffixSupported"),
    ("list_threads_in_stop_reply", "QListThreadsInStopReply"),
    ("error_strings", "QEnableErrorStrings"),
)


@dataclass(frozen=True, slots=True)
class ReplyFormat:
    """Negotiated choices that change how replies are spelled."""

    multiprocess: bool = False
    swbreak: bool = False
    hwbreak: bool = False
    error_strings: bool = False
    threads_in_stop_reply: bool = False
    #: The pid used when a reply needs one and the target has a single process.
    pid: int = 1


#: The format before any negotiation: what every client understands.
PLAIN = ReplyFormat()


@dataclass(slots=True)
class Session:
    """Mutable per-connection protocol state; :meth:`RspConnection.reset` renews it."""

    capabilities: Capabilities = field(default_factory=Capabilities)
    ack_mode: bool = True
    error_strings: bool = False
    thread_suffix: bool = False
    threads_in_stop_reply: bool = False
    #: The peer's last ``qSupported`` (None until it sends one; lldb may never).
    client: QuerySupported | None = None
    general_thread: ThreadId | None = None
    continue_thread: ThreadId | None = None

    def _both(self, name: str, offered: bool) -> bool:
        return offered and self.client is not None and self.client.supports(name)

    @property
    def multiprocess(self) -> bool:
        return self._both("multiprocess", self.capabilities.multiprocess)

    @property
    def swbreak(self) -> bool:
        return self._both("swbreak", self.capabilities.swbreak)

    @property
    def hwbreak(self) -> bool:
        return self._both("hwbreak", self.capabilities.hwbreak)

    @property
    def vcont_supported(self) -> bool:
        return self._both("vContSupported", self.capabilities.vcont_supported)

    @property
    def xml_registers(self) -> tuple[str, ...]:
        """Architectures the client named in ``xmlRegisters=`` (GDB sends ``arm``)."""
        value = self.client.get("xmlRegisters") if self.client else None
        return tuple(value.split(",")) if value else ()

    def selected_thread(self, op: ThreadOp) -> ThreadId | None:
        return self.general_thread if op is ThreadOp.GENERAL else self.continue_thread

    def select_thread(self, op: ThreadOp, thread: ThreadId) -> None:
        if op is ThreadOp.GENERAL:
            self.general_thread = thread
        else:
            self.continue_thread = thread

    @property
    def reply_format(self) -> ReplyFormat:
        return ReplyFormat(
            multiprocess=self.multiprocess,
            swbreak=self.swbreak,
            hwbreak=self.hwbreak,
            error_strings=self.error_strings,
            threads_in_stop_reply=self.threads_in_stop_reply,
        )
