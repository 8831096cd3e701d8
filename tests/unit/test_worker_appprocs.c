/* worker/appprocs.c: the application processes a worker lists for waspd:
 * entries added, moved and removed; the set read at most max entries with
 * the total beside it (WORKER_APPS is bounded); a refresh callback asked
 * before the set is read; an application cut at its field's size. */
#include <event2/event.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "appprocs.h"
#include "ipc.h"
#include "testutil.h"
#include "util.h"

static unsigned refreshed;

static void
refresh(struct appproc *ap)
{
	refreshed++;
	ap->state = WASP_APP_PROC_BUSY;
}

START_TEST(test_fill_bounded)
{
	struct appproc a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	struct wasp_msg_app_proc out[4];
	char long_name[400];
	uint32_t total;
	size_t n;

	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = 0;
	appproc_add(&a, 10, WASP_APP_PROC_FASTCGI, "/usr/bin/php-cgi", WASP_APP_PROC_IDLE);
	appproc_add(&b, 11, WASP_APP_PROC_CGI, long_name, WASP_APP_PROC_BUSY);
	appproc_add(&c, 12, WASP_APP_PROC_HTTP_PLATFORM, "/usr/bin/node", WASP_APP_PROC_STARTING);
	c.refresh = refresh;
	a.requests = 5;

	n = appprocs_fill(out, 2, &total);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(total, 3);
	ck_assert_uint_eq(refreshed, 1); /* every entry refreshed, listed or not */

	n = appprocs_fill(out, ELEMENTSOF(out), &total);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(total, 3);
	for (size_t k = 0; k < n; k++) {
		ck_assert_ptr_nonnull(memchr(out[k].application, 0, sizeof(out[k].application)));
		if (out[k].pid == 10) {
			ck_assert_uint_eq(out[k].requests, 5);
			ck_assert_str_eq(out[k].application, "/usr/bin/php-cgi");
		} else if (out[k].pid == 11) {
			ck_assert_uint_eq(strlen(out[k].application), WASP_APP_PROC_NAME_MAX - 1);
		} else {
			ck_assert_uint_eq(out[k].pid, 12);
			ck_assert_uint_eq(out[k].state, WASP_APP_PROC_BUSY); /* refreshed */
		}
	}

	/* moved: the same process under another entry, not refreshed by c's */
	appproc_move(&d, &c);
	ck_assert(!c.listed && d.listed);
	appproc_remove(&c); /* a no-op */
	appproc_remove(&b);
	n = appprocs_fill(out, ELEMENTSOF(out), &total);
	ck_assert_uint_eq(total, 2);
	ck_assert_uint_eq(n, 2);
	appproc_remove(&a);
	appproc_remove(&d);
	ck_assert_uint_eq(appprocs_fill(out, ELEMENTSOF(out), &total), 0);
	ck_assert_uint_eq(total, 0);
}
END_TEST

static void
on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
}

/* The WORKER_APPS waspd receives next (0: none waiting): its payload's
 * length. */
static ssize_t
recv_apps(int fd)
{
	static uint8_t buf[WASP_IPC_MAX_MSG];
	struct wasp_ipc_msg m;
	int r;

	while ((r = wasp_ipc_recv(fd, buf, sizeof(buf), &m)) == 1)
		if (m.hdr.type == WASP_MSG_WORKER_APPS)
			return (ssize_t)m.len;
	return 0;
}

START_TEST(test_report_sized_by_entries)
{
	static const struct wasp_ipc_channel_ops ops = {
		.role = WASP_ROLE_WORKER,
		.peer_role = WASP_ROLE_ACTIVATOR,
		.on_close = on_close,
	};
	const size_t head = sizeof(struct wasp_msg_worker_apps);
	const size_t entry = sizeof(struct wasp_msg_app_proc);
	struct appproc a = { 0 }, b = { 0 };
	struct event_base *base = event_base_new();
	struct wasp_ipc_channel *ch;
	int fds[2];

	/* an idle worker with no application process keeps the message's
	 * head only (static buffers of every entry were 64 KiB of its RSS) */
	ck_assert_int_eq(wasp_ipc_socketpair(fds), 0);
	ck_assert_int_eq(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
	ch = wasp_ipc_channel_new(base, fds[0], &ops, NULL);
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(appprocs_report_size(), 0);
	ck_assert_int_eq(appprocs_report(ch), 0);
	ck_assert_int_eq(recv_apps(fds[1]), (ssize_t)head);
	ck_assert_uint_eq(appprocs_report_size(), head);
	/* unchanged: not sent again */
	ck_assert_int_eq(appprocs_report(ch), 0);
	ck_assert_int_eq(recv_apps(fds[1]), 0);

	appproc_add(&a, 20, WASP_APP_PROC_FASTCGI, "/usr/bin/php-cgi", WASP_APP_PROC_IDLE);
	appproc_add(&b, 21, WASP_APP_PROC_CGI, "/usr/lib/cgi-bin/x", WASP_APP_PROC_BUSY);
	ck_assert_int_eq(appprocs_report(ch), 0);
	ck_assert_int_eq(recv_apps(fds[1]), (ssize_t)(head + 2 * entry));
	ck_assert_uint_eq(appprocs_report_size(), head + 2 * entry);
	b.state = WASP_APP_PROC_IDLE;
	ck_assert_int_eq(appprocs_report(ch), 0);
	ck_assert_int_eq(recv_apps(fds[1]), (ssize_t)(head + 2 * entry));
	appproc_remove(&a);
	appproc_remove(&b);
	ck_assert_int_eq(appprocs_report(ch), 0);
	ck_assert_int_eq(recv_apps(fds[1]), (ssize_t)head);
	ck_assert_uint_eq(appprocs_report_size(), head);

	wasp_ipc_channel_free(ch);
	close(fds[1]);
	event_base_free(base);
}
END_TEST

static Suite *
worker_appprocs_suite(void)
{
	Suite *s = suite_create("worker_appprocs");
	TCase *tc = tcase_create("appprocs");

	tcase_add_test(tc, test_fill_bounded);
	tcase_add_test(tc, test_report_sized_by_entries);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(worker_appprocs_suite());
}
