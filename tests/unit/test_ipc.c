/* Unit tests for common/ipc.c: framing and fd passing, every malformed-input
 * class, the checked reader/writer, sealed memfds and the libevent channel.
 * Both ends run in this process over a socketpair; malformed messages are
 * written raw with sendmsg on the far end. */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "memfd.h"
#include "msg.h"
#include "testutil.h"
#include "util.h"

/* --- helpers --- */

/* A receive buffer per test process (tests fork). */
static uint8_t rbuf[WASP_IPC_MAX_MSG];

static void
pair(int fds[2])
{
	ck_assert_int_eq(wasp_ipc_socketpair(fds), 0);
}

static void
close_pair(int fds[2])
{
	fds[0] = safe_close(fds[0]);
	fds[1] = safe_close(fds[1]);
}

/* Build a header (with arbitrary, possibly lying, fields) into buf. */
static size_t
mk(void *buf, uint16_t type, uint8_t version, uint8_t flags, uint32_t len_field,
   const void *payload, size_t payload_len)
{
	struct wasp_ipc_hdr h = {
		.len = len_field,
		.type = type,
		.version = version,
		.flags = flags,
		.seq = 1,
		.pid = (uint32_t)getpid(),
	};

	memcpy(buf, &h, sizeof(h));
	if (payload_len)
		memcpy((uint8_t *)buf + sizeof(h), payload, payload_len);
	return sizeof(h) + payload_len;
}

/* Write raw bytes as one record, with up to two fds. */
static void
raw_send(int sock, const void *data, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(2 * sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = (void *)(uintptr_t)data, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	ck_assert_uint_le(nfds, 2);
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = &control;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	ck_assert_int_eq(sendmsg(sock, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

/* A valid header with a payload and optionally fds, sent raw. */
static void
raw_msg(int sock, uint16_t type, uint8_t flags, const void *payload, size_t len, const int *fds,
	size_t nfds)
{
	uint8_t buf[256];
	size_t n;

	ck_assert_uint_le(len, sizeof(buf) - WASP_IPC_HDR_SIZE);
	n = mk(buf, type, WASP_IPC_VERSION, flags, (uint32_t)(WASP_IPC_HDR_SIZE + len), payload,
	       len);
	raw_send(sock, buf, n, fds, nfds);
}

static int
open_null(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void
assert_same_file(int a, int b)
{
	struct stat sa, sb;

	ck_assert_int_eq(fstat(a, &sa), 0);
	ck_assert_int_eq(fstat(b, &sb), 0);
	ck_assert_uint_eq(sa.st_ino, sb.st_ino);
	ck_assert_uint_eq(sa.st_dev, sb.st_dev);
}

static void
send_hello(int sock, enum wasp_ipc_role role)
{
	struct wasp_msg_hello h = {
		.version = WASP_IPC_VERSION,
		.role = (uint32_t)role,
		.pid = (uint32_t)getpid(),
	};

	ck_assert_int_eq(wasp_ipc_send(sock, WASP_MSG_HELLO, 0, 0, &h, sizeof(h), -1), 0);
}

static void
expect_hello(int sock, enum wasp_ipc_role role)
{
	struct wasp_ipc_msg m;
	struct wasp_msg_hello h;

	ck_assert_int_eq(wasp_ipc_recv(sock, rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_HELLO);
	ck_assert_uint_eq(m.len, sizeof(h));
	ck_assert_int_eq(m.fd, -1);
	memcpy(&h, m.payload, sizeof(h));
	ck_assert_uint_eq(h.version, WASP_IPC_VERSION);
	ck_assert_uint_eq(h.role, (uint32_t)role);
	ck_assert_uint_eq(h.pid, (uint32_t)getpid());
}

/* --- send / recv --- */

START_TEST(test_roundtrip_no_fd)
{
	int fds[2];
	struct wasp_msg_ping ping = { .token = 0x1122334455667788ull }, got;
	struct wasp_ipc_msg m;

	pair(fds);
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_PING, 42, WASP_IPC_F_LAST, &ping,
				       sizeof(ping), -1),
			 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.len, WASP_IPC_HDR_SIZE + sizeof(ping));
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_PING);
	ck_assert_uint_eq(m.hdr.version, WASP_IPC_VERSION);
	ck_assert_uint_eq(m.hdr.flags, WASP_IPC_F_LAST);
	ck_assert_uint_eq(m.hdr.seq, 42);
	ck_assert_uint_eq(m.hdr.pid, (uint32_t)getpid());
	ck_assert_uint_eq(m.len, sizeof(ping));
	ck_assert_int_eq(m.fd, -1);
	memcpy(&got, m.payload, sizeof(got));
	ck_assert_uint_eq(got.token, ping.token);

	/* Empty payload; a HAS_FD flag without an fd is not put on the wire. */
	ck_assert_int_eq(wasp_ipc_send(fds[1], WASP_MSG_DRAIN, 0, WASP_IPC_F_HAS_FD, NULL, 0, -1),
			 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[0], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_DRAIN);
	ck_assert_uint_eq(m.hdr.flags, 0);
	ck_assert_uint_eq(m.len, 0);

	/* Nothing left: -EAGAIN; the peer gone: EOF. */
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), -EAGAIN);
	fds[0] = safe_close(fds[0]);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 0);
	close_pair(fds);
}
END_TEST

/* A peer that dies with our message unread: its own messages still come,
 * then EOF (the kernel's one-shot ECONNRESET is not an error here). */
START_TEST(test_recv_after_peer_died)
{
	int fds[2];
	struct wasp_ipc_msg m;

	pair(fds);
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_PING, 1, 0, "12345678", 8, -1), 0);
	ck_assert_int_eq(wasp_ipc_send(fds[1], WASP_MSG_PONG, 2, 0, "87654321", 8, -1), 0);
	fds[1] = safe_close(fds[1]);
	ck_assert_int_eq(wasp_ipc_recv(fds[0], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_PONG);
	ck_assert_uint_eq(m.hdr.seq, 2);
	ck_assert_int_eq(wasp_ipc_recv(fds[0], rbuf, sizeof(rbuf), &m), 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[0], rbuf, sizeof(rbuf), &m), 0);
	close_pair(fds);
}
END_TEST

START_TEST(test_roundtrip_fd)
{
	int fds[2];
	int pipefd[2];
	struct wasp_ipc_msg m;
	const char hi[] = "through the pipe";
	char got[sizeof(hi)];

	pair(fds);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_HANDOFF_CHANNEL, 7, 0, "x", 1, pipefd[1]),
			 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.flags, WASP_IPC_F_HAS_FD);
	ck_assert_uint_eq(m.len, 1);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_int_ne(m.fd, pipefd[1]);
	assert_same_file(m.fd, pipefd[1]);
	ck_assert_int_eq(fcntl(m.fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	/* It really is the pipe's write end. */
	ck_assert_int_eq(write(m.fd, hi, sizeof(hi)), (ssize_t)sizeof(hi));
	ck_assert_int_eq(read(pipefd[0], got, sizeof(got)), (ssize_t)sizeof(got));
	ck_assert_str_eq(got, hi);
	(void)safe_close(m.fd);
	(void)safe_close(pipefd[0]);
	(void)safe_close(pipefd[1]);
	close_pair(fds);
}
END_TEST

/* Take every free descriptor below a limit a few above the highest in use;
 * returns how many (closed by fd_fill_undo). */
static int
fd_fill(int *fill, int max, int above, struct rlimit *ret_old)
{
	struct rlimit low;
	int n = 0;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, ret_old), 0);
	low = *ret_old;
	low.rlim_cur = (rlim_t)above + 4;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int fd; (fd = dup(0)) >= 0;) {
		ck_assert_int_lt(n, max);
		fill[n++] = fd;
	}
	return n;
}

static void
fd_fill_undo(int *fill, int n, const struct rlimit *old)
{
	while (n > 0)
		(void)safe_close(fill[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, old), 0);
}

