/* libwasp-adapter: the framing and the few calls of <wasp/adapter.h> for
 * protocol adapters written outside wasp. libc only: it is installed and
 * linked into other programs, so of wasp's code it carries only
 * common/wire.c (the framing's system calls, shared with wasp's own
 * channels); tests/unit/test_adapter_abi.c checks that its numbers and
 * layouts are those of common/msg.h and common/ipc.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "wasp/adapter.h"
#include "wire.h"

#define TABLE_MAX (64u << 20)

_Static_assert(sizeof(struct wasp_adapter_hdr) == WASP_ADAPTER_HDR_SIZE, "header size");

int
wasp_adapter_api_version(void)
{
	return WASP_ADAPTER_API_VERSION;
}

int
wasp_adapter_send(int sock, uint16_t type, uint32_t seq, const void *payload, size_t len, int fd)
{
	struct wasp_adapter_hdr hdr = {
		.len = (uint32_t)(WASP_ADAPTER_HDR_SIZE + len),
		.type = type,
		.version = WASP_ADAPTER_IPC_VERSION,
		.flags = fd >= 0 ? WASP_ADAPTER_F_HAS_FD : 0,
		.seq = seq,
		.pid = (uint32_t)getpid(),
	};

	if (len > WASP_ADAPTER_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (len > 0 && !payload)
		return -EINVAL;
	return wasp_wire_send(sock, &hdr, sizeof(hdr), payload, len, fd);
}

int
wasp_adapter_recv(int sock, void *buf, size_t size, struct wasp_adapter_msg *ret)
{
	union wasp_wire_control control;
	struct iovec iov = { .iov_base = buf, .iov_len = size };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &control,
		/* CMSG_LEN: a second descriptor shows up as MSG_CTRUNC */
		.msg_controllen = CMSG_LEN(sizeof(int)),
	};
	int fd = -1;
	bool bad;
	ssize_t n;

	if (!buf || !ret || size < WASP_ADAPTER_MAX_MSG)
		return -EINVAL;
	n = wasp_wire_recvmsg(sock, &mh);
	if (n < 0)
		return (int)n;
	bad = wasp_wire_take_fds(&mh, &fd);
	if (n == 0 && fd < 0 && !bad)
		return 0;
	memcpy(&ret->hdr, buf, (size_t)n < sizeof(ret->hdr) ? (size_t)n : sizeof(ret->hdr));
	if (bad || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < WASP_ADAPTER_HDR_SIZE || ret->hdr.len != (size_t)n ||
	    ret->hdr.version != WASP_ADAPTER_IPC_VERSION ||
	    !(ret->hdr.flags & WASP_ADAPTER_F_HAS_FD) != (fd < 0)) {
		if (fd >= 0)
			close(fd);
		return -EBADMSG;
	}
	ret->payload = (const uint8_t *)buf + WASP_ADAPTER_HDR_SIZE;
	ret->len = (size_t)n - WASP_ADAPTER_HDR_SIZE;
	ret->fd = fd;
	return 1;
}

int
wasp_adapter_send_hello(int sock)
{
	struct wasp_adapter_hello h = {
		.version = WASP_ADAPTER_IPC_VERSION,
		.role = WASP_ADAPTER_ROLE_ADAPTER,
		.pid = (uint32_t)getpid(),
	};

	return wasp_adapter_send(sock, WASP_ADAPTER_MSG_HELLO, 0, &h, sizeof(h), -1);
}

int
wasp_adapter_check_hello(const struct wasp_adapter_msg *msg, enum wasp_adapter_role role)
{
	struct wasp_adapter_hello h;

	if (msg->hdr.type != WASP_ADAPTER_MSG_HELLO || msg->len != sizeof(h) || msg->fd >= 0)
		return -EPROTO;
	memcpy(&h, msg->payload, sizeof(h));
	return h.version == WASP_ADAPTER_IPC_VERSION && h.role == (uint32_t)role ? 0 : -EPROTO;
}

