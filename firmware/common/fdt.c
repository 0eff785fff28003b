/*
 * Read-only flattened device tree (DTB) walker.
 *
 * Blob layout (all fields big endian): a 40-byte header, the memory
 * reservation map, the structure block and the strings block.  The
 * structure block is a stream of 32-bit tokens:
 *   FDT_BEGIN_NODE  name (NUL-terminated, padded to 4)
 *   FDT_PROP        u32 len, u32 nameoff (into strings), value (padded to 4)
 *   FDT_NOP         nothing (used to blank out nodes/properties in place)
 *   FDT_END_NODE
 *   FDT_END         end of the block
 * Every access is bounds-checked against the block sizes from the header;
 * malformed input makes the lookups fail rather than run off the end.
 * Values are read a byte at a time (no alignment assumptions).
 */
#include "fdt.h"
#include "lib.h"

#define HDR_MAGIC               0
#define HDR_TOTALSIZE           4
#define HDR_OFF_DT_STRUCT       8
#define HDR_OFF_DT_STRINGS      12
#define HDR_VERSION             20
#define HDR_LAST_COMP_VERSION   24
#define HDR_SIZE_DT_STRINGS     32
#define HDR_SIZE_DT_STRUCT      36
#define HDR_LEN                 40

#define MAX_DEPTH               32

uint32_t fdt_be32(const void *p)
{
    const uint8_t *b = p;

    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
           ((uint32_t)b[2] << 8) | (uint32_t)b[3];
}

static uint32_t align4(uint32_t v)
{
    return (v + 3u) & ~3u;
}

int fdt_open(struct fdt *f, const void *blob)
{
    const uint8_t *b = blob;
    uint32_t total, off_struct, off_strings, size_struct, size_strings;
    uint32_t version, last_comp;

    memset(f, 0, sizeof(*f));
    if (!b)
        return -FDT_ERR_NULL;
    if (fdt_be32(b + HDR_MAGIC) != FDT_MAGIC)
        return -FDT_ERR_MAGIC;
    total = fdt_be32(b + HDR_TOTALSIZE);
    version = fdt_be32(b + HDR_VERSION);
    last_comp = fdt_be32(b + HDR_LAST_COMP_VERSION);
    /* Versions 16 and 17 share the layout we need (17 adds size_dt_struct). */
    if (version < 16 || last_comp > 17)
        return -FDT_ERR_VERSION;
    off_struct = fdt_be32(b + HDR_OFF_DT_STRUCT);
    off_strings = fdt_be32(b + HDR_OFF_DT_STRINGS);
    size_strings = fdt_be32(b + HDR_SIZE_DT_STRINGS);
    size_struct = version >= 17 ? fdt_be32(b + HDR_SIZE_DT_STRUCT)
                                : total - off_struct;
    if (total < HDR_LEN || off_struct > total || size_struct > total - off_struct ||
        off_strings > total || size_strings > total - off_strings ||
        (off_struct & 3u))
        return -FDT_ERR_LAYOUT;

    f->blob = b;
    f->totalsize = total;
    f->structs = b + off_struct;
    f->struct_size = size_struct;
    f->strings = (const char *)b + off_strings;
    f->strings_size = size_strings;
    return 0;
}

/* Token at `off`, or FDT_END when out of bounds. */
static uint32_t token_at(const struct fdt *f, uint32_t off)
{
    if (off > f->struct_size || f->struct_size - off < 4)
        return FDT_END;
    return fdt_be32(f->structs + off);
}

/* Length of the NUL-terminated string at structs+off, or -1 if unterminated. */
static int struct_strlen(const struct fdt *f, uint32_t off)
{
    uint32_t i;

    for (i = off; i < f->struct_size; i++)
        if (f->structs[i] == '\0')
            return (int)(i - off);
    return -1;
}

/*
 * Offset just past the token at `off` (and its payload), or 0 on error.
 * 0 can never be a valid "next" offset, so it doubles as the error value.
 */
