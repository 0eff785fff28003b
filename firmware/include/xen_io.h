/*
 * Shared-ring layouts of the two "magic" pages the toolstack gives a
 * guest (public/io/xs_wire.h, public/io/console.h; reference sections 6
 * and 8).  Both rings use free-running 32-bit indexes; byte i of a stream
 * lives at i & (size - 1).
 */
#ifndef XGDBVM_FW_XEN_IO_H
#define XGDBVM_FW_XEN_IO_H

#include <stdint.h>

/* ---- xenstore ring page (HVM_PARAM_STORE_PFN) ---- */
#define XENSTORE_RING_SIZE      1024
#define XENSTORE_PAYLOAD_MAX    4096

struct xenstore_domain_interface {
    char req[XENSTORE_RING_SIZE];   /* guest -> xenstored */
    char rsp[XENSTORE_RING_SIZE];   /* xenstored -> guest: replies, watch events */
    uint32_t req_cons, req_prod;
    uint32_t rsp_cons, rsp_prod;
    uint32_t server_features;
    uint32_t connection;
    uint32_t error;
    uint32_t evtchn_port;
};

/* Message header on the ring (and on the unix socket). */
struct xsd_sockmsg {
    uint32_t type;      /* XS_* */
    uint32_t req_id;    /* echoed in the reply */
    uint32_t tx_id;     /* transaction, 0 = none */
    uint32_t len;       /* payload bytes that follow */
};

#define XS_CONTROL              0
#define XS_DIRECTORY            1
#define XS_READ                 2
#define XS_GET_PERMS            3
#define XS_WATCH                4
#define XS_UNWATCH              5
#define XS_TRANSACTION_START    6
#define XS_TRANSACTION_END      7
#define XS_INTRODUCE            8
#define XS_RELEASE              9
#define XS_GET_DOMAIN_PATH      10
#define XS_WRITE                11
#define XS_MKDIR                12
#define XS_RM                   13
#define XS_SET_PERMS            14
#define XS_WATCH_EVENT          15
#define XS_ERROR                16
#define XS_RESET_WATCHES        21

/* ---- PV console ring page (HVM_PARAM_CONSOLE_PFN) ---- */
#define XENCONS_IN_SIZE         1024
#define XENCONS_OUT_SIZE        2048

struct xencons_interface {
    char in[XENCONS_IN_SIZE];       /* backend -> guest */
    char out[XENCONS_OUT_SIZE];     /* guest -> backend */
    uint32_t in_cons, in_prod;
    uint32_t out_cons, out_prod;
    uint8_t connection;             /* 0 connected, 1 disconnected */
};

_Static_assert(sizeof(struct xsd_sockmsg) == 16, "xsd_sockmsg layout");
_Static_assert(__builtin_offsetof(struct xenstore_domain_interface, req_cons) == 2048,
               "xenstore ring layout");
_Static_assert(__builtin_offsetof(struct xenstore_domain_interface, evtchn_port) == 2076,
               "xenstore ring layout");
_Static_assert(__builtin_offsetof(struct xencons_interface, out_cons) == 3080,
               "console ring layout");
_Static_assert(__builtin_offsetof(struct xencons_interface, connection) == 3088,
               "console ring layout");

#endif /* XGDBVM_FW_XEN_IO_H */