/* waspd's HELLO on sock. */
static int
read_hello(int sock)
{
	struct wasp_adapter_msg m;
	char *buf = malloc(WASP_ADAPTER_MAX_MSG);
	int r;

	if (!buf)
		return -ENOMEM;
	r = wasp_adapter_recv(sock, buf, WASP_ADAPTER_MAX_MSG, &m);
	if (r == 0)
		r = -ECONNRESET;
	if (r > 0) {
		r = wasp_adapter_check_hello(&m, WASP_ADAPTER_ROLE_ACTIVATOR);
		if (m.fd >= 0)
			close(m.fd);
	}
	free(buf);
	return r;
}

int
wasp_adapter_register(int sock, const char *protocol)
{
	struct wasp_adapter_register reg = { { 0 } };
	int r;

	if (!protocol || !*protocol || strlen(protocol) >= WASP_ADAPTER_PROTOCOL_MAX)
		return -EINVAL;
	r = wasp_adapter_send_hello(sock);
	if (r < 0)
		return r;
	r = read_hello(sock);
	if (r < 0)
		return r;
	memcpy(reg.protocol, protocol, strlen(protocol));
	return wasp_adapter_send(sock, WASP_ADAPTER_MSG_REGISTER, 0, &reg, sizeof(reg), -1);
}

int
wasp_adapter_connect(const char *runtime_dir, const char *protocol)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd, r;

	if (!protocol || !*protocol || strlen(protocol) >= WASP_ADAPTER_PROTOCOL_MAX)
		return -EINVAL;
	if (!runtime_dir)
		runtime_dir = "/run/wasp";
	n = strlen(runtime_dir);
	if (n + 1 + sizeof(WASP_ADAPTER_SOCK_NAME) > sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, runtime_dir, n);
	sa.sun_path[n] = '/';
	memcpy(sa.sun_path + n + 1, WASP_ADAPTER_SOCK_NAME, sizeof(WASP_ADAPTER_SOCK_NAME));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = wasp_adapter_register(fd, protocol);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int
wasp_adapter_read_table(int memfd, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fstat(memfd, &st) < 0)
		return -errno;
	if (st.st_size < 0 || (uint64_t)st.st_size > TABLE_MAX)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t k = pread(memfd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int r = k < 0 ? -errno : -EIO;
			free(buf);
			return r;
		}
		got += (size_t)k;
	}
	buf[got] = 0;
	*ret = buf;
	if (ret_len)
		*ret_len = got;
	return 0;
}

int
wasp_adapter_send_handoff(int chan, const struct wasp_adapter_handoff *h, const char *app_path,
			  const char *protocol, const void *data, size_t data_len, int conn_fd)
{
	struct wasp_adapter_handoff m = *h;
	size_t plen = app_path ? strlen(app_path) : 0;
	size_t prlen = protocol ? strlen(protocol) : 0;
	size_t len = sizeof(m) + plen + prlen + data_len;
	uint8_t *buf;
	int r;

	if (prlen >= WASP_ADAPTER_PROTOCOL_MAX || len > WASP_ADAPTER_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (conn_fd < 0 || (data_len > 0 && !data))
		return -EINVAL;
	m.app_path_len = (uint32_t)plen;
	m.protocol_len = (uint32_t)prlen;
	m.tls_len = 0;
	m.data_len = (uint32_t)data_len;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &m, sizeof(m));
	if (plen)
		memcpy(buf + sizeof(m), app_path, plen);
	if (prlen)
		memcpy(buf + sizeof(m) + plen, protocol, prlen);
	if (data_len)
		memcpy(buf + sizeof(m) + plen + prlen, data, data_len);
	r = wasp_adapter_send(chan, WASP_ADAPTER_MSG_HANDOFF, m.conn_id, buf, len, conn_fd);
	free(buf);
	return r;
}

int
wasp_adapter_pool_demand(int sock, uint32_t pool_id, uint32_t generation)
{
	struct wasp_adapter_pool_ref ref = { .pool_id = pool_id, .generation = generation };

	return wasp_adapter_send(sock, WASP_ADAPTER_MSG_POOL_DEMAND, 0, &ref, sizeof(ref), -1);
}
