/* libwasp-adapter: what a protocol listener adapter needs to work with
 * waspd, the wasp process activation service: the framing of its channels,
 * the messages an adapter sends and receives, and a few calls (connect to
 * adapter.sock with HELLO and ADAPTER_REGISTER, send and receive one
 * message with at most one descriptor, read the routing table, hand a
 * connection to a worker). docs/adapter-protocol.md (installed with wasp's
 * documentation) says what every message means and in which order they
 * come; the numbers, layouts and sizes here are that contract's.
 *
 * Wire rules: AF_UNIX SOCK_SEQPACKET, one message per record, a 16-byte
 * header then the payload, host byte order, at most WASP_ADAPTER_MAX_MSG
 * bytes in all, at most one descriptor (SCM_RIGHTS) per message, HELLO
 * first both ways on every channel. The layouts below change only with
 * WASP_ADAPTER_IPC_VERSION; new messages only add numbers.
 *
 * Build with `pkg-config --cflags --libs wasp-adapter`. */
#ifndef WASP_ADAPTER_H
#define WASP_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This header's API (the calls below); bumped when a call changes. */
#define WASP_ADAPTER_API_VERSION 1
/* The wire protocol's version, carried in every header and in HELLO. */
#define WASP_ADAPTER_IPC_VERSION 5

#define WASP_ADAPTER_HDR_SIZE 16
#define WASP_ADAPTER_MAX_MSG 65536 /* header included */
#define WASP_ADAPTER_MAX_PAYLOAD (WASP_ADAPTER_MAX_MSG - WASP_ADAPTER_HDR_SIZE)
#define WASP_ADAPTER_SOCK_NAME "adapter.sock" /* in waspd's runtime directory */
#define WASP_ADAPTER_PROTOCOL_MAX 32          /* a protocol name, its NUL included */

/* Header flags */
#define WASP_ADAPTER_F_HAS_FD 0x01 /* a descriptor travels with the message */

/* Roles in HELLO */
enum wasp_adapter_role {
	WASP_ADAPTER_ROLE_ACTIVATOR = 1, /* waspd */
	WASP_ADAPTER_ROLE_ADAPTER = 2,   /* you */
	WASP_ADAPTER_ROLE_WORKER = 3,    /* the other end of a handoff channel */
};

/* Message types an adapter sends (A->) or receives (->A); fd: a descriptor
 * comes with it. */
enum wasp_adapter_msg_type {
	WASP_ADAPTER_MSG_HELLO = 1,             /* both ways, first; struct wasp_adapter_hello */
	WASP_ADAPTER_MSG_REGISTER = 200,        /* A->waspd; struct wasp_adapter_register */
	WASP_ADAPTER_MSG_ROUTE_TABLE = 201,     /* ->A, fd: sealed memfd (JSON); uint32_t generation */
	WASP_ADAPTER_MSG_LISTEN_SOCKET = 202,   /* ->A, fd: listening socket; wasp_adapter_listen_socket */
	WASP_ADAPTER_MSG_POOL_DEMAND = 203,     /* A->waspd; struct wasp_adapter_pool_ref */
	WASP_ADAPTER_MSG_WORKER_CHANNEL = 204,  /* ->A, fd: handoff channel; wasp_adapter_worker_ref */
	WASP_ADAPTER_MSG_WORKER_GONE = 205,     /* ->A; struct wasp_adapter_worker_ref */
	WASP_ADAPTER_MSG_POOL_STATE = 206,      /* ->A; struct wasp_adapter_pool_state */
	WASP_ADAPTER_MSG_ADAPTER_STATS = 207,   /* A->waspd, optional; wasp_adapter_stats */
	WASP_ADAPTER_MSG_ADAPTER_REFUSED = 208, /* ->A, then waspd closes; wasp_adapter_refused */
	WASP_ADAPTER_MSG_HANDOFF = 400,         /* A->worker, fd: the connection; see below */
	WASP_ADAPTER_MSG_HANDOFF_ACK = 401,     /* worker->A; one or more wasp_adapter_conn_ref */
	WASP_ADAPTER_MSG_HANDBACK = 402,        /* worker->A, fd; wasp_adapter_handback + bytes */
	WASP_ADAPTER_MSG_HANDOFF_REFUSED = 403, /* worker->A; one or more wasp_adapter_conn_ref */
	WASP_ADAPTER_MSG_WORKER_ROOM = 404,     /* worker->A; struct wasp_adapter_worker_room */
};

