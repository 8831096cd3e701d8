/* The message catalogue of wasp's internal channels. Types live in numbered
 * blocks that are never renumbered; a retired value stays as a comment.
 * Payload layouts are fixed-width, host order; fixed structs are decoded by
 * a size-checked memcpy into a local (never cast in place). Bump
 * WASP_IPC_VERSION on any layout change. docs/adapter-protocol.md is the
 * prose version of this file for protocol adapter authors. */
#pragma once

#include <stdint.h>

#define WASP_IPC_VERSION 1

enum wasp_ipc_role {
	WASP_ROLE_ACTIVATOR = 1,
	WASP_ROLE_ADAPTER = 2, /* a protocol listener such as wasp-http */
	WASP_ROLE_WORKER = 3,
	WASP_ROLE_CONTROL = 4,
	WASP_ROLE__COUNT,
	WASP_ROLE_INVALID = -22,
};

enum wasp_msg_type {
	/* 1: every channel */
	WASP_MSG_HELLO = 1, /* struct wasp_msg_hello; first message both ways */

	/* 100: control (reserved; waspctl speaks JSON on control.sock) */

	/* 200: activator <-> adapter (listener) */
	WASP_MSG_ADAPTER_REGISTER = 200, /* A->act: struct wasp_msg_adapter_register */
	WASP_MSG_ROUTE_TABLE = 201,      /* act->A: fd = sealed memfd, JSON routing table
					    (docs/adapter-protocol.md); payload: u32 generation */
	WASP_MSG_LISTEN_SOCKET = 202,    /* act->A: fd = listening socket;
					    struct wasp_msg_listen_socket */
	WASP_MSG_POOL_DEMAND = 203,      /* A->act: struct wasp_msg_pool_ref: start a worker */
	WASP_MSG_WORKER_CHANNEL = 204,   /* act->A: fd = handoff channel to a ready worker;
					    struct wasp_msg_worker_ref */
	WASP_MSG_WORKER_GONE = 205,      /* act->A: struct wasp_msg_worker_ref: send it no more
					    connections (draining, dead or hung) */
	WASP_MSG_POOL_STATE = 206,       /* act->A: struct wasp_msg_pool_state */
	WASP_MSG_ADAPTER_STATS = 207,    /* A->act: struct wasp_msg_adapter_stats */

	/* 300: activator <-> worker */
	WASP_MSG_WORKER_CONFIG = 300, /* act->W: fd = sealed memfd with the serialized config
					 generation; struct wasp_msg_worker_config */
	WASP_MSG_WORKER_READY = 301,  /* W->act: no payload */
	WASP_MSG_PING = 302,          /* act->W: struct wasp_msg_ping */
	WASP_MSG_PONG = 303,          /* W->act: struct wasp_msg_ping (echoed token) */
	WASP_MSG_WORKER_STATS = 304,  /* W->act: struct wasp_msg_worker_stats */
	WASP_MSG_DRAIN = 305,         /* act->W: no payload; finish and exit */
	WASP_MSG_HANDOFF_CHANNEL = 306, /* act->W: fd = this worker's end of a handoff channel
					   with an adapter; struct wasp_msg_handoff_channel.
					   (A ROUTE_TABLE, type 201, also goes to workers.) */
	WASP_MSG_HANDOFF_CHANNEL_LOST = 307, /* W->act: struct wasp_msg_handoff_channel: the
						handoff channel with that adapter broke (not
						its EOF); waspd pairs them again */

	/* 400: adapter <-> worker (handoff channel) */
	WASP_MSG_HANDOFF = 400,     /* A->W: fd = connection; struct wasp_msg_handoff followed
				       by app_path_len bytes of path, then data_len bytes already
				       read from the connection */
	WASP_MSG_HANDOFF_ACK = 401, /* W->A: struct wasp_msg_conn_ref, or several of them after
				       HANDOFFs with WASP_HANDOFF_F_ACK_MANY: the worker owns
				       those connections now */
	WASP_MSG_HANDBACK = 402,    /* W->A: fd = connection; struct wasp_msg_handback followed by
				       data_len unread bytes: route it again (another pool, or the
				       worker is draining and had not acknowledged it) */
	WASP_MSG_HANDOFF_REFUSED = 403, /* W->A: one or more struct wasp_msg_conn_ref: the worker
					   did not take those connections (at its connection
					   limit, or the fd could not be received); the adapter
					   still holds them and routes them again */
	WASP_MSG_WORKER_ROOM = 404,     /* W->A: struct wasp_msg_worker_room: how many connections
					   the worker can hold, and how many it closed */
};

