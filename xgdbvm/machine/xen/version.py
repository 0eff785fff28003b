"""xen_version (hypercall 17), as common/kernel.c answers it on ARM."""

from __future__ import annotations

from collections.abc import Mapping

from xgdbvm.machine.xen.abi import XEN_PAGE_SIZE, Hypercall, XenVer
from xgdbvm.machine.xen.domain import DomainConfig
from xgdbvm.machine.xen.errno import XenErrno
from xgdbvm.machine.xen.guest import GuestAccess, read_u32, write_padded
from xgdbvm.machine.xen.hypercall import Call, Constant, Handler, SubopTable

EXTRAVERSION_LEN = 16
CAPABILITIES_LEN = 1024
CHANGESET_LEN = 64
COMMANDLINE_LEN = 1024
# xen_compile_info: compiler[64] @0, compile_by[16] @64, compile_domain[32] @80,
# compile_date[32] @112
COMPILE_INFO_FIELDS = ((b"xgdbvm", 64), (b"xgdbvm", 16), (b"localdomain", 32), (b"", 32))


class XenVersion:
    def __init__(
        self, config: DomainConfig, version: tuple[int, int], capabilities: str, guest: GuestAccess
    ) -> None:
        self._config = config
        self._version = version
        self._capabilities = capabilities.encode()
        self._guest = guest

    def hypercalls(self) -> Mapping[Hypercall, Handler]:
        return {
            Hypercall.xen_version: SubopTable(
                XenVer,
                {
                    XenVer.version: Constant((self._version[0] << 16) | self._version[1]),
                    XenVer.extraversion: self._extraversion,
                    XenVer.compile_info: self._compile_info,
                    XenVer.capabilities: self._string(self._capabilities, CAPABILITIES_LEN),
                    XenVer.changeset: self._string(b"xgdbvm", CHANGESET_LEN),
                    XenVer.platform_parameters: self._platform_parameters,
                    XenVer.get_features: self._get_features,
                    XenVer.pagesize: Constant(XEN_PAGE_SIZE),
                    XenVer.guest_handle: self._guest_handle,
                    XenVer.commandline: self._string(b"", COMMANDLINE_LEN),
                },
            )
        }

    def _extraversion(self, call: Call) -> int:
        write_padded(
            self._guest, call.args[1], self._config.extraversion.encode(), EXTRAVERSION_LEN
        )
        return 0

    def _string(self, text: bytes, size: int) -> Handler:
        def handler(call: Call) -> int:
            write_padded(self._guest, call.args[1], text, size)
            return 0

        return handler

    def _compile_info(self, call: Call) -> int:
        offset = 0
        for text, size in COMPILE_INFO_FIELDS:
            write_padded(self._guest, call.args[1] + offset, text, size)
            offset += size
        return 0

    def _platform_parameters(self, call: Call) -> int:
        self._guest.write(call.args[1], bytes(8))  # virt_start = 0 on ARM
        return 0

    def _get_features(self, call: Call) -> int:
        # struct xen_feature_info { u32 submap_idx; u32 submap; }
        index = read_u32(self._guest, call.args[1])
        if index != 0:
            call.note = f"submap {index} does not exist"
            return -XenErrno.EINVAL
        self._guest.write(call.args[1] + 4, self._config.features.to_bytes(4, "little"))
        return 0

    def _guest_handle(self, call: Call) -> int:
        self._guest.write(call.args[1], self._config.uuid.bytes)
        return 0
