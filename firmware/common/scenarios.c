/*
 * Test scenarios, chosen with the kernel command line (/chosen/bootargs):
 *
 *   xgdbvm.test=NAME   which scenario (default: "default")
 *   xgdbvm.n=N         iteration count for the counting scenarios
 *                      (decimal or 0x-hex; default per scenario below)
 *
 *   name        n default   what it does
 *   ----------  ----------  -------------------------------------------------
 *   default     -           the Xen bring-up (as bringup), then powers off
 *   minimal     -           nothing beyond the banner and version queries
 *   psci        -           PSCI_VERSION, SMCCC_VERSION, PSCI_FEATURES(SYSTEM_OFF)
 *                           printed, then PSCI SYSTEM_OFF via hvc #0
 *   psci-reset  -           PSCI SYSTEM_RESET via hvc #0
 *   reboot      -           SCHEDOP_shutdown(SHUTDOWN_reboot)
 *   crash       -           SCHEDOP_shutdown(SHUTDOWN_crash)
 *   hvc-undef   -           "hvc #0x1" -> undefined-instruction exception,
 *                           handled, "hvc-undef: survived", powers off
 *   spin        -           for (;;) spin_count++;  never ends
 *   loop        1000        calls loop_body(i) n times, powers off
 *   hotloop     100000000   assembly countdown, 2 instructions/iteration
 *   hcall-loop  100000      n x HYPERVISOR_xen_version(XENVER_version, NULL)
 *   hcall-model 100000      n x HYPERVISOR_xen_version(XENVER_get_features, &fi):
 *                           a call the hypervisor model must answer (it writes
 *                           guest memory), unlike hcall-loop's constant one
 *
 *   Xen interfaces (common/scenarios_xen.c; output and emulator protocol
 *   in firmware/README.md):
 *   bringup     -           default_xen_bringup(): shared_info, HVM params,
 *                           vcpu_info, events, xenstore, PV console banner
 *   xenstore    60          bringup, then watch control/shutdown and idle
 *                           up to n seconds for "poweroff"/"reboot"
 *   events      3           VIRQ_DEBUG + echo channel to dom0 (n echoes) +
 *                           loopback channel, Linux 2-level upcalls
 *   evtchn-stress 100000    count n backend events under exclusive RMW load
 *   timer       10          n virtual-timer ticks of 1 ms through the GIC
 *   fault       -           data aborts on unmapped IPAs, handled
 *   hcall-fail  -           hypercalls that fail on purpose, errno printed
 *   mmu         -           offset-mapped virtual code (Mini-OS scheme)
 *   mmu-lpae    -           the same with LPAE tables (arm32)
 *
 *   xgdbvm.mmu=off          keep the MMU off in the Xen scenarios
 *
 * Every scenario starts after the common boot output and the line
 * "scenario: NAME"; returning from a scenario powers the guest off.
 * An unknown NAME prints "unknown scenario NAME" and crash-shuts down.
 */
#include "arch.h"
#include "console.h"
#include "guest.h"
#include "hypercall.h"
#include "psci.h"
#include "scenarios.h"

#define SCENARIO_NAME_MAX   32

volatile unsigned long spin_count;
volatile unsigned long loop_count;
volatile unsigned long loop_last_arg;
bool scenario_mmu_off;

struct scenario {
    const char *name;
    void (*run)(unsigned long n);
    unsigned long default_n;
};

/* ------------------------------------------------------------------ */

/* What every Xen guest does early: shared_info, HVM params, vcpu_info, event
 * channels, xenstore reads and writes, the PV console banner; then power off. */
static void scenario_default(unsigned long n)
{
    scenario_bringup(n);
}

/* Only the banner and the version queries: the smallest complete boot. */
static void scenario_minimal(unsigned long n)
{
    (void)n;
}

static void scenario_psci(unsigned long n)
{
    long version, smccc, features, rc;

    (void)n;
    version = psci_call(PSCI_VERSION, 0, 0, 0);
    smccc = psci_call(SMCCC_VERSION, 0, 0, 0);
    features = psci_call(PSCI_FEATURES, PSCI_SYSTEM_OFF, 0, 0);
    kprintf("psci: version 0x%08x smccc 0x%08x features(SYSTEM_OFF)=%d\n",
            (unsigned int)version, (unsigned int)smccc, (int)features);
    kprintf("xgdbvm guest: powering off via psci\n");
    boot_stage = BOOT_STAGE_SHUTDOWN;
    rc = psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
    kprintf("psci: SYSTEM_OFF returned %ld\n", rc);
    guest_shutdown(SHUTDOWN_crash);
}

static void scenario_psci_reset(unsigned long n)
{
    long rc;

    (void)n;
    kprintf("xgdbvm guest: resetting via psci\n");
    boot_stage = BOOT_STAGE_SHUTDOWN;
    rc = psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
    kprintf("psci: SYSTEM_RESET returned %ld\n", rc);
    guest_shutdown(SHUTDOWN_crash);
}

static void scenario_reboot(unsigned long n)
{
    (void)n;
    guest_shutdown(SHUTDOWN_reboot);
}

static void scenario_crash(unsigned long n)
{
    (void)n;
    guest_shutdown(SHUTDOWN_crash);
}