struct wasp_adapter_hdr {
	uint32_t len; /* whole message, header included */
	uint16_t type;
	uint8_t version; /* WASP_ADAPTER_IPC_VERSION */
	uint8_t flags;   /* WASP_ADAPTER_F_HAS_FD */
	uint32_t seq;
	uint32_t pid; /* the sender's */
};

struct wasp_adapter_hello { /* 16 bytes */
	uint32_t version;   /* WASP_ADAPTER_IPC_VERSION */
	uint32_t role;      /* enum wasp_adapter_role: the sender's */
	uint32_t pid;
	uint32_t reserved;
};

struct wasp_adapter_register { /* 32 bytes */
	char protocol[WASP_ADAPTER_PROTOCOL_MAX]; /* NUL-terminated */
};

struct wasp_adapter_listen_socket { /* 8 bytes */
	uint32_t generation;
	uint32_t socket_id; /* the routing table's sockets[].id */
};

struct wasp_adapter_pool_ref { /* 8 bytes */
	uint32_t pool_id; /* the routing table's pools[].id */
	uint32_t generation;
};

struct wasp_adapter_worker_ref { /* 16 bytes */
	uint32_t pool_id;
	uint32_t worker_id;
	uint32_t pid;
	uint32_t generation;
};

enum wasp_adapter_pool_state_value {
	WASP_ADAPTER_POOL_STARTING = 0,
	WASP_ADAPTER_POOL_STARTED = 1,
	WASP_ADAPTER_POOL_STOPPING = 2,
	WASP_ADAPTER_POOL_STOPPED = 3,
};

struct wasp_adapter_pool_state { /* 16 bytes */
	uint32_t pool_id;
	uint32_t state;  /* enum wasp_adapter_pool_state_value */
	uint32_t reason; /* why it stopped: 1 operator, 2 rapid-fail, 3 startup, 4 autoStart */
	uint32_t generation;
};

struct wasp_adapter_stats { /* 40 bytes */
	uint64_t accepted;
	uint64_t handed_off;
	uint64_t rejected_503;
	uint64_t rejected_400;
	uint32_t queued;
	uint32_t reserved;
};

enum wasp_adapter_refusal {
	WASP_ADAPTER_REFUSED_UNDECLARED = 1, /* the protocol is not in listenerAdapters */
	WASP_ADAPTER_REFUSED_PERMISSION = 2, /* your uid/groups are not its registerUser/Group */
	WASP_ADAPTER_REFUSED_TAKEN = 3,      /* the protocol has an adapter */
	WASP_ADAPTER_REFUSED_STARTED = 4,    /* waspd starts that protocol's adapter itself */
};

struct wasp_adapter_refused { /* 128 bytes */
	uint32_t reason; /* enum wasp_adapter_refusal */
	uint32_t reserved;
	char message[120]; /* NUL-terminated */
};

/* HANDOFF: this struct, app_path_len bytes of the application path,
 * protocol_len bytes of the protocol's name (0: http), tls_len bytes of TLS
 * facts (wasp-http's; always 0 from this library), then data_len bytes
 * already read from the connection. */
struct wasp_adapter_handoff { /* 72 bytes */
	uint32_t conn_id; /* yours, echoed in HANDOFF_ACK / HANDOFF_REFUSED */
	uint32_t site_id;
	uint32_t app_path_len;
	uint32_t data_len;
	uint32_t generation; /* of the routing table the route came from */
	uint32_t flags;      /* WASP_ADAPTER_HANDOFF_F_ACK_MANY */
	uint32_t protocol_len;
	uint32_t tls_len;
	/* the connection's local and client address (IPv6; IPv4 mapped as
	 * ::ffff:a.b.c.d) and ports: the worker takes them from here, never
	 * from the fd; all zero: not known */
	uint8_t local_addr[16];
	uint8_t peer_addr[16];
	uint16_t local_port;
	uint16_t peer_port;
	uint32_t reserved;
};
#define WASP_ADAPTER_HANDOFF_F_ACK_MANY 0x1