START_TEST(test_recv_fd_lost)
{
	struct wasp_msg_worker_config wc = { .generation = 1 };
	int fds[2], nul, fill[16], n;
	struct wasp_ipc_msg m;
	struct rlimit old;

	/* out of descriptors, the kernel drops the fd a message carries
	 * (MSG_CTRUNC, none received): the message comes through with fd_lost
	 * for the channel to judge, and nothing leaks */
	pair(fds);
	nul = open_null();
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_WORKER_CONFIG, 3, 0, &wc, sizeof(wc), nul),
			 0);
	(void)safe_close(nul);
	n = fd_fill(fill, (int)ELEMENTSOF(fill), fds[1], &old);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	fd_fill_undo(fill, n, &old);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_WORKER_CONFIG);
	ck_assert_uint_eq(m.hdr.flags, WASP_IPC_F_HAS_FD);
	ck_assert_int_eq(m.fd, -1);
	ck_assert(m.fd_lost);
	ck_assert_uint_eq(m.len, sizeof(wc));
	close_pair(fds);
}
END_TEST

START_TEST(test_max_payload)
{
	int fds[2];
	struct wasp_ipc_msg m;
	uint8_t *big = malloc(WASP_IPC_MAX_PAYLOAD + 1);

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i <= WASP_IPC_MAX_PAYLOAD; i++)
		big[i] = (uint8_t)(i * 7);
	pair(fds);
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_ROUTE_TABLE, 1, 0, big,
				       WASP_IPC_MAX_PAYLOAD + 1, -1),
			 -EMSGSIZE);
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_ROUTE_TABLE, 1, 0, big,
				       WASP_IPC_MAX_PAYLOAD, -1),
			 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.len, WASP_IPC_MAX_MSG);
	ck_assert_uint_eq(m.len, WASP_IPC_MAX_PAYLOAD);
	ck_assert_int_eq(memcmp(m.payload, big, WASP_IPC_MAX_PAYLOAD), 0);
	/* A buffer smaller than the largest message is refused. */
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, WASP_IPC_MAX_MSG - 1, &m), -EINVAL);
	free(big);
	close_pair(fds);
}
END_TEST

START_TEST(test_send_full)
{
	int fds[2];
	uint8_t payload[1024] = { 0 };
	int r, n = 0;
	struct wasp_ipc_msg m;

	pair(fds);
	while ((r = wasp_ipc_send(fds[0], WASP_MSG_PING, 0, 0, payload, sizeof(payload), -1)) == 0)
		n++;
	ck_assert_int_eq(r, -EAGAIN);
	ck_assert_int_gt(n, 0);
	/* Nothing half-sent: every message that was accepted reads back whole. */
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
		ck_assert_uint_eq(m.len, sizeof(payload));
	}
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), -EAGAIN);
	close_pair(fds);
}
END_TEST

