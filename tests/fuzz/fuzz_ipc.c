/* libFuzzer target for common/ipc.c: wasp_ipc_recv over a real socketpair,
 * the checked reader and writer over every received payload, sealed memfd
 * reading, and a libevent channel (HELLO rule, handler table, replies, fd
 * passing, output queue, freeing from callbacks) fed the input as its peer's
 * messages.
 *
 * Input: one flags byte, then records, each
 *   ctl (u8), len (u16 little-endian), len bytes (cut at the input's end).
 * ctl bits 0-1: how many fds travel with the record (0-3);
 *      bit 2: fix the header up (pad to 16 bytes, len field = record size,
 *             version = WASP_IPC_VERSION) so the fuzzer gets past framing;
 *      bit 3: with bit 2, set WASP_IPC_F_HAS_FD to match "exactly one fd";
 *      bits 4-5: fd kind: /dev/null, sealed memfd holding the record's
 *             payload, unsealed memfd, a socket;
 *      bit 6: (channel) run the event loop after this record.
 * flags bit 0: send a valid HELLO before the records (channel);
 *      bits 1-2: the peer role the channel expects (adapter, worker,
 *             control, activator);
 *      bit 3: close the peer end after the records (the channel sees EOF);
 *      bit 4: free the channel inside on_close;
 *      bit 5: skip the channel part (recv and readers only);
 *      bit 6: with bit 3, close the peer end entirely (the channel's
 *             replies then fail with EPIPE while the peer's last messages
 *             are still to be read).
 *
 * Every record is first received with wasp_ipc_recv, whose result must be
 * what the documented rules predict from the bytes and fds sent; then the
 * same records go to a channel. Any fd left open after an input aborts. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/event.h>

#include "fuzz_check.h"
#include "ipc.h"
#include "log.h"
#include "memfd.h"
#include "msg.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORD (WASP_IPC_MAX_MSG + 64)
#define MAX_FDS 3

static struct event_base *base;
static uint8_t rbuf[WASP_IPC_MAX_MSG];
static uint8_t record[MAX_RECORD];

/* --- helpers --- */

/* Name every open fd (for an fd leak report). */
static void
list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	CHECK(d);
	while ((de = readdir(d))) {
		char path[300], target[256];
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		(void)snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", de->d_name, target);
	}
	(void)closedir(d);
}

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t
in_u8(struct input *in)
{
	uint8_t v;

	if (in->left == 0)
		return 0;
	v = *in->p++;
	in->left--;
	return v;
}

static uint16_t
in_u16(struct input *in)
{
	uint16_t lo = in_u8(in);

	return (uint16_t)(lo | (uint16_t)(in_u8(in) << 8));
}

struct rec {
	uint8_t ctl;
	const uint8_t *data;
	size_t len;
};

static bool
next_record(struct input *in, struct rec *r)
{
	size_t n;

	if (in->left == 0)
		return false;
	r->ctl = in_u8(in);
	n = in_u16(in);
	if (n > in->left)
		n = in->left;
	r->data = in->p;
	r->len = n;
	in->p += n;
	in->left -= n;
	return true;
}

static unsigned
rec_nfds(const struct rec *r)
{
	return r->ctl & 3;
}

/* The bytes sent for a record, into record[]; returns their length. */
static size_t
build_record(const struct rec *r)
{
	size_t n = r->len;
	struct wasp_ipc_hdr h;

	memcpy(record, r->data, n);
	if (!(r->ctl & 0x04))
		return n;
	if (n < WASP_IPC_HDR_SIZE) {
		memset(record + n, 0, WASP_IPC_HDR_SIZE - n);
		n = WASP_IPC_HDR_SIZE;
	}
	memcpy(&h, record, sizeof(h));
	h.len = (uint32_t)n;
	h.version = WASP_IPC_VERSION;
	if (r->ctl & 0x08) {
		if (rec_nfds(r) == 1)
			h.flags |= WASP_IPC_F_HAS_FD;
		else
			h.flags &= (uint8_t)~WASP_IPC_F_HAS_FD;
	}
	memcpy(record, &h, sizeof(h));
	return n;
}

/* One fd of the record's kind, or -1 (resource trouble: the caller sends
 * fewer fds and predicts accordingly). */