static uint32_t skip_token(const struct fdt *f, uint32_t off)
{
    uint32_t tok = token_at(f, off), len;
    int n;

    switch (tok) {
    case FDT_BEGIN_NODE:
        n = struct_strlen(f, off + 4);
        if (n < 0)
            return 0;
        return off + 4 + align4((uint32_t)n + 1);
    case FDT_PROP:
        if (f->struct_size - off < 12)
            return 0;
        len = fdt_be32(f->structs + off + 4);
        if (len > f->struct_size - off - 12)
            return 0;
        return off + 12 + align4(len);
    case FDT_NOP:
    case FDT_END_NODE:
        return off + 4;
    default:
        return 0;
    }
}

int fdt_root(const struct fdt *f)
{
    uint32_t off = 0;

    if (!f->blob)
        return -1;
    while (token_at(f, off) == FDT_NOP)
        off += 4;
    return token_at(f, off) == FDT_BEGIN_NODE ? (int)off : -1;
}

int fdt_next_node(const struct fdt *f, int node, int *depth)
{
    uint32_t off;

    if (node < 0 || token_at(f, (uint32_t)node) != FDT_BEGIN_NODE)
        return -1;
    off = skip_token(f, (uint32_t)node);
    while (off) {
        switch (token_at(f, off)) {
        case FDT_BEGIN_NODE:
            (*depth)++;
            return (int)off;
        case FDT_END_NODE:
            (*depth)--;
            break;
        case FDT_PROP:
        case FDT_NOP:
            break;
        default:
            return -1;      /* FDT_END or garbage */
        }
        off = skip_token(f, off);
    }
    return -1;
}

const char *fdt_node_name(const struct fdt *f, int node)
{
    if (node < 0 || token_at(f, (uint32_t)node) != FDT_BEGIN_NODE ||
        struct_strlen(f, (uint32_t)node + 4) < 0)
        return NULL;
    return (const char *)f->structs + node + 4;
}

int fdt_parent(const struct fdt *f, int node)
{
    int stack[MAX_DEPTH];
    int cur = fdt_root(f), depth = 0;

    while (cur >= 0) {
        if (depth < 0 || depth >= MAX_DEPTH)
            return -1;
        stack[depth] = cur;
        if (cur == node)
            return depth > 0 ? stack[depth - 1] : -1;
        cur = fdt_next_node(f, cur, &depth);
    }
    return -1;
}

const void *fdt_getprop(const struct fdt *f, int node, const char *name,
                        uint32_t *len)
{
    uint32_t off;

    if (node < 0 || token_at(f, (uint32_t)node) != FDT_BEGIN_NODE)
        return NULL;
    off = skip_token(f, (uint32_t)node);
    while (off) {
        uint32_t tok = token_at(f, off);

        if (tok == FDT_PROP) {
            uint32_t plen = fdt_be32(f->structs + off + 4);
            uint32_t nameoff = fdt_be32(f->structs + off + 8);
            size_t room;

            if (nameoff < f->strings_size) {
                room = f->strings_size - nameoff;
                if (strnlen(f->strings + nameoff, room) < room &&
                    strcmp(f->strings + nameoff, name) == 0) {
                    if (len)
                        *len = plen;
                    return f->structs + off + 12;
                }
            }
        } else if (tok != FDT_NOP) {
            break;          /* first child or end of this node */
        }
        off = skip_token(f, off);
    }
    return NULL;
}

const char *fdt_getprop_string(const struct fdt *f, int node, const char *name)
{
    uint32_t len;
    const char *s = fdt_getprop(f, node, name, &len);

    if (!s || len == 0 || s[len - 1] != '\0')
        return NULL;
    return s;
}

uint32_t fdt_getprop_u32(const struct fdt *f, int node, const char *name,
                         uint32_t dflt)
{
    uint32_t len;
    const void *p = fdt_getprop(f, node, name, &len);

    return (p && len == 4) ? fdt_be32(p) : dflt;
}

