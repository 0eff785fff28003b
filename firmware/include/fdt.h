/*
 * A small read-only flattened device tree walker (common/fdt.c).
 *
 * Node handles are byte offsets of FDT_BEGIN_NODE tokens inside the
 * structure block; negative values are errors / "not found".
 */
#ifndef XGDBVM_FW_FDT_H
#define XGDBVM_FW_FDT_H

#include <stdbool.h>
#include <stdint.h>

#define FDT_MAGIC           0xd00dfeed
#define FDT_BEGIN_NODE      0x1
#define FDT_END_NODE        0x2
#define FDT_PROP            0x3
#define FDT_NOP             0x4
#define FDT_END             0x9

/* Error codes returned (negated) by fdt_open. */
#define FDT_ERR_NULL        1   /* no blob pointer */
#define FDT_ERR_MAGIC       2   /* bad magic */
#define FDT_ERR_VERSION     3   /* unsupported version */
#define FDT_ERR_LAYOUT      4   /* blocks outside totalsize */

struct fdt {
    const uint8_t *blob;
    uint32_t totalsize;
    const uint8_t *structs;     /* structure block */
    uint32_t struct_size;
    const char *strings;        /* strings block */
    uint32_t strings_size;
};

int fdt_open(struct fdt *f, const void *blob);
uint32_t fdt_be32(const void *p);

/* Root node (always offset of the first FDT_BEGIN_NODE), or < 0. */
int fdt_root(const struct fdt *f);
/*
 * Next node in document order after `node`.  *depth is adjusted by the
 * nesting change (+1 for a child, 0 for a sibling, -k after closing k
 * levels).  Returns < 0 at the end of the tree.
 */
int fdt_next_node(const struct fdt *f, int node, int *depth);
const char *fdt_node_name(const struct fdt *f, int node);
/* Parent node of `node` (< 0 for the root). */
int fdt_parent(const struct fdt *f, int node);

/* Property value and length, or NULL if absent. */
const void *fdt_getprop(const struct fdt *f, int node, const char *name,
                        uint32_t *len);
/* Property value as a NUL-terminated string (NULL if absent / malformed). */
const char *fdt_getprop_string(const struct fdt *f, int node, const char *name);
/* A single-cell u32 property, or `dflt` if absent. */
uint32_t fdt_getprop_u32(const struct fdt *f, int node, const char *name,
                         uint32_t dflt);

/* Look up "/a/b"; a component without '@' also matches "name@unit". */
int fdt_path_offset(const struct fdt *f, const char *path);
/* First node after `start` (-1: from the root) whose compatible lists `compat`. */
int fdt_node_by_compatible(const struct fdt *f, int start, const char *compat);
/* First node after `start` whose property `name` equals the string `value`. */
int fdt_node_by_prop_string(const struct fdt *f, int start, const char *name,
                            const char *value);

/* Is `str` one of the NUL-separated strings in list[0..len)? */
bool fdt_stringlist_contains(const char *list, uint32_t len, const char *str);

/*
 * Entry `index` of the node's reg property, decoded with the parent's
 * #address-cells / #size-cells (2 / 2 when the parent does not say).
 * Returns 0, or -1 if absent / out of range / cells > 2.
 */
int fdt_get_reg(const struct fdt *f, int node, unsigned int index,
                uint64_t *addr, uint64_t *size);

#endif /* XGDBVM_FW_FDT_H */
