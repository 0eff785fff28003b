/*
 * Scenarios that exercise the Xen guest interfaces beyond the default
 * boot: shared_info, HVM params, vcpu_info, event channels, xenstore, the
 * PV console, the GIC and virtual timer, data aborts, the MMU and failing
 * hypercalls.  firmware/README.md lists each one's exact output and the
 * protocol it expects from the emulator; keep the two in step.
 *
 * Conventions: every hypercall failure prints "<what> failed: <rc> (<name>)"
 * and crash-shuts down; every wait is bounded in counter time and in WFI
 * wake-ups; interrupts are only taken inside waits.
 */
#include "arch.h"
#include "console.h"
#include "cpu.h"
#include "events.h"
#include "fault.h"
#include "guest.h"
#include "hypercall.h"
#include "irq.h"
#include "mmu.h"
#include "pvcons.h"
#include "scenarios.h"
#include "xenstore.h"

#define EVENT_TIMEOUT_MS        1000
#define DRAIN_TIMEOUT_MS        1000
#define STRESS_PORTS            4u
#define STRESS_STALL_ITERS      (1ul << 24)
#define STRESS_STALL_MS         10000
#define BAD_MEMORY_OP           63u     /* no such XENMEM_* sub-op */
#define UNMAPPED_IPA            0x10000000ull   /* GUEST_VPCI_ECAM_BASE: no vPCI */

static NORETURN void fail(const char *what, long rc)
{
    kprintf("%s failed: %ld (%s)\n", what, rc, xen_errno_name(rc));
    guest_shutdown(SHUTDOWN_crash);
}

static NORETURN void give_up(const char *why)
{
    kprintf("%s\n", why);
    guest_shutdown(SHUTDOWN_crash);
}

/* ------------------------------------------------------------ steps */

static void step_mmu(void)
{
    if (scenario_mmu_off) {
        kprintf("mmu: left off (xgdbvm.mmu=off)\n");
        return;
    }
    if (!mmu_identity_enable())
        give_up("mmu: cannot build the identity map");
    kprintf("mmu: identity map on, caches enabled\n");
}

static void step_shared_info(void)
{
    struct xen_wallclock wc;
    long rc = xen_map_shared_info();

    if (rc)
        fail("shared_info: XENMEM_add_to_physmap", rc);
    if (!xen_read_wallclock(&wc))
        give_up("shared_info: wc_version stays odd");
    kprintf("shared_info: wc_version=%u wc_sec=%u\n", wc.version, wc.sec);
    kprintf("shared_info: wc_nsec=%u wc_sec_hi=%u gpfn=0x%llx\n", wc.nsec, wc.sec_hi,
            (unsigned long long)virt_to_gfn(shared_info_page));
}

struct hvm_params {
    uint64_t callback_irq, store_pfn, store_evtchn, console_pfn, console_evtchn;
};

static void get_param(uint32_t index, const char *name, uint64_t *value)
{
    char what[48];
    long rc = hvm_get_param(index, value);

    if (rc) {
        ksnprintf(what, sizeof(what), "hvm: get_param(%s)", name);
        fail(what, rc);
    }
}

static void step_hvm_params(struct hvm_params *p)
{
    get_param(HVM_PARAM_CALLBACK_IRQ, "CALLBACK_IRQ", &p->callback_irq);
    get_param(HVM_PARAM_STORE_PFN, "STORE_PFN", &p->store_pfn);
    get_param(HVM_PARAM_STORE_EVTCHN, "STORE_EVTCHN", &p->store_evtchn);
    get_param(HVM_PARAM_CONSOLE_PFN, "CONSOLE_PFN", &p->console_pfn);
    get_param(HVM_PARAM_CONSOLE_EVTCHN, "CONSOLE_EVTCHN", &p->console_evtchn);
    kprintf("hvm: callback_irq=0x%016llx store_pfn=0x%llx store_evtchn=%llu "
            "console_pfn=0x%llx console_evtchn=%llu\n",
            (unsigned long long)p->callback_irq, (unsigned long long)p->store_pfn,
            (unsigned long long)p->store_evtchn, (unsigned long long)p->console_pfn,
            (unsigned long long)p->console_evtchn);
}