START_TEST(test_blocking_pair)
{
	int fds[2];
	struct wasp_ipc_msg m;

	ck_assert_int_eq(wasp_ipc_socketpair_blocking(fds), 0);
	ck_assert_int_eq(fcntl(fds[0], F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(fcntl(fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_WORKER_READY, 3, 0, NULL, 0, -1), 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.seq, 3);
	close_pair(fds);

	ck_assert_int_eq(wasp_ipc_socketpair(fds), 0);
	ck_assert_int_eq(fcntl(fds[1], F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	ck_assert_int_eq(fcntl(fds[1], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close_pair(fds);
}
END_TEST

/* --- malformed input: one loop test per class; each must give -EBADMSG,
 * leave no fd behind, and not stop the next good message from reading --- */

enum bad_case {
	BAD_SHORT_HEADER,
	BAD_LEN_TOO_BIG,
	BAD_LEN_TOO_SMALL,
	BAD_OVERSIZE,
	BAD_OVERSIZE_BIG_BUFFER,
	BAD_VERSION,
	BAD_FD_WITHOUT_FLAG,
	BAD_FLAG_WITHOUT_FD,
	BAD_TWO_FDS,
	BAD_TWO_FDS_NO_FLAG,
	BAD_EMPTY_WITH_FD,
	BAD__COUNT,
};

static void
send_bad(int sock, enum bad_case c)
{
	uint8_t small[64];
	uint8_t payload[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	int two[2];
	int one;
	size_t n;
	uint8_t *big;

	switch (c) {
	case BAD_SHORT_HEADER:
		n = mk(small, WASP_MSG_PING, WASP_IPC_VERSION, 0, 10, NULL, 0);
		raw_send(sock, small, 10, NULL, 0);
		(void)n;
		break;
	case BAD_LEN_TOO_BIG:
		n = mk(small, WASP_MSG_PING, WASP_IPC_VERSION, 0, 16 + 9, payload, 8);
		raw_send(sock, small, n, NULL, 0);
		break;
	case BAD_LEN_TOO_SMALL:
		n = mk(small, WASP_MSG_PING, WASP_IPC_VERSION, 0, 16, payload, 8);
		raw_send(sock, small, n, NULL, 0);
		break;
	case BAD_OVERSIZE:
	case BAD_OVERSIZE_BIG_BUFFER:
		big = calloc(1, WASP_IPC_MAX_MSG + 64);
		ck_assert_ptr_nonnull(big);
		n = mk(big, WASP_MSG_PING, WASP_IPC_VERSION, 0, WASP_IPC_MAX_MSG + 64, NULL, 0);
		raw_send(sock, big, WASP_IPC_MAX_MSG + 64, NULL, 0);
		free(big);
		break;
	case BAD_VERSION:
		n = mk(small, WASP_MSG_PING, WASP_IPC_VERSION + 1, 0, 16 + 8, payload, 8);
		raw_send(sock, small, n, NULL, 0);
		break;
	case BAD_FD_WITHOUT_FLAG:
		one = open_null();
		n = mk(small, WASP_MSG_PING, WASP_IPC_VERSION, 0, 16 + 8, payload, 8);
		raw_send(sock, small, n, &one, 1);
		(void)safe_close(one);
		break;
	case BAD_FLAG_WITHOUT_FD:
		n = mk(small, WASP_MSG_PING, WASP_IPC_VERSION, WASP_IPC_F_HAS_FD, 16 + 8, payload,
		       8);
		raw_send(sock, small, n, NULL, 0);
		break;
	case BAD_TWO_FDS:
	case BAD_TWO_FDS_NO_FLAG:
		two[0] = open_null();
		two[1] = open_null();
		n = mk(small, WASP_MSG_PING, WASP_IPC_VERSION,
		       c == BAD_TWO_FDS ? WASP_IPC_F_HAS_FD : 0, 16 + 8, payload, 8);
		raw_send(sock, small, n, two, 2);
		(void)safe_close(two[0]);
		(void)safe_close(two[1]);
		break;
	case BAD_EMPTY_WITH_FD:
		one = open_null();
		raw_send(sock, small, 0, &one, 1);
		(void)safe_close(one);
		break;
	case BAD__COUNT:
		ck_abort();
	}
}

START_TEST(test_recv_malformed)
{
	int fds[2];
	struct wasp_ipc_msg m = { .fd = -1 };
	uint8_t *buf = rbuf;
	size_t size = sizeof(rbuf);
	int before;

	pair(fds);
	send_bad(fds[0], (enum bad_case)_i);
	/* Every fd that travelled has been closed by the sender by now; the
	 * only references left are in flight, and must not land. */
	before = testutil_count_fds();
	if (_i == BAD_OVERSIZE_BIG_BUFFER) {
		size = 2 * WASP_IPC_MAX_MSG;
		buf = malloc(size);
		ck_assert_ptr_nonnull(buf);
	}
	ck_assert_int_eq(wasp_ipc_recv(fds[1], buf, size, &m), -EBADMSG);
	ck_assert_int_eq(testutil_count_fds(), before);
	if (buf != rbuf)
		free(buf);

	/* The channel's framing is intact: the next message reads fine. */
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_WORKER_READY, 9, 0, NULL, 0, -1), 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_WORKER_READY);
	close_pair(fds);
}
END_TEST

/* --- reader / writer --- */

START_TEST(test_reader_writer_roundtrip)
{
	struct wasp_msg_handback hb = { .conn_id = 7, .data_len = 3 }, got;
	uint8_t buf[64];
	struct wasp_ipc_writer w;
	struct wasp_ipc_reader r;
	const uint8_t *b;

	wasp_ipc_writer_init(&w, buf, sizeof(buf));
	wasp_ipc_put_bytes(&w, &hb, sizeof(hb));
	wasp_ipc_put_bytes(&w, "xyz", 3);
	wasp_ipc_put_bytes(&w, NULL, 0);
	ck_assert(!w.error);
	ck_assert_uint_eq(w.len, sizeof(hb) + 3);

	wasp_ipc_reader_init(&r, buf, w.len);
	memcpy(&got, wasp_ipc_get_bytes(&r, sizeof(got)), sizeof(got));
	ck_assert_uint_eq(got.conn_id, 7);
	ck_assert(!wasp_ipc_reader_done(&r));
	b = wasp_ipc_get_bytes(&r, got.data_len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(memcmp(b, "xyz", 3), 0);
	ck_assert(wasp_ipc_reader_done(&r));

	/* Zero bytes from an empty payload is fine and not NULL. */
	wasp_ipc_reader_init(&r, NULL, 0);
	ck_assert_ptr_nonnull(wasp_ipc_get_bytes(&r, 0));
	ck_assert(wasp_ipc_reader_done(&r));
}
END_TEST

START_TEST(test_reader_truncated)
{
	const uint8_t three[3] = { 1, 2, 3 };
	struct wasp_ipc_reader r;

	wasp_ipc_reader_init(&r, three, sizeof(three));
	ck_assert_ptr_null(wasp_ipc_get_bytes(&r, 4));
	ck_assert(r.error);
	/* The error sticks, even for reads that would fit. */
	ck_assert_ptr_null(wasp_ipc_get_bytes(&r, 1));
	ck_assert_ptr_null(wasp_ipc_get_bytes(&r, 0));
	ck_assert(!wasp_ipc_reader_done(&r));

	/* A length that wraps is not a way past the end. */
	wasp_ipc_reader_init(&r, three, sizeof(three));
	ck_assert_ptr_nonnull(wasp_ipc_get_bytes(&r, 1));
	ck_assert_ptr_null(wasp_ipc_get_bytes(&r, SIZE_MAX));
	ck_assert(r.error);

	/* Leftover bytes: not done. */
	wasp_ipc_reader_init(&r, three, sizeof(three));
	ck_assert_ptr_eq(wasp_ipc_get_bytes(&r, 2), three);
	ck_assert(!r.error);
	ck_assert(!wasp_ipc_reader_done(&r));
}
END_TEST

START_TEST(test_writer_overflow)
{
	uint8_t buf[5];
	struct wasp_ipc_writer w;

	wasp_ipc_writer_init(&w, buf, sizeof(buf));
	wasp_ipc_put_bytes(&w, "abcd", 4);
	ck_assert(!w.error);
	wasp_ipc_put_bytes(&w, "ef", 2);
	ck_assert(w.error);
	ck_assert_uint_eq(w.len, 4);
	/* Sticky: a byte would fit, but the payload is already broken. */
	wasp_ipc_put_bytes(&w, "g", 1);
	ck_assert_uint_eq(w.len, 4);

	wasp_ipc_writer_init(&w, buf, sizeof(buf));
	wasp_ipc_put_bytes(&w, "abcdef", SIZE_MAX);
	ck_assert(w.error);
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

/* --- sealed memfds --- */

START_TEST(test_memfd_sealed)
{
	const char data[] = "{\"generation\": 1}";
	int fd, seals;
	char *got = NULL;
	size_t len = 0;

	fd = wasp_memfd_create_sealed("wasp-test", data, strlen(data));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	seals = fcntl(fd, F_GET_SEALS);
	ck_assert_int_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	/* Sealed means sealed. */
	ck_assert_int_eq(write(fd, "x", 1), -1);
	ck_assert_int_eq(ftruncate(fd, 1), -1);

	ck_assert_int_eq(wasp_memfd_read(fd, 1024, &got, &len), 0);
	ck_assert_uint_eq(len, strlen(data));
	ck_assert_str_eq(got, data);
	free(got);
	got = NULL;
	ck_assert_int_eq(wasp_memfd_read(fd, strlen(data), &got, NULL), 0);
	free(got);
	got = NULL;
	ck_assert_int_eq(wasp_memfd_read(fd, strlen(data) - 1, &got, &len), -EFBIG);
	ck_assert_ptr_null(got);
	(void)safe_close(fd);

	/* Empty is allowed. */
	fd = wasp_memfd_create_sealed("wasp-empty", NULL, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(wasp_memfd_read(fd, 0, &got, &len), 0);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(got, "");
	free(got);
	(void)safe_close(fd);
}
END_TEST

START_TEST(test_memfd_unsealed_rejected)
{
	char *got = NULL;
	size_t len = 7;
	int fd;

	/* No sealing at all. */
	fd = memfd_create("wasp-unsealed", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	ck_assert_int_eq(wasp_memfd_read(fd, 1024, &got, &len), -EPERM);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(len, 7);
	(void)safe_close(fd);

	/* Sealable, but still writable. */
	fd = memfd_create("wasp-half", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	ck_assert_int_eq(wasp_memfd_read(fd, 1024, &got, &len), -EPERM);
	ck_assert_ptr_null(got);
	(void)safe_close(fd);

	/* Not a memfd. */
	fd = open_null();
	ck_assert_int_lt(wasp_memfd_read(fd, 1024, &got, &len), 0);
	ck_assert_ptr_null(got);
	(void)safe_close(fd);
}
END_TEST

START_TEST(test_memfd_over_ipc)
{
	int fds[2];
	struct wasp_ipc_msg m;
	size_t big_len = 3 * WASP_IPC_MAX_MSG;
	char *big = malloc(big_len), *got = NULL;
	size_t len;
	int mfd;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	mfd = wasp_memfd_create_sealed("wasp-config", big, big_len);
	ck_assert_int_ge(mfd, 0);
	pair(fds);
	ck_assert_int_eq(wasp_ipc_send(fds[0], WASP_MSG_WORKER_CONFIG, 1, 0, NULL, 0, mfd), 0);
	(void)safe_close(mfd);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_int_ge(m.fd, 0);
	ck_assert_int_eq(wasp_memfd_read(m.fd, big_len, &got, &len), 0);
	ck_assert_uint_eq(len, big_len);
	ck_assert_int_eq(memcmp(got, big, big_len), 0);
	free(got);
	free(big);
	(void)safe_close(m.fd);
	close_pair(fds);
}
END_TEST

/* --- channel --- */

struct side {
	struct event_base *base;
	struct wasp_ipc_channel *ch;
	int closes;
	int close_err;
	int hellos;
	int pings;
	int pongs;
	int configs;
	uint64_t last_token;
	uint32_t last_seq;
	/* behaviour switches */
	bool free_in_close;
	bool free_in_hello;
	bool free_in_ping;
	int ping_ret; /* returned by the PING handler */
	bool reply_pong;
	int read_dones;
	int pings_at_done[4]; /* s->pings when on_read_done ran, first calls */
};

static void
side_on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct side *s = userdata;

	ck_assert_ptr_eq(ch, s->ch);
	s->closes++;
	s->close_err = err;
	if (s->free_in_close)
		s->ch = wasp_ipc_channel_free(ch);
}

static void
side_on_hello(struct wasp_ipc_channel *ch, const struct wasp_msg_hello *hello, void *userdata)
{
	struct side *s = userdata;

	ck_assert_uint_eq(hello->pid, (uint32_t)getpid());
	ck_assert_int_eq(wasp_ipc_channel_peer_pid(ch), getpid());
	s->hellos++;
	if (s->free_in_hello)
		s->ch = wasp_ipc_channel_free(ch);
}

static int
side_on_ping(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct side *s = userdata;
	struct wasp_msg_ping ping;

	ck_assert_int_eq(msg->fd, -1);
	ck_assert_uint_eq(msg->len, sizeof(ping));
	memcpy(&ping, msg->payload, sizeof(ping));
	s->pings++;
	s->last_token = ping.token;
	s->last_seq = msg->hdr.seq;
	if (s->reply_pong)
		ck_assert_int_eq(wasp_ipc_channel_send(ch, WASP_MSG_PONG, msg->hdr.seq, &ping,
						       sizeof(ping), -1, 0),
				 0);
	if (s->free_in_ping)
		s->ch = wasp_ipc_channel_free(ch);
	return s->ping_ret;
}

static int
side_on_pong(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct side *s = userdata;
	struct wasp_msg_ping ping;

	memcpy(&ping, msg->payload, sizeof(ping));
	s->pongs++;
	s->last_token = ping.token;
	s->last_seq = msg->hdr.seq;
	return 0;
}

static int
side_on_config(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct side *s = userdata;
	_cleanup_free_ char *data = NULL;
	struct wasp_msg_worker_config cfg;
	int r;

	ck_assert_int_ge(msg->fd, 0);
	memcpy(&cfg, msg->payload, sizeof(cfg));
	r = wasp_memfd_read(msg->fd, 1 << 20, &data, NULL);
	(void)safe_close(msg->fd);
	if (r < 0)
		return r;
	ck_assert_str_eq(data, "config-generation");
	ck_assert_uint_eq(cfg.generation, 5);
	s->configs++;
	return 0;
}

static const struct wasp_ipc_handler worker_handlers[] = {
	{ WASP_MSG_PING, side_on_ping },
	{ WASP_MSG_WORKER_CONFIG, side_on_config },
};

static const struct wasp_ipc_handler activator_handlers[] = {
	{ WASP_MSG_PONG, side_on_pong },
};

/* The worker end: speaks WORKER, expects an ACTIVATOR. */
static const struct wasp_ipc_channel_ops worker_ops = {
	.role = WASP_ROLE_WORKER,
	.peer_role = WASP_ROLE_ACTIVATOR,
	.handlers = worker_handlers,
	.n_handlers = ELEMENTSOF(worker_handlers),
	.on_close = side_on_close,
	.on_hello = side_on_hello,
};

static const struct wasp_ipc_channel_ops activator_ops = {
	.role = WASP_ROLE_ACTIVATOR,
	.peer_role = WASP_ROLE_WORKER,
	.handlers = activator_handlers,
	.n_handlers = ELEMENTSOF(activator_handlers),
	.on_close = side_on_close,
	.on_hello = side_on_hello,
};

static void
side_on_read_done(struct wasp_ipc_channel *ch, void *userdata)
{
	struct side *s = userdata;

	ck_assert_ptr_eq(ch, s->ch);
	if (s->read_dones < (int)ELEMENTSOF(s->pings_at_done))
		s->pings_at_done[s->read_dones] = s->pings;
	s->read_dones++;
}

static const struct wasp_ipc_channel_ops worker_batch_ops = {
	.role = WASP_ROLE_WORKER,
	.peer_role = WASP_ROLE_ACTIVATOR,
	.handlers = worker_handlers,
	.n_handlers = ELEMENTSOF(worker_handlers),
	.on_close = side_on_close,
	.on_hello = side_on_hello,
	.on_read_done = side_on_read_done,
};

/* Run the loop until *counter reaches target (a hang fails on Check's timeout). */
static void
run_until(struct event_base *base, const int *counter, int target)
{
	for (int i = 0; *counter < target; i++) {
		ck_assert_int_lt(i, 100000);
		ck_assert_int_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	}
}

/* Run whatever is ready now, without blocking. */
static void
run_pending(struct event_base *base)
{
	for (int i = 0; i < 8; i++)
		(void)event_base_loop(base, EVLOOP_NONBLOCK);
}

static struct wasp_ipc_channel *
side_open(struct side *s, struct event_base *base, int fd, const struct wasp_ipc_channel_ops *ops)
{
	memset(s, 0, sizeof(*s));
	s->base = base;
	s->ch = wasp_ipc_channel_new(base, fd, ops, s);
	ck_assert_ptr_nonnull(s->ch);
	return s->ch;
}

/* A channel on fds[0] for s, its peer fds[1] having said HELLO as the activator. */
static void
side_pair_hello(struct side *s, struct event_base *base, int fds[2],
		const struct wasp_ipc_channel_ops *ops)
{
	pair(fds);
	side_open(s, base, fds[0], ops);
	send_hello(fds[1], WASP_ROLE_ACTIVATOR);
}

/* n PINGs carrying token, written raw on sock. */
static void
send_pings(int sock, int n, uint64_t token)
{
	struct wasp_msg_ping ping = { .token = token };

	for (int i = 0; i < n; i++)
		raw_msg(sock, WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
}

static struct event_base *
base_new(void)
{
	struct event_base *base = event_base_new();

	ck_assert_ptr_nonnull(base);
	return base;
}

START_TEST(test_channel_hello_and_dispatch)
{
	struct event_base *base = base_new();
	struct side act, wrk;
	struct wasp_msg_ping ping = { .token = 77 };
	struct wasp_msg_worker_config cfg = { .generation = 5 };
	struct ucred cred;
	uint32_t seq;
	int fds[2], mfd;

	pair(fds);
	side_open(&act, base, fds[0], &activator_ops);
	side_open(&wrk, base, fds[1], &worker_ops);
	wrk.reply_pong = true;
	ck_assert_int_eq(wasp_ipc_channel_peer_pid(act.ch), 0);
	ck_assert_int_eq(wasp_ipc_channel_fd(act.ch), fds[0]);

	run_until(base, &act.hellos, 1);
	run_until(base, &wrk.hellos, 1);
	ck_assert_int_eq(wasp_ipc_channel_peer_pid(act.ch), getpid());
	ck_assert_int_eq(wasp_ipc_channel_peer_cred(act.ch, &cred), 0);
	ck_assert_int_eq(cred.pid, getpid());
	ck_assert_uint_eq(cred.uid, getuid());
	ck_assert(wasp_ipc_channel_peer_verified(act.ch));
	ck_assert(wasp_ipc_channel_peer_verified(wrk.ch));

	/* Request and reply correlated by seq. */
	seq = wasp_ipc_channel_next_seq(act.ch);
	ck_assert_uint_eq(seq, 1);
	ck_assert_uint_eq(wasp_ipc_channel_next_seq(act.ch), 2);
	ck_assert_int_eq(wasp_ipc_channel_send(act.ch, WASP_MSG_PING, seq, &ping, sizeof(ping), -1,
					       0),
			 0);
	run_until(base, &act.pongs, 1);
	ck_assert_int_eq(wrk.pings, 1);
	ck_assert_uint_eq(act.last_token, 77);
	ck_assert_uint_eq(act.last_seq, seq);

	/* An fd-carrying message; the channel closes its copy (CLOSE_FD). */
	mfd = wasp_memfd_create_sealed("cfg", "config-generation", 17);
	ck_assert_int_ge(mfd, 0);
	ck_assert_int_eq(wasp_ipc_channel_send(act.ch, WASP_MSG_WORKER_CONFIG, 0, &cfg,
					       sizeof(cfg), mfd, WASP_IPC_SEND_CLOSE_FD),
			 0);
	ck_assert_int_eq(fcntl(mfd, F_GETFD), -1);
	run_until(base, &wrk.configs, 1);

	/* Over-long payloads are refused before anything is sent; with
	 * CLOSE_FD the fd is consumed even then. */
	mfd = open_null();
	ck_assert_int_eq(wasp_ipc_channel_send(act.ch, WASP_MSG_PING, 0, rbuf,
					       WASP_IPC_MAX_PAYLOAD + 1, mfd,
					       WASP_IPC_SEND_CLOSE_FD),
			 -EMSGSIZE);
	ck_assert_int_eq(fcntl(mfd, F_GETFD), -1);

	ck_assert_int_eq(act.closes + wrk.closes, 0);
	wasp_ipc_channel_free(act.ch);
	run_until(base, &wrk.closes, 1);
	ck_assert_int_eq(wrk.close_err, 0);
	wasp_ipc_channel_free(wrk.ch);
	ck_assert_ptr_null(wasp_ipc_channel_free(NULL));
	event_base_free(base);
}
END_TEST

/* Messages sent right after creation travel behind our HELLO and are
 * dispatched once the peer's HELLO has been accepted. */
START_TEST(test_channel_send_before_hello)
{
	struct event_base *base = base_new();
	struct side act, wrk;
	struct wasp_msg_ping ping = { .token = 21 };
	int fds[2];

	pair(fds);
	side_open(&act, base, fds[0], &activator_ops);
	side_open(&wrk, base, fds[1], &worker_ops);
	wrk.reply_pong = true;
	for (uint32_t i = 1; i <= 3; i++)
		ck_assert_int_eq(wasp_ipc_channel_send(act.ch, WASP_MSG_PING, i, &ping,
						       sizeof(ping), -1, 0),
				 0);
	run_until(base, &act.pongs, 3);
	ck_assert_int_eq(wrk.hellos, 1);
	ck_assert_int_eq(act.hellos, 1);
	ck_assert_uint_eq(act.last_seq, 3);
	wasp_ipc_channel_free(wrk.ch);
	wasp_ipc_channel_free(act.ch);
	event_base_free(base);
}
END_TEST

START_TEST(test_channel_eof)
{
	struct event_base *base = base_new();
	struct side s;
	int fds[2];

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	/* Our HELLO is the first thing on the wire. */
	expect_hello(fds[1], WASP_ROLE_WORKER);
	send_hello(fds[1], WASP_ROLE_ACTIVATOR);
	run_until(base, &s.hellos, 1);
	fds[1] = safe_close(fds[1]);
	run_until(base, &s.closes, 1);
	ck_assert_int_eq(s.close_err, 0);
	/* After close, sends fail and nothing more is reported. */
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, NULL, 0, -1, 0),
			 -ENOTCONN);
	run_pending(base);
	ck_assert_int_eq(s.closes, 1);
	wasp_ipc_channel_free(s.ch);
	event_base_free(base);
}
END_TEST

/* Peer behaviours that must close the channel, and with which error. */
enum chan_case {
	CH_MSG_BEFORE_HELLO,
	CH_HELLO_WRONG_ROLE,
	CH_HELLO_WRONG_VERSION,
	CH_HDR_WRONG_VERSION_FIRST,
	CH_HELLO_SHORT,
	CH_HELLO_WITH_FD,
	CH_UNKNOWN_TYPE,
	CH_SECOND_HELLO,
	CH_FD_NOT_EXPECTED,
	CH_FD_MISSING,
	CH_PAYLOAD_TOO_SHORT,
	CH_PAYLOAD_TOO_LONG,
	CH_LEN_MISMATCH,
	CH_TWO_FDS,
	CH_HDR_WRONG_VERSION_LATER,
	CH_HANDLER_ERROR,
	CH__COUNT,
};

static const int chan_case_err[CH__COUNT] = {
	[CH_MSG_BEFORE_HELLO] = -EBADMSG,
	[CH_HELLO_WRONG_ROLE] = -EPROTONOSUPPORT,
	[CH_HELLO_WRONG_VERSION] = -EPROTONOSUPPORT,
	[CH_HDR_WRONG_VERSION_FIRST] = -EPROTONOSUPPORT,
	[CH_HELLO_SHORT] = -EBADMSG,
	[CH_HELLO_WITH_FD] = -EBADMSG,
	[CH_UNKNOWN_TYPE] = -EBADMSG,
	[CH_SECOND_HELLO] = -EBADMSG,
	[CH_FD_NOT_EXPECTED] = -EBADMSG,
	[CH_FD_MISSING] = -EBADMSG,
	[CH_PAYLOAD_TOO_SHORT] = -EBADMSG,
	[CH_PAYLOAD_TOO_LONG] = -EBADMSG,
	[CH_LEN_MISMATCH] = -EBADMSG,
	[CH_TWO_FDS] = -EBADMSG,
	[CH_HDR_WRONG_VERSION_LATER] = -EBADMSG,
	[CH_HANDLER_ERROR] = -EPROTO,
};

static void
send_chan_case(int sock, enum chan_case c, struct side *s)
{
	struct wasp_msg_ping ping = { .token = 1 };
	struct wasp_msg_hello h = {
		.version = WASP_IPC_VERSION,
		.role = WASP_ROLE_ACTIVATOR,
		.pid = (uint32_t)getpid(),
	};
	uint8_t buf[64];
	int two[2];
	int one;
	size_t n;

	switch (c) {
	case CH_MSG_BEFORE_HELLO:
		raw_msg(sock, WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
		return;
	case CH_HELLO_WRONG_ROLE:
		h.role = WASP_ROLE_ADAPTER;
		raw_msg(sock, WASP_MSG_HELLO, 0, &h, sizeof(h), NULL, 0);
		return;
	case CH_HELLO_WRONG_VERSION:
		h.version = WASP_IPC_VERSION + 1;
		raw_msg(sock, WASP_MSG_HELLO, 0, &h, sizeof(h), NULL, 0);
		return;
	case CH_HDR_WRONG_VERSION_FIRST:
		n = mk(buf, WASP_MSG_HELLO, WASP_IPC_VERSION + 1, 0, 16 + sizeof(h), &h, sizeof(h));
		raw_send(sock, buf, n, NULL, 0);
		return;
	case CH_HELLO_SHORT:
		raw_msg(sock, WASP_MSG_HELLO, 0, &h, sizeof(h) - 4, NULL, 0);
		return;
	case CH_HELLO_WITH_FD:
		one = open_null();
		raw_msg(sock, WASP_MSG_HELLO, WASP_IPC_F_HAS_FD, &h, sizeof(h), &one, 1);
		(void)safe_close(one);
		return;
	default:
		break;
	}

	/* The rest come after a good HELLO. */
	send_hello(sock, WASP_ROLE_ACTIVATOR);
	switch (c) {
	case CH_UNKNOWN_TYPE:
		raw_msg(sock, WASP_MSG_HANDOFF, 0, &ping, sizeof(ping), NULL, 0);
		break;
	case CH_SECOND_HELLO:
		send_hello(sock, WASP_ROLE_ACTIVATOR);
		break;
	case CH_FD_NOT_EXPECTED:
		one = open_null();
		raw_msg(sock, WASP_MSG_PING, WASP_IPC_F_HAS_FD, &ping, sizeof(ping), &one, 1);
		(void)safe_close(one);
		break;
	case CH_FD_MISSING: {
		struct wasp_msg_worker_config cfg = { 0 };

		raw_msg(sock, WASP_MSG_WORKER_CONFIG, 0, &cfg, sizeof(cfg), NULL, 0);
		break;
	}
	case CH_PAYLOAD_TOO_SHORT:
		raw_msg(sock, WASP_MSG_PING, 0, &ping, sizeof(ping) - 1, NULL, 0);
		break;
	case CH_PAYLOAD_TOO_LONG:
		n = mk(buf, WASP_MSG_PING, WASP_IPC_VERSION, 0, 16 + 9, &ping, sizeof(ping));
		buf[n++] = 0;
		raw_send(sock, buf, n, NULL, 0);
		break;
	case CH_LEN_MISMATCH:
		n = mk(buf, WASP_MSG_PING, WASP_IPC_VERSION, 0, 16 + 4, &ping, sizeof(ping));
		raw_send(sock, buf, n, NULL, 0);
		break;
	case CH_TWO_FDS:
		two[0] = open_null();
		two[1] = open_null();
		raw_msg(sock, WASP_MSG_PING, WASP_IPC_F_HAS_FD, &ping, sizeof(ping), two, 2);
		(void)safe_close(two[0]);
		(void)safe_close(two[1]);
		break;
	case CH_HDR_WRONG_VERSION_LATER:
		n = mk(buf, WASP_MSG_PING, WASP_IPC_VERSION + 1, 0, 16 + sizeof(ping), &ping,
		       sizeof(ping));
		raw_send(sock, buf, n, NULL, 0);
		break;
	case CH_HANDLER_ERROR:
		s->ping_ret = -EPROTO;
		raw_msg(sock, WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
		break;
	default:
		ck_abort();
	}
	/* Anything after the bad message must never be dispatched. */
	raw_msg(sock, WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
}

START_TEST(test_channel_protocol_errors)
{
	struct event_base *base = base_new();
	struct side s;
	int fds[2];

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	send_chan_case(fds[1], (enum chan_case)_i, &s);
	run_until(base, &s.closes, 1);
	ck_assert_int_eq(s.close_err, chan_case_err[_i]);
	ck_assert_int_eq(s.pings, _i == CH_HANDLER_ERROR ? 1 : 0);
	ck_assert_int_eq(s.hellos, _i < CH_UNKNOWN_TYPE ? 0 : 1);

	/* More from the peer, then EOF: still exactly one close. */
	raw_msg(fds[1], WASP_MSG_PING, 0, rbuf, sizeof(struct wasp_msg_ping), NULL, 0);
	fds[1] = safe_close(fds[1]);
	run_pending(base);
	ck_assert_int_eq(s.closes, 1);
	ck_assert_int_eq(s.pings, _i == CH_HANDLER_ERROR ? 1 : 0);
	wasp_ipc_channel_free(s.ch);
	event_base_free(base);
}
END_TEST

/* The owner frees the channel inside on_close: after EOF, and after a
 * protocol error with more messages still queued in the socket. */
START_TEST(test_channel_fd_lost)
{
	struct event_base *base = base_new();
	struct wasp_msg_worker_config wc = { .generation = 5 };
	int fds[2], nul, fill[16], n;
	struct rlimit old;
	struct side s;

	/* a channel that does not say fd_may_be_lost takes a message whose fd
	 * was dropped for a protocol error (the handler needs its fd) */
	side_pair_hello(&s, base, fds, &worker_ops);
	run_until(base, &s.hellos, 1);
	nul = open_null();
	raw_msg(fds[1], WASP_MSG_WORKER_CONFIG, WASP_IPC_F_HAS_FD, &wc, sizeof(wc), &nul, 1);
	(void)safe_close(nul);
	n = fd_fill(fill, (int)ELEMENTSOF(fill), fds[1] > fds[0] ? fds[1] : fds[0], &old);
	run_until(base, &s.closes, 1);
	fd_fill_undo(fill, n, &old);
	ck_assert_int_eq(s.close_err, -EBADMSG);
	ck_assert_int_eq(s.configs, 0);
	s.ch = wasp_ipc_channel_free(s.ch);
	(void)safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

/* --- the message table's contracts, checked by the channel --- */

/* Free the channel of s, its peer's end and the event base. */
static void
side_close(struct side *s, int peer, struct event_base *base)
{
	s->ch = wasp_ipc_channel_free(s->ch);
	(void)safe_close(peer);
	event_base_free(base);
}

static int contract_dispatched;

/* Takes anything: what reaches it got past the channel's central checks. */
static int
contract_on_any(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	(void)safe_close(msg->fd);
	contract_dispatched++;
	return 0;
}

static const struct wasp_ipc_handler contract_handlers[] = {
	{ WASP_MSG_PING, contract_on_any },          /* FIXED, no fd */
	{ WASP_MSG_WORKER_CONFIG, contract_on_any }, /* FIXED, fd required */
	{ WASP_MSG_DRAIN, contract_on_any },         /* EMPTY */
	{ WASP_MSG_HANDOFF, contract_on_any },       /* VAR, fd required */
	{ WASP_MSG_HANDOFF_ACK, contract_on_any },   /* ARRAY */
};

static const struct wasp_ipc_channel_ops contract_ops = {
	.role = WASP_ROLE_WORKER,
	.peer_role = WASP_ROLE_ACTIVATOR,
	.handlers = contract_handlers,
	.n_handlers = ELEMENTSOF(contract_handlers),
	.on_close = side_on_close,
};

enum {
	CONTRACT_SHORT,         /* PING, 4 of its 8 bytes */
	CONTRACT_LONG,          /* PING and 4 bytes more */
	CONTRACT_FD_MISSING,    /* WORKER_CONFIG without its memfd */
	CONTRACT_FD_UNWANTED,   /* PING with an fd */
	CONTRACT_EMPTY_PAYLOAD, /* DRAIN with a byte */
	CONTRACT_VAR_SHORT,     /* HANDOFF shorter than its struct */
	CONTRACT_ARRAY_PART,    /* HANDOFF_ACK with one and a half refs */
	CONTRACT_UNKNOWN,       /* a type the table does not have */
	CONTRACT_UNHANDLED,     /* in the table, not taken by this receiver */
	CONTRACT__COUNT,
};

/* One message that breaks its contract cuts the peer off before any handler
 * sees it (and the good message after it is never read); an fd it carried
 * is closed, not leaked. */
START_TEST(test_channel_contract)
{
	struct event_base *base = base_new();
	uint8_t payload[sizeof(struct wasp_msg_handoff) + 8] = { 0 };
	uint16_t type = WASP_MSG_PING;
	size_t len = sizeof(struct wasp_msg_ping);
	int fds[2], fd = -1, before;
	struct side s;

	before = testutil_count_fds();
	switch (_i) {
	case CONTRACT_SHORT:
		len = 4;
		break;
	case CONTRACT_LONG:
		len += 4;
		break;
	case CONTRACT_FD_MISSING:
		type = WASP_MSG_WORKER_CONFIG;
		len = sizeof(struct wasp_msg_worker_config);
		break;
	case CONTRACT_FD_UNWANTED:
		fd = open_null();
		break;
	case CONTRACT_EMPTY_PAYLOAD:
		type = WASP_MSG_DRAIN;
		len = 1;
		break;
	case CONTRACT_VAR_SHORT:
		type = WASP_MSG_HANDOFF;
		len = sizeof(struct wasp_msg_handoff) - 1;
		fd = open_null();
		break;
	case CONTRACT_ARRAY_PART:
		type = WASP_MSG_HANDOFF_ACK;
		len = sizeof(struct wasp_msg_conn_ref) * 3 / 2;
		break;
	case CONTRACT_UNKNOWN:
		type = 999;
		ck_assert_ptr_null(wasp_msg_contract(type));
		break;
	case CONTRACT_UNHANDLED:
		type = WASP_MSG_PONG;
		ck_assert_ptr_nonnull(wasp_msg_contract(type));
		break;
	}
	contract_dispatched = 0;
	side_pair_hello(&s, base, fds, &contract_ops);
	raw_msg(fds[1], type, fd >= 0 ? WASP_IPC_F_HAS_FD : 0, payload, len, fd >= 0 ? &fd : NULL,
		fd >= 0 ? 1 : 0);
	fd = safe_close(fd);
	send_pings(fds[1], 1, 7);
	/* until it is cut off, or (without the check) both were dispatched */
	for (int i = 0; s.closes == 0 && contract_dispatched < 2; i++) {
		ck_assert_int_lt(i, 100000);
		ck_assert_int_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	}
	ck_assert_int_eq(contract_dispatched, 0);
	ck_assert_int_eq(s.closes, 1);
	ck_assert_int_eq(s.close_err, -EBADMSG);
	s.ch = wasp_ipc_channel_free(s.ch);
	(void)safe_close(fds[1]);
	/* the fd that came with the bad message went with the channel */
	ck_assert_int_eq(testutil_count_fds(), before);
	event_base_free(base);
}
END_TEST

/* What keeps its row reaches the handler: the limits of each shape. */
START_TEST(test_channel_contract_kept)
{
	struct event_base *base = base_new();
	uint8_t payload[sizeof(struct wasp_msg_handoff) + 8] = { 0 };
	struct wasp_msg_conn_ref refs[2] = { { .conn_id = 1 }, { .conn_id = 2 } };
	int fds[2], nul = open_null();
	struct side s;

	contract_dispatched = 0;
	side_pair_hello(&s, base, fds, &contract_ops);
	send_pings(fds[1], 1, 7);
	raw_msg(fds[1], WASP_MSG_WORKER_CONFIG, WASP_IPC_F_HAS_FD, payload,
		sizeof(struct wasp_msg_worker_config), &nul, 1);
	raw_msg(fds[1], WASP_MSG_DRAIN, 0, NULL, 0, NULL, 0);
	raw_msg(fds[1], WASP_MSG_HANDOFF, WASP_IPC_F_HAS_FD, payload,
		sizeof(struct wasp_msg_handoff), &nul, 1);
	raw_msg(fds[1], WASP_MSG_HANDOFF, WASP_IPC_F_HAS_FD, payload, sizeof(payload), &nul, 1);
	raw_msg(fds[1], WASP_MSG_HANDOFF_ACK, 0, refs, sizeof(refs[0]), NULL, 0);
	raw_msg(fds[1], WASP_MSG_HANDOFF_ACK, 0, refs, sizeof(refs), NULL, 0);
	(void)safe_close(nul);
	run_until(base, &contract_dispatched, 7);
	ck_assert_int_eq(s.closes, 0);
	side_close(&s, fds[1], base);
}
END_TEST

/* The sending side refuses what the peer would cut it off for, and stays
 * open; an fd it was given to own is closed. */
START_TEST(test_channel_send_contract)
{
	struct event_base *base = base_new();
	struct wasp_msg_ping ping = { .token = 3 };
	struct wasp_msg_worker_config wc = { 0 };
	struct wasp_ipc_msg m;
	int fds[2], fd;
	struct side s;

	pair(fds);
	side_open(&s, base, fds[0], &activator_ops);
	expect_hello(fds[1], WASP_ROLE_ACTIVATOR);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PING, 0, &ping, 4, -1, 0), -EINVAL);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_DRAIN, 0, &ping, 1, -1, 0), -EINVAL);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_WORKER_CONFIG, 0, &wc, sizeof(wc), -1,
					       0),
			 -EINVAL);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, 999, 0, NULL, 0, -1, 0), -EINVAL);
	fd = open_null();
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PING, 0, &ping, sizeof(ping), fd,
					       WASP_IPC_SEND_CLOSE_FD),
			 -EINVAL);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	/* nothing went out, and the channel still sends */
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), -EAGAIN);
	ck_assert_int_eq(wasp_send_ping(s.ch, 5, &ping), 0);
	ck_assert_int_eq(wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m), 1);
	ck_assert_uint_eq(m.hdr.type, WASP_MSG_PING);
	ck_assert_uint_eq(m.hdr.seq, 5);
	ck_assert_int_eq(s.closes, 0);
	side_close(&s, fds[1], base);
}
END_TEST

