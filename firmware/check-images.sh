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
             HYPERVISOR_sched_op xen_hypercall5 psci_call
             default_xen_bringup shared_info_page mmu_virtual_main
             mmu_enter_virtual fault_probe_read_insn fault_probe_write_insn)

# Every PT_LOAD's load address (p_paddr) inside RAM bank 0 as the DTS
# declares it (0x40000000 + 128 MiB), whatever its virtual address.
RAM_BASE=$((0x40000000)) RAM_END=$((0x48000000))
check_segments() {
    local elf=$1 line pa msz n=0
    while read -r line; do
        set -- $line
        pa=$(( $4 )) msz=$(( $6 ))
        n=$((n + 1))
        if [ "$pa" -lt "$RAM_BASE" ] || [ $((pa + msz)) -gt "$RAM_END" ]; then
            bad "$elf: PT_LOAD at LMA $4 (+$6) outside RAM"
        fi
    done < <("$READELF" -lW "$elf" | awk '$1 == "LOAD"')
    [ "$n" -ge 1 ] || bad "$elf: no PT_LOAD"
}

# The .virt section: VMA at the virtual base, LMA right after .data, in RAM.
check_virt() {
    local elf=$1 vbase=$2 vma
    vma=$(sym "$elf" mmu_virtual_main)
    # Compare as fixed-width hex strings: bash arithmetic is signed.
    [ -n "$vma" ] && [[ "$(printf '%016x' "0x$vma")" > "$(printf '%016x' "$vbase")" ]] ||
        bad "$elf: mmu_virtual_main (0x$vma) is not linked at the virtual base"
    [ $(( 0x$(sym "$elf" __idmap_end) - 0x$(sym "$elf" __idmap_start) <= 4096 )) = 1 ] ||
        bad "$elf: .text.idmap is larger than a page"
    [ $(( 0x$(sym "$elf" __idmap_start) % 4096 )) = 0 ] || bad "$elf: .text.idmap not page aligned"
}

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
grep -q 'ldxr' <<<"$dis" && grep -q 'stxr' <<<"$dis" || bad "$elf: no ldxr/stxr atomics"
grep -q 'CNTVCT_EL0' <<<"$dis" || bad "$elf: no CNTVCT_EL0 access"
need_syms "$elf" "${COMMON_SYMS[@]}"
check_segments "$elf"
check_virt "$elf" $((0xffff000000000000))

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
grep -q 'ldrexd' <<<"$dis" && grep -q 'strexd' <<<"$dis" || bad "$elf: no ldrexd/strexd atomics"
grep -q 'mrrc.*p15, #1, .*c14' <<<"$dis" || bad "$elf: no CNTVCT (mrrc p15, 1, c14) access"
need_syms "$elf" "${COMMON_SYMS[@]}"
check_segments "$elf"
check_virt "$elf" $((0xc0000000))

[ "$fail" = 0 ] && echo "check-images: OK"
exit "$fail"
