#!/usr/bin/env bash
# Sanity checks on the built firmware (run by "make check"): image headers,
# hypercall encodings and the symbols the debugger tests rely on.
set -euo pipefail
build=${1:-build}

tool() {
    local t
    for t in "$1" "$1-14"; do
        command -v "$t" >/dev/null 2>&1 && { echo "$t"; return; }
    done
    echo "check-images: $1 not found" >&2; exit 1
}
READELF=$(tool llvm-readelf)
OBJDUMP=$(tool llvm-objdump)

fail=0
bad() { echo "check-images: FAIL: $*" >&2; fail=1; }

# u32/u64 little-endian at offset: le FILE OFFSET BYTES
le() { od -An -t u"$3" -j "$2" -N "$3" "$1" | tr -d ' '; }

sym() {     # sym ELF NAME -> value (hex, no 0x) or empty
    "$READELF" -s "$1" | awk -v n="$2" '$8 == n && !f { print $2; f = 1 }'
}

need_syms() {
    local elf=$1; shift
    local s
    for s in "$@"; do
        [ -n "$(sym "$elf" "$s")" ] || bad "$elf: missing symbol $s"
    done
}

COMMON_SYMS=(guest_main boot_stage spin_count loop_body loop_count
             thumb_xen_version hotloop_countdown hvc_undef_insn
             exception_vectors HYPERVISOR_xen_version HYPERVISOR_console_io
             HYPERVISOR_sched_op xen_hypercall5 psci_call)

# ---- arm64
elf=$build/arm64/guest.elf img=$build/arm64/Image
[ "$(le "$img" 0 4)" = $((0x14000000 | 16)) ] || bad "$img: code0 is not 'b +0x40'"
[ "$(le "$img" 8 8)" = $((0x80000)) ] || bad "$img: text_offset"
[ "$(le "$img" 24 8)" = 2 ] || bad "$img: flags"
[ "$(le "$img" 56 4)" = $((0x644d5241)) ] || bad "$img: magic"
size=$(le "$img" 16 8)
end=$(sym "$elf" _end)
[ "$size" = $((0x$end - 0x40080000)) ] || bad "$img: image_size $size"
grep -q 'Entry point address: *0x40080000' <<<"$("$READELF" -h "$elf")" || bad "$elf: entry"
[ $(( 0x$(sym "$elf" exception_vectors) % 2048 )) = 0 ] || bad "$elf: VBAR alignment"
dis=$("$OBJDUMP" -d "$elf")
grep -q '22 d4 01 d4.*hvc.*#0xea1' <<<"$dis" || bad "$elf: no hvc #0xea1"
need_syms "$elf" "${COMMON_SYMS[@]}"

# ---- arm32
elf=$build/arm32/guest.elf img=$build/arm32/zImage
[ $(( $(le "$img" 0 4) >> 24 )) = $((0xea)) ] || bad "$img: word 0 is not a branch"
[ "$(le "$img" $((0x24)) 4)" = $((0x016f2818)) ] || bad "$img: magic"
[ "$(le "$img" $((0x28)) 4)" = 0 ] || bad "$img: start"
[ "$(le "$img" $((0x2c)) 4)" = "$(stat -c %s "$img")" ] || bad "$img: end != file size"
grep -q 'Entry point address: *0x40008000' <<<"$("$READELF" -h "$elf")" || bad "$elf: entry"
[ $(( 0x$(sym "$elf" exception_vectors) % 32 )) = 0 ] || bad "$elf: VBAR alignment"
dis=$("$OBJDUMP" -d --mcpu=cortex-a15 "$elf")
grep -q '71 ea 40 e1.*hvc' <<<"$dis" || bad "$elf: no A32 hvc #0xea1"
grep -q 'e0 f7 a1 8e.*hvc' <<<"$dis" || bad "$elf: no T32 hvc #0xea1"
[ $(( 0x$(sym "$elf" thumb_xen_version) & 1 )) = 1 ] || bad "$elf: thumb_xen_version is not Thumb"
need_syms "$elf" "${COMMON_SYMS[@]}"

[ "$fail" = 0 ] && echo "check-images: OK"
exit "$fail"