/* The table itself: the enum, the rows and the payload sizes agree. */
START_TEST(test_msg_table)
{
	const struct wasp_msg_contract *c;

	c = wasp_msg_contract(WASP_MSG_HANDOFF);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->name, "HANDOFF");
	ck_assert_uint_eq(c->type, 400);
	ck_assert_uint_eq(c->shape, WASP_MSG_SHAPE_VAR);
	ck_assert_uint_eq(c->fd, WASP_MSG_FD_REQUIRED);
	ck_assert_uint_eq(c->size, sizeof(struct wasp_msg_handoff));
	c = wasp_msg_contract(WASP_MSG_ROUTE_TABLE);
	ck_assert_uint_eq(c->size, sizeof(uint32_t));
	ck_assert_int_eq(wasp_msg_check(c, 4, true), 0);
	ck_assert_int_eq(wasp_msg_check(c, 4, false), -EBADMSG);
	ck_assert_int_eq(wasp_msg_check(c, 8, true), -EBADMSG);
	c = wasp_msg_contract(WASP_MSG_WORKER_READY);
	ck_assert_uint_eq(c->shape, WASP_MSG_SHAPE_EMPTY);
	ck_assert_int_eq(wasp_msg_check(c, 0, false), 0);
	ck_assert_ptr_null(wasp_msg_contract(0));
	ck_assert_ptr_null(wasp_msg_contract(100));
}
END_TEST

