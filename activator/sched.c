/* Background start of a recycle's replacement worker: SCHED_IDLE from just
 * after its exec until it reports READY (or a bound passes), then
 * SCHED_BATCH, the policy a worker gives itself when it starts in the
 * foreground (worker/main.c: it does not preempt the listener that wakes it).
 *
 * Why: an overlapped recycle is not urgent (the old worker serves until the
 * new one is ready), but starting a process is a few milliseconds of CPU
 * that the scheduler hands out in whole ticks (4 ms at HZ=250). On a busy
 * core the replacement's start then held the CPU for a tick while the
 * serving worker's clients waited. Under SCHED_IDLE the start uses only
 * what the busy processes leave, and any wake-up of theirs preempts it.
 *
 * Leaving SCHED_IDLE takes CAP_SYS_NICE, or an RLIMIT_NICE that allows the
 * worker's nice value (sched(7)); without either the replacement starts at
 * normal priority, as before, so no worker can be stuck in the background. */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "log.h"
#include "waspd.h"

#define CAP_SYS_NICE_BIT 23

static bool
have_cap_sys_nice(void)
{
	char line[256];
	bool r = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long eff;

		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			r = (eff >> CAP_SYS_NICE_BIT) & 1;
			break;
		}
	}
	fclose(f);
	return r;
}

bool
sched_background_possible(void)
{
	struct rlimit rl;
	int nice_now;

	if (have_cap_sys_nice())
		return true;
	/* Children inherit our nice value and our RLIMIT_NICE; the kernel lets
	 * an unprivileged caller raise a SCHED_IDLE task back when
	 * 20 - nice <= RLIMIT_NICE. */
	errno = 0;
	nice_now = getpriority(PRIO_PROCESS, 0);
	if (nice_now == -1 && errno != 0)
		return false;
	if (getrlimit(RLIMIT_NICE, &rl) < 0)
		return false;
	return rl.rlim_cur == RLIM_INFINITY || (rlim_t)(20 - nice_now) <= rl.rlim_cur;
}

static int
set_policy(pid_t tid, int policy)
{
	struct sched_param sp = {.sched_priority = 0};

	return neg_errno(sched_setscheduler(tid, policy, &sp));
}

int
sched_background(pid_t pid)
{
	return set_policy(pid, SCHED_IDLE);
}

/* Every thread: a module's init_process may have started some, and
 * sched_setscheduler() changes one thread only. */
int
sched_foreground(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int r, first = 0;

	r = set_policy(pid, SCHED_BATCH);
	if (r < 0)
		return r; /* gone, or not ours to change: the caller logs */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end != '\0' || tid <= 0 || tid == pid)
			continue;
		if (sched_getscheduler((pid_t)tid) != SCHED_IDLE)
			continue;
		r = set_policy((pid_t)tid, SCHED_BATCH);
		if (r < 0 && r != -ESRCH && first == 0)
			first = r;
	}
	closedir(d);
	return first;
}
