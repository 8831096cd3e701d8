/* `waspctl list request`: the requests this worker executes now, for
 * waspd's REQUESTS_QUERY. At most WASP_REQUESTS_MAX of them, each URL cut at
 * WASP_REQUEST_URL_MAX bytes, so the answer is one message whatever the
 * load. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "ipc.h"
#include "log.h"
#include "util.h"
#include "worker.h"

static void
client_address(struct conn *c, char *buf, size_t size)
{
	const struct sockaddr_storage *ss;
	socklen_t len;

	buf[0] = 0;
	if (!conn_peer_addr(c, &ss, &len))
		return;
	if (ss->ss_family == AF_INET)
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf,
				(socklen_t)size);
	else
		(void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
				(socklen_t)size);
}

/* One record and its URL (path, then ?query), cut at WASP_REQUEST_URL_MAX. */
static void
put_request(struct wasp_ipc_writer *wr, struct conn *c, uint64_t now)
{
	const struct wasp_request *req = &c->req;
	char url[WASP_REQUEST_URL_MAX + 1];
	struct wasp_msg_request_info ri = {
		.elapsed_usec = now > req->start_usec ? now - req->start_usec : 0,
		.site_id = c->app ? c->app->site_id : c->site_id,
		/* written after SendResponse, before LogRequest */
		.stage = c->state == CS_WRITE ? WASP_REQUEST_STAGE_SENDING : pipeline_stage(req),
	};
	int n;

	n = snprintf(url, sizeof(url), "%s%s%s", strempty(req->path),
		     req->query && *req->query ? "?" : "", strempty(req->query));
	if (n < 0)
		n = 0;
	if ((size_t)n > WASP_REQUEST_URL_MAX) {
		n = WASP_REQUEST_URL_MAX;
		ri.flags |= WASP_REQUEST_F_TRUNCATED;
	}
	ri.url_len = (uint32_t)n;
	snprintf(ri.method, sizeof(ri.method), "%s", strempty(req->method));
	client_address(c, ri.client, sizeof(ri.client));
	wasp_ipc_put_bytes(wr, &ri, sizeof(ri));
	wasp_ipc_put_bytes(wr, url, (size_t)n);
}

int
requests_answer(struct worker_env *env, struct wasp_ipc_channel *ch, uint32_t seq,
		const struct wasp_msg_requests_query *q)
{
	static uint8_t buf[sizeof(struct wasp_msg_requests_reply) +
			   WASP_REQUESTS_MAX *
				   (sizeof(struct wasp_msg_request_info) + WASP_REQUEST_URL_MAX)];
	struct wasp_msg_requests_reply rep = {.token = q->token};
	struct wasp_ipc_writer wr;
	uint64_t now = wasp_now_usec();

	_Static_assert(sizeof(buf) <= WASP_IPC_MAX_PAYLOAD, "a REQUESTS_REPLY is one message");
	wasp_ipc_writer_init(&wr, buf, sizeof(buf));
	wasp_ipc_put_bytes(&wr, &rep, sizeof(rep));
	for (struct conn *c = env->conns; c && rep.count < WASP_REQUESTS_MAX; c = c->next) {
		if (!c->req_active || !c->req.method)
			continue;
		put_request(&wr, c, now);
		rep.count++;
	}
	if (wr.error)
		return log_errno(-EMSGSIZE, "REQUESTS_REPLY does not fit");
	rep.data_len = (uint32_t)(wr.len - sizeof(rep));
	memcpy(buf, &rep, sizeof(rep));
	return wasp_ipc_channel_send(ch, WASP_MSG_REQUESTS_REPLY, seq, buf, wr.len, -1, 0);
}