START_TEST(test_channel_free_in_close)
{
	struct event_base *base = base_new();
	struct side s;
	int fds[2];

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	s.free_in_close = true;
	send_hello(fds[1], WASP_ROLE_ACTIVATOR);
	fds[1] = safe_close(fds[1]);
	run_until(base, &s.closes, 1);
	ck_assert_ptr_null(s.ch);
	run_pending(base);
	ck_assert_int_eq(s.closes, 1);

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	s.free_in_close = true;
	send_hello(fds[1], WASP_ROLE_ACTIVATOR);
	raw_msg(fds[1], WASP_MSG_HANDOFF, 0, NULL, 0, NULL, 0); /* unknown here */
	send_pings(fds[1], 10, 3);
	run_until(base, &s.closes, 1);
	ck_assert_int_eq(s.close_err, -EBADMSG);
	ck_assert_ptr_null(s.ch);
	ck_assert_int_eq(s.pings, 0);
	run_pending(base);
	fds[1] = safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

/* The owner frees the channel inside a handler: no more dispatch, no
 * on_close (the owner already knows), nothing touched afterwards. */
START_TEST(test_channel_free_in_handler)
{
	struct event_base *base = base_new();
	struct side s;
	struct wasp_msg_ping ping = { .token = 5 };
	int fds[2], one;

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	s.free_in_ping = true;
	s.ping_ret = _i ? -EPROTO : 0; /* returning an error after free changes nothing */
	send_hello(fds[1], WASP_ROLE_ACTIVATOR);
	send_pings(fds[1], 5, 5);
	/* An fd still in flight when the socket is closed must not leak. */
	one = open_null();
	raw_msg(fds[1], WASP_MSG_PING, WASP_IPC_F_HAS_FD, &ping, sizeof(ping), &one, 1);
	(void)safe_close(one);
	run_until(base, &s.pings, 1);
	ck_assert_ptr_null(s.ch);
	run_pending(base);
	ck_assert_int_eq(s.pings, 1);
	ck_assert_int_eq(s.closes, 0);
	fds[1] = safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

START_TEST(test_channel_free_in_hello)
{
	struct event_base *base = base_new();
	struct side s;
	struct wasp_msg_ping ping = { .token = 5 };
	int fds[2];

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	s.free_in_hello = true;
	send_hello(fds[1], WASP_ROLE_ACTIVATOR);
	raw_msg(fds[1], WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
	run_until(base, &s.hellos, 1);
	ck_assert_ptr_null(s.ch);
	run_pending(base);
	ck_assert_int_eq(s.pings, 0);
	ck_assert_int_eq(s.closes, 0);
	fds[1] = safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

/* A peer that does not read: the queue takes the excess, up to
 * WASP_IPC_MAX_QUEUE, then the channel is cut off with -ENOBUFS from the
 * loop (never inside the send). */
START_TEST(test_channel_queue_overflow)
{
	struct event_base *base = base_new();
	struct side s;
	struct wasp_msg_ping ping = { .token = 9 };
	size_t sent_direct = 0;
	int fds[2], r;

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	s.free_in_close = _i; /* 1: the owner frees the channel inside on_close */
	while (wasp_ipc_channel_queued(s.ch) == 0) {
		ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, &ping, sizeof(ping),
						       -1, 0),
				 0);
		sent_direct++;
	}
	ck_assert_uint_gt(sent_direct, 1);
	while (wasp_ipc_channel_queued(s.ch) < WASP_IPC_MAX_QUEUE)
		ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, &ping, sizeof(ping),
						       -1, 0),
				 0);
	/* The loop runs meanwhile: the peer still reads nothing, nothing moves. */
	run_pending(base);
	ck_assert_uint_eq(wasp_ipc_channel_queued(s.ch), WASP_IPC_MAX_QUEUE);
	ck_assert_int_eq(s.closes, 0);

	r = wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, &ping, sizeof(ping), -1, 0);
	ck_assert_int_eq(r, -ENOBUFS);
	ck_assert_int_eq(s.closes, 0);
	ck_assert_uint_eq(wasp_ipc_channel_queued(s.ch), 0);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, &ping, sizeof(ping), -1, 0),
			 -ENOTCONN);
	run_until(base, &s.closes, 1);
	ck_assert_int_eq(s.close_err, -ENOBUFS);
	ck_assert(_i ? s.ch == NULL : s.ch != NULL);
	run_pending(base);
	ck_assert_int_eq(s.closes, 1);
	wasp_ipc_channel_free(s.ch);
	fds[1] = safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