static int
make_fd(const struct rec *r, const void *payload, size_t len)
{
	int fds[2];
	int fd;

	switch ((r->ctl >> 4) & 3) {
	case 0:
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	case 1:
		fd = wasp_memfd_create_sealed("fuzz", payload, len);
		return fd < 0 ? -1 : fd;
	case 2:
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd >= 0 && len > 0 && write(fd, payload, len) != (ssize_t)len)
			fd = safe_close(fd);
		return fd;
	default:
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
			return -1;
		(void)safe_close(fds[1]);
		return fds[0];
	}
}

/* Send record[0..len) with the record's fds (our copies are closed after).
 * Returns the number of fds sent, or -errno from sendmsg. */
static int
send_record(int sock, const struct rec *r, size_t len)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
	} control;
	struct iovec iov = { .iov_base = record, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int fds[MAX_FDS];
	size_t payload_len = len > WASP_IPC_HDR_SIZE ? len - WASP_IPC_HDR_SIZE : 0;
	unsigned n = 0;
	ssize_t w;
	int ret;

	for (unsigned i = 0; i < rec_nfds(r); i++) {
		int fd = make_fd(r, record + WASP_IPC_HDR_SIZE, payload_len);

		if (fd >= 0)
			fds[n++] = fd;
	}
	if (n > 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		mh.msg_control = &control;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	w = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	ret = w < 0 ? -errno : (int)n;
	for (unsigned i = 0; i < n; i++)
		(void)safe_close(fds[i]);
	return ret;
}

/* What wasp_ipc_recv must return for a record of len bytes with nfds fds. */
static int
predict_recv(size_t len, unsigned nfds)
{
	struct wasp_ipc_hdr h;

	if (nfds > 1)
		return -EBADMSG;
	if (len == 0)
		return nfds ? -EBADMSG : 0;
	if (len < WASP_IPC_HDR_SIZE || len > WASP_IPC_MAX_MSG)
		return -EBADMSG;
	memcpy(&h, record, sizeof(h));
	if (h.version != WASP_IPC_VERSION || h.len != len)
		return -EBADMSG;
	if (!!(h.flags & WASP_IPC_F_HAS_FD) != (nfds == 1))
		return -EBADMSG;
	return 1;
}

/* --- reader and writer --- */

/* Run reader gets of sizes chosen by the payload's own bytes, checking each
 * result against a shadow cursor; write everything read back with a writer
 * and check it reproduces the bytes consumed. */
static void
exercise_reader(const uint8_t *payload, size_t len)
{
	static const size_t mult[8] = { 0, 1, 2, 3, 4, 7, 8, 24 };
	struct wasp_ipc_reader r;
	struct wasp_ipc_writer w, wh;
	uint8_t *wbuf = malloc(len ? len : 1);
	uint8_t *hbuf = malloc(len / 2 ? len / 2 : 1);
	size_t pos = 0;
	bool err = false;

	CHECK(wbuf && hbuf);
	wasp_ipc_reader_init(&r, payload, len);
	wasp_ipc_writer_init(&w, wbuf, len);
	wasp_ipc_writer_init(&wh, hbuf, len / 2);
	for (size_t i = 0; len > 0 && i < 64; i++) {
		uint8_t op = payload[i % len];
		size_t before_left = r.left;
		size_t n = (op & 7) == 0 ? (size_t)op << 8 : (size_t)(op >> 3) * mult[op & 7];
		const uint8_t *p = wasp_ipc_get_bytes(&r, n);

		if (!err && len - pos >= n) {
			CHECK(p == payload + pos);
			pos += n;
			wasp_ipc_put_bytes(&w, p, n);
			wasp_ipc_put_bytes(&wh, p, n);
		} else {
			CHECK(!p);
			err = true;
		}
		CHECK(r.error == err);
		CHECK(err || r.left == len - pos);
		CHECK(!err || r.left <= before_left);
		if (err)
			break;
	}
	CHECK(wasp_ipc_reader_done(&r) == (!err && pos == len));
	/* Everything read, written back, is the bytes consumed. */
	CHECK(!w.error && w.len == pos && memcmp(wbuf, payload, pos) == 0);
	CHECK(wh.error == (pos > len / 2));
	CHECK(wh.len <= len / 2 && memcmp(hbuf, payload, wh.len) == 0);
	free(wbuf);
	free(hbuf);
}

/* A received fd: read it as a sealed memfd. */
static void
exercise_fd(int fd, const struct rec *r, const uint8_t *payload, size_t len)
{
	char *buf = NULL;
	size_t n = 0;
	int k;

	k = wasp_memfd_read(fd, (r->ctl & 0x40) ? len / 2 : WASP_IPC_MAX_MSG, &buf, &n);
	if (((r->ctl >> 4) & 3) == 1 && !(r->ctl & 0x40)) {
		/* Our own sealed memfd with the payload in it. */
		CHECK(k == 0);
		CHECK(n == len && memcmp(buf, payload, len) == 0);
	}
	if (k == 0)
		CHECK(buf && buf[n] == '\0');
	else
		CHECK(!buf);
	free(buf);
}

/* --- part 1: wasp_ipc_recv --- */

static void
fuzz_recv(const uint8_t *data, size_t size)
{
	struct input in = { data + 1, size - 1 };
	struct rec r;
	int sp[2];

	if (wasp_ipc_socketpair(sp) < 0)
		return;
	while (next_record(&in, &r)) {
		struct wasp_ipc_msg msg;
		size_t len = build_record(&r);
		int nfds, expect, k;

		nfds = send_record(sp[1], &r, len);
		if (nfds < 0)
			continue;
		expect = predict_recv(len, (unsigned)nfds);
		k = wasp_ipc_recv(sp[0], rbuf, sizeof(rbuf), &msg);
		if (k != expect) {
			fprintf(stderr,
				"wasp_ipc_recv returned %d, expected %d (%zu bytes, %d fds)\n", k,
				expect, len, nfds);
			abort();
		}
		if (k == 1) {
			CHECK(msg.payload == rbuf + WASP_IPC_HDR_SIZE);
			CHECK(msg.len == len - WASP_IPC_HDR_SIZE);
			CHECK(memcmp(&msg.hdr, record, sizeof(msg.hdr)) == 0);
			CHECK((msg.fd >= 0) == (nfds == 1));
			exercise_reader(msg.payload, msg.len);
			if (msg.fd >= 0) {
				exercise_fd(msg.fd, &r, msg.payload, msg.len);
				(void)safe_close(msg.fd);
			}
		}
		/* Nothing else may be queued: the record was consumed whole. */
		CHECK(wasp_ipc_recv(sp[0], rbuf, sizeof(rbuf), &msg) == -EAGAIN);
	}
	(void)safe_close(sp[0]);
	(void)safe_close(sp[1]);
}

/* --- part 2: the channel --- */

struct chan_state {
	struct wasp_ipc_channel *ch;
	enum wasp_ipc_role peer_role;
	bool free_in_close;
	unsigned n_close;
	int close_err;
	bool hello_seen;
	unsigned n_msgs;
};

static int
h_route_table(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	char *buf = NULL;
	size_t n;

	CHECK(msg->fd >= 0 && msg->len == 4);
	if (wasp_memfd_read(msg->fd, 1 << 20, &buf, &n) == 0)
		CHECK(buf[n] == '\0');
	free(buf);
	(void)safe_close(msg->fd);
	return 0;
}

static int
h_ping(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	CHECK(msg->fd < 0 && msg->len == sizeof(struct wasp_msg_ping));
	(void)wasp_ipc_channel_send(ch, WASP_MSG_PONG, msg->hdr.seq, msg->payload, msg->len, -1,
				    0);
	CHECK(wasp_ipc_channel_next_seq(ch) != 0);
	CHECK(wasp_ipc_channel_fd(ch) >= 0);
	return 0;
}

/* Decode like a worker would, acknowledge, and hand the connection back
 * (the channel owns the fd from then on). */
static int
h_handoff(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct wasp_ipc_reader r;
	struct wasp_msg_handoff ho;
	struct wasp_msg_conn_ref ack = { 0 };
	struct wasp_msg_handback hb = { 0 };
	uint8_t out[256];
	struct wasp_ipc_writer w;
	const void *p;

	CHECK(msg->fd >= 0 && msg->len >= sizeof(ho));
	wasp_ipc_reader_init(&r, msg->payload, msg->len);
	p = wasp_ipc_get_bytes(&r, sizeof(ho));
	CHECK(p);
	memcpy(&ho, p, sizeof(ho));
	(void)wasp_ipc_get_bytes(&r, ho.app_path_len);
	(void)wasp_ipc_get_bytes(&r, ho.protocol_len);
	(void)wasp_ipc_get_bytes(&r, ho.data_len);
	if (!wasp_ipc_reader_done(&r)) {
		(void)safe_close(msg->fd);
		return -EBADMSG;
	}
	ack.conn_id = ho.conn_id;
	(void)wasp_ipc_channel_send(ch, WASP_MSG_HANDOFF_ACK, msg->hdr.seq, &ack, sizeof(ack), -1,
				    0);
	hb.conn_id = ho.conn_id;
	wasp_ipc_writer_init(&w, out, sizeof(out));
	wasp_ipc_put_bytes(&w, &hb, sizeof(hb));
	wasp_ipc_put_bytes(&w, msg->payload + sizeof(ho), MIN(ho.app_path_len, 64u));
	(void)wasp_ipc_channel_send(ch, WASP_MSG_HANDBACK, 0, out, w.error ? sizeof(hb) : w.len,
				    msg->fd, WASP_IPC_SEND_CLOSE_FD);
	return 0;
}

/* Pass the fd on without giving it to the channel, then close ours. */
static int
h_handoff_channel(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	CHECK(msg->fd >= 0);
	(void)wasp_ipc_channel_send(ch, WASP_MSG_HANDOFF_CHANNEL, 0, msg->payload, msg->len,
				    msg->fd, 0);
	(void)safe_close(msg->fd);
	return 0;
}

/* Many replies at once: fills the socket, then the queue (-ENOBUFS). */
static int
h_burst(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	uint16_t n = 0;

	CHECK(msg->fd >= 0);
	(void)safe_close(msg->fd);
	if (msg->len >= 2)
		memcpy(&n, msg->payload, 2);
	for (unsigned i = 0; i < n % 6000u; i++)
		if (wasp_ipc_channel_send(ch, WASP_MSG_POOL_STATE, i, msg->payload, msg->len, -1,
					  0) < 0)
			break;
	CHECK(wasp_ipc_channel_queued(ch) <= WASP_IPC_MAX_QUEUE);
	return 0;
}

static int
h_drain(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct chan_state *st = userdata;

	CHECK(msg->fd < 0 && msg->len == 0);
	st->ch = wasp_ipc_channel_free(ch);
	return 0;
}

static int
h_refuse(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	return -EPROTO;
}

static int
h_any(struct wasp_ipc_channel *ch, const struct wasp_ipc_msg *msg, void *userdata)
{
	struct chan_state *st = userdata;

	st->n_msgs++;
	if (msg->fd >= 0)
		(void)safe_close(msg->fd);
	return 0;
}

static const struct wasp_ipc_handler handlers[] = {
	{ WASP_MSG_ROUTE_TABLE, h_route_table },
	{ WASP_MSG_PING, h_ping },
	{ WASP_MSG_HANDOFF, h_handoff },
	{ WASP_MSG_HANDOFF_CHANNEL, h_handoff_channel },
	{ WASP_MSG_WORKER_CHANNEL, h_burst },
	{ WASP_MSG_DRAIN, h_drain },
	{ WASP_MSG_ADAPTER_STATS, h_refuse },
	{ WASP_MSG_WORKER_READY, h_any },
	{ WASP_MSG_WORKER_STATS, h_any },
};

static void
on_close(struct wasp_ipc_channel *ch, int err, void *userdata)
{
	struct chan_state *st = userdata;

	CHECK(ch == st->ch);
	CHECK(st->n_close++ == 0);
	CHECK(err == 0 || err == -EBADMSG || err == -EPROTO || err == -EPROTONOSUPPORT ||
	      err == -ENOBUFS);
	st->close_err = err;
	if (st->free_in_close)
		st->ch = wasp_ipc_channel_free(ch);
}

static void
on_hello(struct wasp_ipc_channel *ch, const struct wasp_msg_hello *hello, void *userdata)
{
	struct chan_state *st = userdata;

	CHECK(!st->hello_seen);
	CHECK(hello->role == (uint32_t)st->peer_role && hello->version == WASP_IPC_VERSION);
	CHECK(hello->pid > 0);
	CHECK(wasp_ipc_channel_peer_pid(ch) == (pid_t)hello->pid);
	{
		struct ucred cred;

		/* Our own socketpair: SO_PEERCRED is there and names us. */
		CHECK(wasp_ipc_channel_peer_cred(ch, &cred) == 0 && cred.pid == getpid());
	}
	CHECK(wasp_ipc_channel_peer_verified(ch) == (hello->pid == (uint32_t)getpid()));
	st->hello_seen = true;
}

/* Read what the channel sent us: each message must be well-formed, the
 * first one our peer's HELLO. */
static void
drain_peer(int sock, unsigned *n_seen)
{
	struct wasp_ipc_msg msg;
	int k;

	while ((k = wasp_ipc_recv(sock, rbuf, sizeof(rbuf), &msg)) == 1) {
		if ((*n_seen)++ == 0) {
			struct wasp_msg_hello h;

			CHECK(msg.hdr.type == WASP_MSG_HELLO && msg.len == sizeof(h));
			memcpy(&h, msg.payload, sizeof(h));
			CHECK(h.role == WASP_ROLE_ACTIVATOR);
		} else {
			CHECK(msg.hdr.type != WASP_MSG_HELLO);
		}
		(void)safe_close(msg.fd);
	}
	CHECK(k == -EAGAIN || k == 0 || k == -ECONNRESET);
}

static void
run_loop(int peer, unsigned *n_seen)
{
	for (int i = 0; i < 4; i++) {
		CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
		drain_peer(peer, n_seen);
	}
}

static void
fuzz_channel(const uint8_t *data, size_t size)
{
	static const enum wasp_ipc_role roles[] = { WASP_ROLE_ADAPTER, WASP_ROLE_WORKER,
						    WASP_ROLE_CONTROL, WASP_ROLE_ACTIVATOR };
	uint8_t flags = data[0];
	struct chan_state st = {
		.peer_role = roles[(flags >> 1) & 3],
		.free_in_close = flags & 0x10,
	};
	struct wasp_ipc_channel_ops ops = {
		.role = WASP_ROLE_ACTIVATOR,
		.peer_role = st.peer_role,
		.handlers = handlers,
		.n_handlers = ELEMENTSOF(handlers),
		.on_close = on_close,
		.on_hello = on_hello,
	};
	struct input in = { data + 1, size - 1 };
	unsigned n_seen = 0;
	struct rec r;
	int sp[2];

	if (wasp_ipc_socketpair(sp) < 0)
		return;
	st.ch = wasp_ipc_channel_new(base, sp[0], &ops, &st);
	CHECK(st.ch);

	if (flags & 0x01) {
		struct wasp_msg_hello h = {
			.version = WASP_IPC_VERSION,
			.role = (uint32_t)st.peer_role,
			.pid = (uint32_t)getpid(),
		};

		CHECK(wasp_ipc_send(sp[1], WASP_MSG_HELLO, 0, 0, &h, sizeof(h), -1) == 0);
	}
	while (st.ch && st.n_close == 0 && next_record(&in, &r)) {
		size_t len = build_record(&r);
		int k, tries = 0;

		while ((k = send_record(sp[1], &r, len)) == -EAGAIN && st.ch && st.n_close == 0 &&
		       tries++ < 64)
			run_loop(sp[1], &n_seen);
		if (k < 0 && k != -EAGAIN)
			break; /* the channel freed its end */
		if (r.ctl & 0x40)
			run_loop(sp[1], &n_seen);
	}
	if ((flags & 0x48) == 0x48) {
		sp[1] = safe_close(sp[1]);
		for (int i = 0; i < 1024 && st.ch && st.n_close == 0; i++)
			CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	} else {
		if (flags & 0x08)
			(void)shutdown(sp[1], SHUT_WR);
		for (int i = 0; i < 256 && st.ch && st.n_close == 0; i++)
			run_loop(sp[1], &n_seen);
	}
	/* After EOF the channel must have reported its close (unless a
	 * handler freed it). */
	if (flags & 0x08)
		CHECK(!st.ch || st.n_close == 1);
	st.ch = wasp_ipc_channel_free(st.ch);
	CHECK(event_base_loop(base, EVLOOP_NONBLOCK) >= 0);
	(void)safe_close(sp[1]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	base = event_base_new();
	CHECK(base);
	wasp_log_set_max_priority(LOG_ERR);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int before, now;

	if (size < 1)
		return 0;
	/* Counted around each input, not once: between inputs libFuzzer's
	 * leak check may start a symbolizer that keeps pipes open. */
	before = fuzz_count_fds();
	fuzz_recv(data, size);
	if (!(data[0] & 0x20))
		fuzz_channel(data, size);
	now = fuzz_count_fds();
	if (now != before) {
		fprintf(stderr, "fd leak: %d open before, %d after\n", before, now);
		list_fds();
		abort();
	}
	return 0;
}
