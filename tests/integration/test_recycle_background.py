"""Overlapped recycling starts the replacement in the background: SCHED_IDLE
from its exec until READY, so that its start takes only the CPU the serving
worker leaves. It goes to SCHED_BATCH, a worker's normal policy (a worker
started in the foreground sets it itself), when it reports ready, when its
old worker goes away (the pool depends on it then), or after 1 s of
starting. A first start (on demand) is never in the background.

Leaving SCHED_IDLE takes CAP_SYS_NICE or an RLIMIT_NICE that allows it:
without either (an ordinary user, usually) waspd starts replacements at
normal priority, and this test checks that no worker is ever SCHED_IDLE.

waspd's test hook WASP_TEST_HANG_STARTUP_FROM=A:N (--test-hooks only)
keeps pool A's workers from the Nth on from reporting ready."""
import os
import resource
import signal
import time
import wasptest
from wasptest import check, wait_until


def can_leave_idle():
    """What waspd decides (activator/sched.c), for this test's process,
    whose capabilities and limits waspd inherits."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapEff:") and (int(line.split()[1], 16) >> 23) & 1:
                return True
    soft = resource.getrlimit(resource.RLIMIT_NICE)[0]
    return soft == resource.RLIM_INFINITY or 20 - os.getpriority(os.PRIO_PROCESS, 0) <= soft


# a worker's policy out of the background (worker/main.c)
NORMAL = os.SCHED_BATCH


def policy(pid):
    return os.sched_getscheduler(pid)


def start_of(srv, pool, old):
    """Recycle and return the replacement's pid and when the command was
    sent (monotonic)."""
    t0 = time.monotonic()
    srv.waspctl("recycle", "apppool", pool)
    new = []
    wait_until(lambda: new.extend(p for p in srv.worker_pids(pool) if p != old) or new,
               what="the replacement to start")
    return new[0], t0


def check_idle_soon(pid, t0, what):
    """SCHED_IDLE now, unless the 1 s bound has passed already (a very slow
    machine): then it must be back to normal."""
    p = policy(pid)
    if time.monotonic() - t0 < 0.9:
        check(p == os.SCHED_IDLE, "%s: policy %d, not SCHED_IDLE" % (what, p))
    else:
        wasptest.log("%s: over 0.9 s after the recycle, not checking SCHED_IDLE" % what)


def test(t):
    background = can_leave_idle()
    wasptest.log("waspd can put workers back from SCHED_IDLE: %s" % background)

    # 1. Ready: the replacement is raised at READY. Then a hung replacement
    #    whose old worker is killed is raised at once.
    srv = t.server(pools={"A": {"processModel": {"startupTimeLimit": "00:01:00"}}},
                   env={"WASP_TEST_HANG_STARTUP_FROM": "A:3"}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    first = r.pid
    check(policy(first) == NORMAL, "an on-demand start was not at normal priority")

    second, _ = start_of(srv, "A", first)
    wait_until(lambda: srv.worker_pids("A") == [second], what="the replacement to take over")
    check(policy(second) == NORMAL, "the ready replacement is not SCHED_BATCH")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid == second, "after the recycle %r" % r)
    if background:
        srv.wait_log("(pid %d) at normal priority: ready" % second)

    third, t0 = start_of(srv, "A", second)
    if background:
        check_idle_soon(third, t0, "a starting replacement")
    else:
        check(policy(third) != os.SCHED_IDLE, "SCHED_IDLE that waspd cannot undo")
    os.kill(second, signal.SIGKILL)
    if background and time.monotonic() - t0 < 0.9:
        srv.wait_log("(pid %d) at normal priority: the worker it replaces is gone" % third)
    wait_until(lambda: policy(third) == NORMAL, what="the pool's only worker out of the background")
    srv.stop()

    # 2. The bound: a replacement that does not get ready goes back to
    #    normal priority after 1 s, still starting, the old one serving.
    srv = t.server(pools={"A": {"processModel": {"startupTimeLimit": "00:01:00"}}},
                   env={"WASP_TEST_HANG_STARTUP_FROM": "A:2"}).start()
    r = srv.get(pool="A")
    check(r.status == 200, "first %r" % r)
    first = r.pid
    second, t0 = start_of(srv, "A", first)
    if background:
        check_idle_soon(second, t0, "a hung replacement")
        srv.wait_log("(pid %d) at normal priority: still starting" % second)
        check(time.monotonic() - t0 >= 0.9, "raised before the bound")
    wait_until(lambda: policy(second) == NORMAL, what="the hung replacement at SCHED_BATCH")
    check(srv.worker_pids("A", state="Starting") == [second], "the replacement is not starting")
    r = srv.get(pool="A")
    check(r.status == 200 and r.pid == first, "while the replacement hangs %r" % r)
    if not background:
        check("(pid %d) at normal priority" % second not in srv.read_log(),
              "background start without the right")


wasptest.main(test)