static void step_vcpu_info(void)
{
    long rc = xen_register_vcpu_info();

    if (rc)
        fail("vcpu_info: VCPUOP_register_vcpu_info", rc);
    kprintf("vcpu_info: registered gfn 0x%llx offset 0x%x\n",
            (unsigned long long)virt_to_gfn(xen_vcpu),
            (unsigned int)((uintptr_t)xen_vcpu & (XEN_PAGE_SIZE - 1)));
}

static void step_events(void)
{
    if (!evtchn_init())
        give_up("events: no GIC, no upcall");
    kprintf("events: 2-level ABI, upcall on PPI %u\n", platform.evtchn_ppi);
}

/* MMU, shared_info, vcpu_info, event channels: what everything else needs. */
static void xen_events_up(struct hvm_params *params)
{
    step_mmu();
    step_shared_info();
    if (params)
        step_hvm_params(params);
    step_vcpu_info();
    step_events();
}

/* ------------------------------------------------------------ xenstore */

static void xs_show(const char *path)
{
    char value[XS_VALUE_MAX];
    long rc = xs_read(0, path, value, sizeof(value));

    if (rc < 0) {
        char what[64];

        ksnprintf(what, sizeof(what), "xenstore: read %s", path);
        fail(what, rc);
    }
    kprintf("xenstore: %s = \"%s\"\n", path, value);
}

static void xs_set(const char *path, const char *value)
{
    long rc = xs_write(0, path, value);

    if (rc < 0) {
        char what[64];

        ksnprintf(what, sizeof(what), "xenstore: write %s", path);
        fail(what, rc);
    }
    kprintf("xenstore: %s = \"%s\"\n", path, value);
}

static void xs_list(const char *path)
{
    char names[XS_VALUE_MAX];
    long n = xs_directory(0, path, names, sizeof(names)), i;
    const char *p = names;

    if (n < 0) {
        char what[64];

        ksnprintf(what, sizeof(what), "xenstore: directory %s", path);
        fail(what, n);
    }
    kprintf("xenstore: %s = [", path);
    for (i = 0; i < n; i++) {
        kprintf(i ? " %s" : "%s", p);
        p += strlen(p) + 1;
    }
    kprintf("]\n");
}

static void xenstore_session(const struct hvm_params *p)
{
    long rc = xs_init(p->store_pfn, (uint32_t)p->store_evtchn);

    if (rc)
        fail("xenstore: init", rc);
    kprintf("xenstore: ring gfn 0x%llx port %u\n", (unsigned long long)p->store_pfn,
            (unsigned int)p->store_evtchn);
    xs_show("name");
    xs_show("domid");
    xs_set("data/boot-status", "ok");
    xs_set("control/feature-poweroff", "1");
    xs_list("device");
}

static void pvcons_banner(const struct hvm_params *p)
{
    char line[64];
    int n;
    long rc = pvcons_init(p->console_pfn, (uint32_t)p->console_evtchn);

    if (rc)
        fail("pvcons: init", rc);
    n = ksnprintf(line, sizeof(line), "xgdbvm guest: hello from %s\n", arch_name);
    rc = pvcons_write(line, (size_t)n);
    if (rc < 0)
        fail("pvcons: write", rc);
    kprintf("pvcons: banner written to ring gfn 0x%llx port %u (%ld bytes)\n",
            (unsigned long long)p->console_pfn, (unsigned int)p->console_evtchn, rc);
}

int default_xen_bringup(void)
{
    struct hvm_params params;

    xen_events_up(&params);
    xenstore_session(&params);
    pvcons_banner(&params);
    return 0;
}

void scenario_bringup(unsigned long n)
{
    (void)n;
    if (default_xen_bringup() < 0)
        guest_shutdown(SHUTDOWN_crash);
}