/* Backpressure with fds: queued fds are the queue's (dup'ed or taken with
 * CLOSE_FD), arrive in order once the peer reads, and are closed once on
 * the wire. */
START_TEST(test_channel_queue_fds)
{
	struct event_base *base = base_new();
	struct side s;
	struct wasp_msg_ping ping = { .token = 0 };
	struct wasp_ipc_msg m;
	uint32_t seq = 0, expect = 0;
	int fds[2], keep, give, base_fds, got_fds = 0, r;

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	expect_hello(fds[1], WASP_ROLE_WORKER);
	while (wasp_ipc_channel_queued(s.ch) == 0)
		ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, ++seq, &ping,
						       sizeof(ping), -1, 0),
				 0);

	keep = open_null();
	give = open_null();
	base_fds = testutil_count_fds();
	/* Without CLOSE_FD the queue holds a dup; with it, the fd itself. */
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_HANDOFF_CHANNEL, ++seq, &ping,
					       sizeof(ping), keep, 0),
			 0);
	ck_assert_int_eq(testutil_count_fds(), base_fds + 1);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_HANDOFF_CHANNEL, ++seq, &ping,
					       sizeof(ping), give, WASP_IPC_SEND_CLOSE_FD),
			 0);
	ck_assert_int_eq(testutil_count_fds(), base_fds + 1);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, ++seq, &ping, sizeof(ping),
					       -1, WASP_IPC_F_LAST),
			 0);
	ck_assert_uint_eq(wasp_ipc_channel_queued(s.ch), 4);

	/* Drain: the peer reads what is there, the loop writes more. */
	while (expect < seq) {
		while ((r = wasp_ipc_recv(fds[1], rbuf, sizeof(rbuf), &m)) == 1) {
			ck_assert_uint_eq(m.hdr.type,
					  m.fd >= 0 ? WASP_MSG_HANDOFF_CHANNEL : WASP_MSG_PONG);
			ck_assert_uint_eq(m.hdr.seq, ++expect);
			if (m.fd >= 0) {
				assert_same_file(m.fd, keep);
				(void)safe_close(m.fd);
				got_fds++;
			}
			if (m.hdr.seq == seq)
				ck_assert_uint_eq(m.hdr.flags, WASP_IPC_F_LAST);
		}
		ck_assert_int_eq(r, -EAGAIN);
		if (expect < seq)
			ck_assert_int_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	}
	ck_assert_int_eq(got_fds, 2);
	ck_assert_uint_eq(wasp_ipc_channel_queued(s.ch), 0);
	/* Both queue copies are closed; the caller's own fd is untouched. */
	ck_assert_int_eq(testutil_count_fds(), base_fds - 1);
	ck_assert_int_ge(fcntl(keep, F_GETFD), 0);
	(void)safe_close(keep);

	/* Write interest is off again: the loop has nothing to do. */
	ck_assert_int_eq(event_base_loop(base, EVLOOP_NONBLOCK), 0);
	ck_assert_int_eq(s.closes, 0);
	wasp_ipc_channel_free(s.ch);
	fds[1] = safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