bool fdt_stringlist_contains(const char *list, uint32_t len, const char *str)
{
    size_t want = strlen(str);

    while (len > 0) {
        size_t n = strnlen(list, len);

        if (n == len)
            return false;   /* unterminated entry */
        if (n == want && memcmp(list, str, n) == 0)
            return true;
        list += n + 1;
        len -= (uint32_t)(n + 1);
    }
    return false;
}

/* Does node name `name` match the path component comp[0..clen)? */
static bool name_matches(const char *name, const char *comp, size_t clen)
{
    if (strncmp(name, comp, clen) != 0)
        return false;
    if (name[clen] == '\0')
        return true;
    /* "uart" matches "uart@1000" unless the component gave a unit itself. */
    if (name[clen] != '@')
        return false;
    for (size_t i = 0; i < clen; i++)
        if (comp[i] == '@')
            return false;
    return true;
}

int fdt_path_offset(const struct fdt *f, const char *path)
{
    int node = fdt_root(f);

    if (node < 0 || path[0] != '/')
        return -1;
    while (*path) {
        const char *comp;
        size_t clen = 0;
        int depth = 0, child;

        while (*path == '/')
            path++;
        if (!*path)
            break;
        comp = path;
        while (comp[clen] && comp[clen] != '/')
            clen++;
        path += clen;

        /* Scan the direct children (depth 1 relative to `node`). */
        child = fdt_next_node(f, node, &depth);
        while (child >= 0 && depth > 0) {
            const char *name = fdt_node_name(f, child);

            if (depth == 1 && name && name_matches(name, comp, clen))
                break;
            child = fdt_next_node(f, child, &depth);
        }
        if (child < 0 || depth <= 0)
            return -1;
        node = child;
    }
    return node;
}

/* Start of a whole-tree scan: the node after `start`, or the root. */
static int scan_first(const struct fdt *f, int start, int *depth)
{
    *depth = 0;
    if (start < 0)
        return fdt_root(f);
    return fdt_next_node(f, start, depth);
}

int fdt_node_by_compatible(const struct fdt *f, int start, const char *compat)
{
    int depth, node;

    for (node = scan_first(f, start, &depth); node >= 0;
         node = fdt_next_node(f, node, &depth)) {
        uint32_t len;
        const char *list = fdt_getprop(f, node, "compatible", &len);

        if (list && fdt_stringlist_contains(list, len, compat))
            return node;
    }
    return -1;
}

int fdt_node_by_prop_string(const struct fdt *f, int start, const char *name,
                            const char *value)
{
    int depth, node;

    for (node = scan_first(f, start, &depth); node >= 0;
         node = fdt_next_node(f, node, &depth)) {
        const char *s = fdt_getprop_string(f, node, name);

        if (s && strcmp(s, value) == 0)
            return node;
    }
    return -1;
}

static uint64_t read_cells(const uint8_t *p, uint32_t cells)
{
    uint64_t v = 0;

    while (cells--) {
        v = (v << 32) | fdt_be32(p);
        p += 4;
    }
    return v;
}

int fdt_get_reg(const struct fdt *f, int node, unsigned int index,
                uint64_t *addr, uint64_t *size)
{
    int parent = fdt_parent(f, node);
    uint32_t ac = 2, sc = 2, len, stride;
    const uint8_t *reg;

    if (parent >= 0) {
        ac = fdt_getprop_u32(f, parent, "#address-cells", 2);
        sc = fdt_getprop_u32(f, parent, "#size-cells", 2);
    }
    if (ac < 1 || ac > 2 || sc > 2)
        return -1;
    reg = fdt_getprop(f, node, "reg", &len);
    stride = 4u * (ac + sc);
    if (!reg || len / stride <= index)
        return -1;
    reg += (size_t)stride * index;
    *addr = read_cells(reg, ac);
    *size = read_cells(reg + 4u * ac, sc);
    return 0;
}