/*
 * Linux's shutdown_handler: in a transaction, read control/shutdown;
 * ignore it if empty; acknowledge a known command by writing "" back;
 * retry the transaction on EAGAIN.  Returns the SHUTDOWN_* reason, or -1.
 */
static int read_shutdown_request(void)
{
    unsigned int attempt;

    for (attempt = 0; attempt < 8; attempt++) {
        char value[XS_VALUE_MAX];
        int reason = -1;
        uint32_t tx;
        long rc;

        rc = xs_transaction_start(&tx);
        if (rc)
            fail("xenstore: transaction_start", rc);
        rc = xs_read(tx, "control/shutdown", value, sizeof(value));
        if (rc < 0 && rc != -XEN_ENOENT)
            fail("xenstore: read control/shutdown", rc);
        if (rc <= 0) {
            (void)xs_transaction_end(tx, 1);
            kprintf("xenstore: control/shutdown is %s\n", rc == 0 ? "empty" : "absent");
            return -1;
        }
        if (strcmp(value, "poweroff") == 0 || strcmp(value, "halt") == 0)
            reason = SHUTDOWN_poweroff;
        else if (strcmp(value, "reboot") == 0)
            reason = SHUTDOWN_reboot;
        if (reason >= 0) {
            rc = xs_write(tx, "control/shutdown", "");
            if (rc)
                fail("xenstore: acknowledge control/shutdown", rc);
        }
        rc = xs_transaction_end(tx, 0);
        if (rc == -XEN_EAGAIN)
            continue;
        if (rc)
            fail("xenstore: transaction_end", rc);
        kprintf("xenstore: control/shutdown = \"%s\"%s\n", value,
                reason < 0 ? " (ignored)" : "");
        return reason;
    }
    give_up("xenstore: control/shutdown transaction kept failing with EAGAIN");
}

void scenario_xenstore(unsigned long seconds)
{
    struct hvm_params params;
    long rc;

    xen_events_up(&params);
    xenstore_session(&params);
    pvcons_banner(&params);

    rc = xs_watch("control/shutdown", "shutdown");
    if (rc)
        fail("xenstore: watch control/shutdown", rc);
    kprintf("xenstore: watching control/shutdown, idle for up to %lu s\n", seconds);

    for (;;) {
        struct xs_watch_event ev;
        int reason;

        rc = xs_next_watch_event(&ev, timer_ms_to_ticks((uint64_t)seconds * 1000u));
        if (rc < 0)
            fail("xenstore: waiting for a watch event", rc);
        if (rc == 0)
            give_up("xenstore: no shutdown request arrived");
        kprintf("xenstore: watch event %s (token %s)\n", ev.path, ev.token);
        if (strcmp(ev.token, "shutdown") != 0)
            continue;
        reason = read_shutdown_request();
        if (reason >= 0)
            guest_shutdown((unsigned int)reason);
    }
}

/* ------------------------------------------------------------ events */

struct count_goal {
    volatile unsigned long *counter;
    unsigned long goal;
};

static bool count_reached(void *arg)
{
    const struct count_goal *g = arg;

    return *g->counter >= g->goal;
}

static void wait_count(volatile unsigned long *counter, unsigned long goal, const char *what)
{
    struct count_goal g = { counter, goal };

    if (!wait_until(count_reached, &g, timer_ms_to_ticks(EVENT_TIMEOUT_MS),
                    WAIT_MAX_WAKEUPS_DEFAULT))
        give_up(what);
}

static volatile unsigned long ev_total;

static void print_event(uint32_t port, void *arg)
{
    volatile unsigned long *counter = arg;

    (*counter)++;
    ev_total++;
    kprintf("event: port %u\n", (unsigned int)port);
}

static uint32_t bind_counted(uint32_t port, volatile unsigned long *counter)
{
    evtchn_bind_handler(port, print_event, (void *)counter);
    evtchn_unmask(port);
    return port;
}

