"""Event channels: the 2-level ABI, port tables and event_channel_op."""

from xgdbvm.machine.xen.structs import read_struct, write_struct

from .ops import EvtchnOp, EvtchnStat
from .ports import (
    DEFAULT_MAX_EVTCHN_PORT,
    EVTCHNS_PER_BUCKET,
    NR_VIRQS,
    Channel,
    ChannelState,
    PortTable,
    Virq,
    VirqType,
    virq_type,
)
from .service import FIFO_REFUSAL, Backend, EventChannels, PortInfo, format_ports
from .two_level import TwoLevel

__all__ = [
    "DEFAULT_MAX_EVTCHN_PORT",
    "EVTCHNS_PER_BUCKET",
    "FIFO_REFUSAL",
    "NR_VIRQS",
    "Backend",
    "Channel",
    "ChannelState",
    "EventChannels",
    "EvtchnOp",
    "EvtchnStat",
    "PortInfo",
    "PortTable",
    "TwoLevel",
    "Virq",
    "VirqType",
    "format_ports",
    "read_struct",
    "virq_type",
    "write_struct",
]