static void scenario_hvc_undef(unsigned long n)
{
    unsigned int before = undef_count;

    (void)n;
    hvc_undef_probe();
    if (undef_count == before) {
        kprintf("hvc-undef: no undefined-instruction exception was taken\n");
        guest_shutdown(SHUTDOWN_crash);
    }
    kprintf("hvc-undef: survived\n");
}

static void scenario_spin(unsigned long n)
{
    (void)n;
    for (;;)
        spin_count++;
}

/* Breakpoint target: keep it a real, separate function. */
NOINLINE USED void loop_body(unsigned long i)
{
    loop_last_arg = i;
    loop_count++;
}

static void scenario_loop(unsigned long n)
{
    unsigned long i;

    for (i = 0; i < n; i++)
        loop_body(i);
    kprintf("loop: %lu calls, loop_count=%lu\n", n, loop_count);
}

static void scenario_hotloop(unsigned long n)
{
    hotloop_countdown(n);
    kprintf("hotloop: %lu iterations\n", n);
}

static void scenario_hcall_loop(unsigned long n)
{
    unsigned long i;
    long rc = 0;

    for (i = 0; i < n; i++)
        rc = HYPERVISOR_xen_version(XENVER_version, NULL);
    kprintf("hcall-loop: %lu calls, last result 0x%lx\n", n, (unsigned long)rc);
}

static void scenario_hcall_model(unsigned long n)
{
    struct xen_feature_info fi = { 0, 0 };
    unsigned long i;
    long rc = 0;

    for (i = 0; i < n; i++)
        rc = HYPERVISOR_xen_version(XENVER_get_features, &fi);
    kprintf("hcall-model: %lu calls, last result %ld, features 0x%x\n", n, rc,
            (unsigned)fi.submap);
}

static const struct scenario scenarios[] = {
    { "default",    scenario_default,    0 },
    { "minimal",    scenario_minimal,    0 },
    { "psci",       scenario_psci,       0 },
    { "psci-reset", scenario_psci_reset, 0 },
    { "reboot",     scenario_reboot,     0 },
    { "crash",      scenario_crash,      0 },
    { "hvc-undef",  scenario_hvc_undef,  0 },
    { "spin",       scenario_spin,       0 },
    { "loop",       scenario_loop,       1000 },
    { "hotloop",    scenario_hotloop,    100000000 },
    { "hcall-loop", scenario_hcall_loop, 100000 },
    { "hcall-model", scenario_hcall_model, 100000 },
    { "bringup",    scenario_bringup,    0 },
    { "xenstore",   scenario_xenstore,   60 },
    { "events",     scenario_events,     3 },
    { "evtchn-stress", scenario_evtchn_stress, 100000 },
    { "timer",      scenario_timer,      10 },
    { "fault",      scenario_fault,      0 },
    { "hcall-fail", scenario_hcall_fail, 0 },
    { "mmu",        scenario_mmu,        0 },
    { "mmu-lpae",   scenario_mmu_lpae,   0 },
};

/* ------------------------------------------------------------------ */

struct boot_options {
    char name[SCENARIO_NAME_MAX + 1];
    bool have_n;
    bool bad_n;
    bool mmu_off;
    unsigned long n;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Value of "key=" in token tok[0..len), or NULL. */
static const char *option_value(const char *tok, size_t len, const char *key,
                                size_t *vlen)
{
    size_t klen = strlen(key);

    if (len <= klen || memcmp(tok, key, klen) != 0 || tok[klen] != '=')
        return NULL;
    *vlen = len - klen - 1;
    return tok + klen + 1;
}

static void parse_bootargs(const char *args, struct boot_options *opt)
{
    memset(opt, 0, sizeof(*opt));
    memcpy(opt->name, "default", sizeof("default"));

    while (*args) {
        const char *tok, *val;
        size_t len = 0, vlen;

        while (is_space(*args))
            args++;
        tok = args;
        while (tok[len] && !is_space(tok[len]))
            len++;
        args += len;
        if (!len)
            continue;

        if ((val = option_value(tok, len, "xgdbvm.test", &vlen))) {
            if (vlen > SCENARIO_NAME_MAX)
                vlen = SCENARIO_NAME_MAX;
            memcpy(opt->name, val, vlen);
            opt->name[vlen] = '\0';
        } else if ((val = option_value(tok, len, "xgdbvm.n", &vlen))) {
            opt->have_n = parse_ulong(val, vlen, &opt->n);
            opt->bad_n = !opt->have_n;
        } else if ((val = option_value(tok, len, "xgdbvm.mmu", &vlen))) {
            opt->mmu_off = vlen == 3 && memcmp(val, "off", 3) == 0;
        }
    }
}

void scenario_run(const char *bootargs)
{
    struct boot_options opt;
    const struct scenario *sc = NULL;
    size_t i;

    parse_bootargs(bootargs, &opt);
    scenario_mmu_off = opt.mmu_off;
    kprintf("scenario: %s\n", opt.name);
    if (opt.bad_n)
        kprintf("scenario: ignoring malformed xgdbvm.n\n");

    for (i = 0; i < ARRAY_SIZE(scenarios); i++) {
        if (strcmp(scenarios[i].name, opt.name) == 0) {
            sc = &scenarios[i];
            break;
        }
    }
    boot_stage = BOOT_STAGE_SCENARIO;
    if (!sc) {
        kprintf("unknown scenario %s\n", opt.name);
        guest_shutdown(SHUTDOWN_crash);
    }
    sc->run(opt.have_n ? opt.n : sc->default_n);
}