void scenario_events(unsigned long rounds)
{
    static volatile unsigned long virq_seen, echo_seen, lo1_seen, lo2_seen;
    uint32_t virq_port, echo_port, lo1, lo2;
    unsigned long i;
    long rc;

    xen_events_up(NULL);

    rc = evtchn_bind_virq(VIRQ_DEBUG, 0, &virq_port);
    if (rc)
        fail("events: EVTCHNOP_bind_virq(VIRQ_DEBUG)", rc);
    bind_counted(virq_port, &virq_seen);
    kprintf("events: VIRQ_DEBUG on port %u\n", (unsigned int)virq_port);

    rc = evtchn_alloc_unbound(0, &echo_port);
    if (rc)
        fail("events: EVTCHNOP_alloc_unbound(remote 0)", rc);
    bind_counted(echo_port, &echo_seen);
    kprintf("events: echo port %u (remote domain 0), %lu rounds\n", (unsigned int)echo_port,
            rounds);

    for (i = 1; i <= rounds; i++) {
        rc = evtchn_send(echo_port);
        if (rc)
            fail("events: EVTCHNOP_send(echo port)", rc);
        wait_count(&echo_seen, i, "events: the backend did not echo");
    }
    if (rounds)
        wait_count(&virq_seen, 1, "events: VIRQ_DEBUG never arrived");

    /* A loopback channel: no backend involved, pure Xen semantics. */
    rc = evtchn_alloc_unbound(DOMID_SELF, &lo1);
    if (rc)
        fail("events: EVTCHNOP_alloc_unbound(DOMID_SELF)", rc);
    bind_counted(lo1, &lo1_seen);
    rc = evtchn_bind_interdomain(DOMID_SELF, lo1, &lo2);
    if (rc)
        fail("events: EVTCHNOP_bind_interdomain(DOMID_SELF)", rc);
    bind_counted(lo2, &lo2_seen);   /* pending from the bind: EVTCHNOP_unmask */
    kprintf("events: loopback ports %u <-> %u\n", (unsigned int)lo1, (unsigned int)lo2);
    wait_count(&lo2_seen, 1, "events: bind_interdomain did not leave the new port pending");
    rc = evtchn_send(lo1);
    if (rc)
        fail("events: EVTCHNOP_send(loopback)", rc);
    wait_count(&lo2_seen, 2, "events: loopback send did not arrive");
    rc = evtchn_send(lo2);
    if (rc)
        fail("events: EVTCHNOP_send(loopback)", rc);
    wait_count(&lo1_seen, 1, "events: loopback send did not arrive");

    if ((rc = evtchn_close(lo2)) || (rc = evtchn_close(lo1)) ||
        (rc = evtchn_close(echo_port)) || (rc = evtchn_close(virq_port)))
        fail("events: EVTCHNOP_close", rc);
    kprintf("events: %lu events in %lu upcalls, ports closed\n", ev_total, evtchn_upcalls);
}

/* ------------------------------------------------------------ evtchn-stress */

static volatile unsigned long stress_received, stress_done;
static volatile unsigned long stress_per_port[STRESS_PORTS];
static uint32_t stress_port[STRESS_PORTS];

static void stress_event(uint32_t port, void *arg)
{
    (void)port;
    (*(volatile unsigned long *)arg)++;
    stress_received++;
}

static void stress_control(uint32_t port, void *arg)
{
    (void)port;
    (void)arg;
    stress_done++;
}

static bool stress_drained(void *arg)
{
    unsigned int i;

    (void)arg;
    for (i = 0; i < STRESS_PORTS; i++)
        if (evtchn_is_pending(stress_port[i]))
            return false;
    return !READ_ONCE_U8(xen_vcpu->evtchn_upcall_pending);
}