/* Freeing a channel with fds still queued closes them (checked by the
 * fixture). */
START_TEST(test_channel_free_with_queue)
{
	struct event_base *base = base_new();
	struct side s;
	struct wasp_msg_ping ping = { .token = 0 };
	int fds[2], fd;

	pair(fds);
	side_open(&s, base, fds[0], &worker_ops);
	while (wasp_ipc_channel_queued(s.ch) == 0)
		ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, &ping, sizeof(ping),
						       -1, 0),
				 0);
	for (int i = 0; i < 3; i++) {
		fd = open_null();
		ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_HANDOFF_CHANNEL, 0, &ping,
						       sizeof(ping), fd, WASP_IPC_SEND_CLOSE_FD),
				 0);
	}
	fd = open_null();
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_HANDOFF_CHANNEL, 0, &ping,
					       sizeof(ping), fd, 0),
			 0);
	(void)safe_close(fd);
	ck_assert_uint_eq(wasp_ipc_channel_queued(s.ch), 5);
	wasp_ipc_channel_free(s.ch);
	fds[1] = safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

/* The peer went away while we still send: the sends fail with -EPIPE and
 * what the peer sent before it went is still dispatched before on_close(0). */
START_TEST(test_channel_peer_gone)
{
	struct event_base *base = base_new();
	struct side s;
	struct wasp_msg_ping ping = { .token = 11 };
	int fds[2], r;

	side_pair_hello(&s, base, fds, &worker_ops);
	raw_msg(fds[1], WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
	fds[1] = safe_close(fds[1]);
	/* -ECONNRESET when the peer left our HELLO unread, else -EPIPE. */
	r = wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, &ping, sizeof(ping), -1, 0);
	ck_assert(r == -EPIPE || r == -ECONNRESET);
	ck_assert_int_eq(wasp_ipc_channel_send(s.ch, WASP_MSG_PONG, 0, &ping, sizeof(ping), -1, 0),
			 -EPIPE);
	run_until(base, &s.closes, 1);
	ck_assert_int_eq(s.pings, 1);
	ck_assert_uint_eq(s.last_token, 11);
	ck_assert_int_eq(s.close_err, 0);
	wasp_ipc_channel_free(s.ch);
	event_base_free(base);
}
END_TEST