struct wasp_msg_hello {
	uint32_t version; /* WASP_IPC_VERSION */
	uint32_t role;    /* enum wasp_ipc_role */
	uint32_t pid;
	uint32_t reserved;
};

#define WASP_PROTOCOL_NAME_MAX 32
#define WASP_POOL_NAME_MAX 256
#define WASP_APP_PATH_MAX 1024

struct wasp_msg_adapter_register {
	char protocol[WASP_PROTOCOL_NAME_MAX]; /* NUL-terminated: "http", "net.tcp", ... */
};

struct wasp_msg_listen_socket {
	uint32_t generation;
	uint32_t socket_id; /* index into the routing table's "sockets" array */
};

struct wasp_msg_pool_ref {
	uint32_t pool_id; /* index into the routing table's "pools" array */
	uint32_t generation;
};

struct wasp_msg_worker_ref {
	uint32_t pool_id;
	uint32_t worker_id; /* unique for the activator's lifetime */
	uint32_t pid;
	uint32_t generation;
};

enum wasp_pool_state {
	WASP_POOL_STARTING = 0,
	WASP_POOL_STARTED = 1,
	WASP_POOL_STOPPING = 2,
	WASP_POOL_STOPPED = 3,
	WASP_POOL_STATE__COUNT,
	WASP_POOL_STATE_INVALID = -22,
};

enum wasp_pool_stop_reason {
	WASP_POOL_REASON_NONE = 0,
	WASP_POOL_REASON_OPERATOR = 1,
	WASP_POOL_REASON_RAPID_FAIL = 2,
	WASP_POOL_REASON_STARTUP_FAILED = 3, /* startupTimeLimit passed with no ready worker */
	WASP_POOL_REASON_AUTOSTART = 4,      /* autoStart="false": never started */
};

struct wasp_msg_pool_state {
	uint32_t pool_id;
	uint32_t state;  /* enum wasp_pool_state */
	uint32_t reason; /* enum wasp_pool_stop_reason */
	uint32_t generation;
};

struct wasp_msg_adapter_stats {
	uint64_t accepted;
	uint64_t handed_off;
	uint64_t rejected_503;
	uint64_t rejected_400;
	uint32_t queued; /* connections waiting for a worker now */
	uint32_t reserved;
};

struct wasp_msg_worker_config {
	uint32_t pool_id;
	uint32_t worker_id;
	uint32_t generation;
	uint32_t flags; /* WASP_WORKER_F_* */
};

#define WASP_WORKER_F_TEST_HEADERS 0x01 /* add X-Wasp-Pool / X-Wasp-Pid (tests only) */

struct wasp_msg_handoff_channel {
	uint32_t adapter_id; /* unique for the activator's lifetime */
	uint32_t reserved;
};

struct wasp_msg_ping {
	uint64_t token;
};

struct wasp_msg_worker_stats {
	uint64_t requests;   /* served since start */
	uint64_t private_kb; /* private (anonymous + dirty) memory */
	uint64_t rss_kb;
	uint32_t connections; /* owned now */
	uint32_t busy;        /* requests in progress now */
};

struct wasp_msg_handoff {
	uint32_t conn_id; /* adapter's id, echoed in ACK */
	uint32_t site_id;
	uint32_t app_path_len;
	uint32_t data_len;
	uint32_t generation;
	uint32_t flags; /* WASP_HANDOFF_F_* */
};

/* The adapter takes one HANDOFF_ACK naming several connections: the worker
 * may acknowledge the HANDOFFs it read together in one message. */
#define WASP_HANDOFF_F_ACK_MANY 0x1

struct wasp_msg_conn_ref {
	uint32_t conn_id;
	uint32_t reserved;
};

/* Sent once when the handoff channel opens (released 0) and after the
 * worker closed connections it had acknowledged (batched, see
 * docs/adapter-protocol.md): the adapter counts the connections a worker
 * holds. */
struct wasp_msg_worker_room {
	uint32_t capacity; /* connections it can hold at once (0: no limit) */
	uint32_t released; /* acknowledged connections it closed since the last one (not
			      those handed back) */
};

struct wasp_msg_handback {
	uint32_t conn_id; /* the HANDOFF's id when not acknowledged, else 0 */
	uint32_t data_len;
};