static uint32_t stress_dummy_port(uint32_t control)
{
    uint32_t base = stress_port[0] & ~(EVTCHN_WORD_BITS - 1u), p;
    unsigned int i;

    /* The highest free bit of the first stress port's word. */
    for (p = base + EVTCHN_WORD_BITS - 1u; p > base; p--) {
        bool used = p == control;

        for (i = 0; i < STRESS_PORTS; i++)
            used |= p == stress_port[i];
        if (!used)
            return p;
    }
    return base;
}

void scenario_evtchn_stress(unsigned long total)
{
    volatile struct shared_info *s;
    unsigned long iters, stall = 0, last = 0;
    uint64_t last_progress, stall_ticks = timer_ms_to_ticks(STRESS_STALL_MS);
    uint32_t control, dummy;
    unsigned int i;
    long rc;

    xen_events_up(NULL);
    s = HYPERVISOR_shared_info;

    rc = evtchn_alloc_unbound(0, &control);
    if (rc)
        fail("evtchn-stress: EVTCHNOP_alloc_unbound(control)", rc);
    evtchn_bind_handler(control, stress_control, NULL);
    for (i = 0; i < STRESS_PORTS; i++) {
        rc = evtchn_alloc_unbound(0, &stress_port[i]);
        if (rc)
            fail("evtchn-stress: EVTCHNOP_alloc_unbound(stress)", rc);
        evtchn_bind_handler(stress_port[i], stress_event, (void *)&stress_per_port[i]);
    }
    evtchn_unmask(control);
    for (i = 0; i < STRESS_PORTS; i++)
        evtchn_unmask(stress_port[i]);
    dummy = stress_dummy_port(control);
    kprintf("evtchn-stress: control port %u, stress ports %u %u %u %u, expecting %lu events\n",
            (unsigned int)control, (unsigned int)stress_port[0], (unsigned int)stress_port[1],
            (unsigned int)stress_port[2], (unsigned int)stress_port[3], total);

    rc = evtchn_send(control);
    if (rc)
        fail("evtchn-stress: EVTCHNOP_send(control)", rc);

    /*
     * Hammer the words the backend sets bits in: exclusive set/clear of a
     * masked, unused port's pending bit and a rewrite of its mask bit.
     * Interrupts stay open; every upcall clears the stress ports' bits
     * with the same kind of atomics.
     */
    last_progress = timer_read_cntvct();
    local_irq_enable();
    for (iters = 0; !stress_done; iters++) {
        unsigned long now_count;

        sync_set_bit(dummy, s->evtchn_pending);
        sync_clear_bit(dummy, s->evtchn_pending);
        sync_set_bit(dummy, s->evtchn_mask);
        now_count = stress_received;
        if (now_count != last) {
            last = now_count;
            stall = 0;
            last_progress = timer_read_cntvct();
        } else if (++stall >= STRESS_STALL_ITERS ||
                   ((stall & 0xfffu) == 0 && timer_read_cntvct() - last_progress > stall_ticks)) {
            break;
        }
    }
    local_irq_disable();

    /* Whatever is still pending gets handled before counting. */
    (void)wait_until(stress_drained, NULL, timer_ms_to_ticks(DRAIN_TIMEOUT_MS),
                     WAIT_MAX_WAKEUPS_DEFAULT);

    kprintf("evtchn-stress: received %lu of %lu events\n", stress_received, total);
    kprintf("evtchn-stress: per port %lu %lu %lu %lu, %lu upcalls, %lu loop iterations\n",
            stress_per_port[0], stress_per_port[1], stress_per_port[2], stress_per_port[3],
            evtchn_upcalls, iters);
    if (!stress_done)
        give_up("evtchn-stress: no completion notice on the control port");
    if (stress_received != total)
        give_up("evtchn-stress: event count mismatch");
}

/* ------------------------------------------------------------ timer */

struct tick_state {
    unsigned long ticks, goal;
    uint64_t period;
};

static volatile struct tick_state tick;