/* The peer sends, then dies without reading what we sent it (the kernel
 * then reports ECONNRESET once): its last messages still reach the
 * handlers, and the close is a plain EOF. */
START_TEST(test_channel_peer_died_unread)
{
	struct event_base *base = base_new();
	struct side s;
	struct wasp_msg_ping ping = { .token = 12 };
	int fds[2];

	side_pair_hello(&s, base, fds, &worker_ops);
	raw_msg(fds[1], WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
	raw_msg(fds[1], WASP_MSG_PING, 0, &ping, sizeof(ping), NULL, 0);
	fds[1] = safe_close(fds[1]);
	run_until(base, &s.closes, 1);
	ck_assert_int_eq(s.hellos, 1);
	ck_assert_int_eq(s.pings, 2);
	ck_assert_int_eq(s.close_err, 0);
	wasp_ipc_channel_free(s.ch);
	event_base_free(base);
}
END_TEST

/* One wakeup reads a bounded batch, so one peer cannot starve the others. */
START_TEST(test_channel_read_batch)
{
	struct event_base *base = base_new();
	struct side s;
	int fds[2];

	side_pair_hello(&s, base, fds, &worker_ops);
	send_pings(fds[1], 100, 1);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(s.hellos, 1);
	ck_assert_int_eq(s.pings, 63);
	run_until(base, &s.pings, 100);
	ck_assert_int_eq(s.closes, 0);
	wasp_ipc_channel_free(s.ch);
	fds[1] = safe_close(fds[1]);
	event_base_free(base);
}
END_TEST

START_TEST(test_channel_read_done)
{
	struct event_base *base = base_new();
	struct side s;
	int fds[2];

	/* once per wakeup, after the batch was dispatched: 3 then 2 PINGs */
	side_pair_hello(&s, base, fds, &worker_batch_ops);
	send_pings(fds[1], 3, 1);
	ck_assert_int_eq(event_base_loop(base, EVLOOP_ONCE), 0);
	ck_assert_int_eq(s.pings, 3);
	ck_assert_int_eq(s.read_dones, 1);
	ck_assert_int_eq(s.pings_at_done[0], 3);
	send_pings(fds[1], 2, 1);
	run_until(base, &s.read_dones, 2);
	ck_assert_int_eq(s.pings_at_done[1], 5);
	/* not after a batch that closed the channel */
	fds[1] = safe_close(fds[1]);
	run_until(base, &s.closes, 1);
	ck_assert_int_eq(s.read_dones, 2);
	wasp_ipc_channel_free(s.ch);
	event_base_free(base);
}
END_TEST

static Suite *
ipc_suite(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc;

	tc = tcase_create("send_recv");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_roundtrip_no_fd);
	tcase_add_test(tc, test_recv_after_peer_died);
	tcase_add_test(tc, test_roundtrip_fd);
	tcase_add_test(tc, test_recv_fd_lost);
	tcase_add_test(tc, test_max_payload);
	tcase_add_test(tc, test_send_full);
	tcase_add_test(tc, test_blocking_pair);
	tcase_add_loop_test(tc, test_recv_malformed, 0, BAD__COUNT);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader_writer");
	tcase_add_test(tc, test_reader_writer_roundtrip);
	tcase_add_test(tc, test_reader_truncated);
	tcase_add_test(tc, test_writer_overflow);
	suite_add_tcase(s, tc);

	tc = tcase_create("memfd");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_memfd_sealed);
	tcase_add_test(tc, test_memfd_unsealed_rejected);
	tcase_add_test(tc, test_memfd_over_ipc);
	suite_add_tcase(s, tc);

	tc = tcase_create("channel");
	tcase_add_checked_fixture(tc, testutil_fd_setup, testutil_fd_teardown);
	tcase_add_test(tc, test_channel_hello_and_dispatch);
	tcase_add_test(tc, test_channel_send_before_hello);
	tcase_add_test(tc, test_channel_eof);
	tcase_add_loop_test(tc, test_channel_protocol_errors, 0, CH__COUNT);
	tcase_add_test(tc, test_channel_fd_lost);
	tcase_add_loop_test(tc, test_channel_contract, 0, CONTRACT__COUNT);
	tcase_add_test(tc, test_channel_contract_kept);
	tcase_add_test(tc, test_channel_send_contract);
	tcase_add_test(tc, test_msg_table);
	tcase_add_test(tc, test_channel_free_in_close);
	tcase_add_loop_test(tc, test_channel_free_in_handler, 0, 2);
	tcase_add_test(tc, test_channel_free_in_hello);
	tcase_add_loop_test(tc, test_channel_queue_overflow, 0, 2);
	tcase_add_test(tc, test_channel_queue_fds);
	tcase_add_test(tc, test_channel_free_with_queue);
	tcase_add_test(tc, test_channel_peer_gone);
	tcase_add_test(tc, test_channel_peer_died_unread);
	tcase_add_test(tc, test_channel_read_batch);
	tcase_add_test(tc, test_channel_read_done);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return testutil_run(ipc_suite());
}