struct wasp_adapter_conn_ref { /* 8 bytes */
	uint32_t conn_id;
	uint32_t reserved;
};

struct wasp_adapter_worker_room { /* 8 bytes */
	uint32_t capacity; /* connections the worker can hold (0: no limit) */
	uint32_t released; /* acknowledged connections it closed since the last one */
};

struct wasp_adapter_handback { /* 12 bytes, then data_len bytes */
	uint32_t conn_id; /* the HANDOFF's when not acknowledged, else 0 */
	uint32_t data_len;
	uint32_t flags; /* 0x1: a client certificate is wanted (https only; others ignore it) */
};

/* A received message: payload points into the caller's buffer; fd is -1 or
 * a descriptor the caller now owns. */
struct wasp_adapter_msg {
	struct wasp_adapter_hdr hdr;
	const void *payload;
	size_t len;
	int fd;
};

/* WASP_ADAPTER_API_VERSION of the library linked. */
int wasp_adapter_api_version(void);

/* Send one message (fd < 0: none; the caller keeps fd). 0, -EAGAIN (a
 * non-blocking socket is full), -EMSGSIZE, -errno. */
int wasp_adapter_send(int sock, uint16_t type, uint32_t seq, const void *payload, size_t len,
		      int fd);

/* Receive one message into buf (at least WASP_ADAPTER_MAX_MSG bytes). 1 with
 * *ret, 0 at EOF, -EAGAIN, -EBADMSG (a malformed message: short, a length
 * that does not match, another version, more than one descriptor; any
 * descriptor that came is closed), -errno. */
int wasp_adapter_recv(int sock, void *buf, size_t size, struct wasp_adapter_msg *ret);

/* Send our HELLO (role WASP_ADAPTER_ROLE_ADAPTER) on sock. */
int wasp_adapter_send_hello(int sock);

/* Check that msg is the peer's HELLO for role: 0, or -EPROTO. */
int wasp_adapter_check_hello(const struct wasp_adapter_msg *msg, enum wasp_adapter_role role);

/* On a connected activator channel sock: send HELLO, read waspd's HELLO,
 * send ADAPTER_REGISTER for protocol. 0 or -errno. An adapter waspd starts
 * (listenerAdapters' executable) calls it on the channel it inherits: the
 * descriptor named by the environment variable WASP_CHANNEL_FD (3). */
int wasp_adapter_register(int sock, const char *protocol);

/* Connect to runtime_dir/adapter.sock (NULL: /run/wasp) and
 * wasp_adapter_register() on it. Returns the
 * connected socket (blocking, close-on-exec) or -errno. What follows comes
 * as messages: LISTEN_SOCKETs, ROUTE_TABLE, WORKER_CHANNELs when waspd
 * accepted, or ADAPTER_REFUSED and EOF when it did not. */
int wasp_adapter_connect(const char *runtime_dir, const char *protocol);

/* The routing table of a ROUTE_TABLE's descriptor (JSON, see
 * docs/adapter-protocol.md), NUL-terminated and malloc'd into *ret (at most
 * 64 MiB). Does not close memfd. 0 or -errno. */
int wasp_adapter_read_table(int memfd, char **ret, size_t *ret_len);

/* Hand connection conn_fd to a worker over its handoff channel chan (the
 * caller keeps conn_fd until HANDOFF_ACK). protocol NULL or "" means http.
 * 0 or -errno (-EMSGSIZE when it does not fit one message). */
int wasp_adapter_send_handoff(int chan, const struct wasp_adapter_handoff *h,
			      const char *app_path, const char *protocol, const void *data,
			      size_t data_len, int conn_fd);

/* POOL_DEMAND: ask waspd for a worker of pool_id (of generation). */
int wasp_adapter_pool_demand(int sock, uint32_t pool_id, uint32_t generation);

#ifdef __cplusplus
}
#endif

#endif