static void tick_irq(unsigned int intid, void *arg)
{
    uint64_t now = timer_read_cntvct(), cval;

    (void)intid;
    (void)arg;
    tick.ticks++;
    kprintf("tick %lu at count %llu\n", tick.ticks, (unsigned long long)now);
    if (tick.ticks >= tick.goal) {
        timer_write_ctl(0);
        return;
    }
    cval = timer_read_cval() + tick.period;
    if (cval <= now)
        cval = now + tick.period;       /* missed ticks are not replayed */
    timer_write_cval(cval);
}

static bool ticks_done(void *arg)
{
    (void)arg;
    return tick.ticks >= tick.goal;
}

void scenario_timer(unsigned long n)
{
    uint32_t freq;

    if (!irq_init())
        give_up("timer: no GIC");
    freq = timer_frequency();
    tick.goal = n;
    tick.ticks = 0;
    tick.period = freq / 1000u;
    if (!tick.period)
        tick.period = 1;
    kprintf("timer: CNTFRQ %u Hz, period %llu ticks (1 ms), %lu ticks on PPI %u\n",
            (unsigned int)freq, (unsigned long long)tick.period, n, platform.vtimer_ppi);
    if (!n)
        return;
    timer_claim(tick_irq, NULL);
    timer_write_cval(timer_read_cntvct() + tick.period);
    timer_write_ctl(CNTV_CTL_ENABLE);
    if (!wait_until(ticks_done, NULL, (n + 1000u) * tick.period, n * 16u + 1000u)) {
        timer_write_ctl(0);
        kprintf("timer: only %lu of %lu ticks\n", tick.ticks, n);
        guest_shutdown(SHUTDOWN_crash);
    }
    timer_write_ctl(0);
    timer_use_for_wakeups();
    kprintf("timer: %lu ticks done\n", tick.ticks);
}

/* ------------------------------------------------------------ fault */

void scenario_fault(unsigned long n)
{
    uint64_t end_of_ram = platform.have_memory ? platform.mem_base + platform.mem_size
                                               : 0x48000000ull;
    uint32_t value;

    (void)n;
    kprintf("fault: reading 0x%llx (end of RAM)\n", (unsigned long long)end_of_ram);
    fault_expect(fault_probe_read_insn, fault_probe_read_resume);
    value = fault_probe_read((uintptr_t)end_of_ram);
    fault_expect_none();
    if (fault_count != 1) {
        kprintf("fault: no data abort, read 0x%08x\n", (unsigned int)value);
        guest_shutdown(SHUTDOWN_crash);
    }

    kprintf("fault: writing 0x%llx (unmapped IPA)\n", (unsigned long long)UNMAPPED_IPA);
    fault_expect(fault_probe_write_insn, fault_probe_write_resume);
    fault_probe_write((uintptr_t)UNMAPPED_IPA, 0x5a5a5a5au);
    fault_expect_none();
    if (fault_count != 2) {
        kprintf("fault: no data abort on the write\n");
        guest_shutdown(SHUTDOWN_crash);
    }
    kprintf("fault: survived\n");
}

/* ------------------------------------------------------------ hcall-fail */

void scenario_hcall_fail(unsigned long n)
{
    struct xen_feature_info fi = { .submap_idx = 1, .submap = 0 };
    long rc;

    (void)n;
    rc = HYPERVISOR_xen_version(XENVER_get_features, &fi);
    kprintf("hcall-fail: xen_version(XENVER_get_features, submap_idx=1) = %ld (%s)\n", rc,
            xen_errno_name(rc));
    rc = HYPERVISOR_memory_op(BAD_MEMORY_OP, NULL);
    kprintf("hcall-fail: memory_op(%u) = %ld (%s)\n", BAD_MEMORY_OP, rc, xen_errno_name(rc));
}

/* ------------------------------------------------------------ mmu */

void scenario_mmu(unsigned long n)
{
    (void)n;
    mmu_offset_scenario(false);
}

void scenario_mmu_lpae(unsigned long n)
{
    (void)n;
#if defined(__aarch64__)
    kprintf("mmu-lpae: arm64 tables are always long-descriptor; running \"mmu\"\n");
#endif
    mmu_offset_scenario(true);
}
