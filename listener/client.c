/* Connections the listener holds per client address (webLimits
 * maxConnectionsPerClient, after IIS's dynamicIpSecurity
 * maxConcurrentRequests): one address cannot take the whole connection
 * limit with heads it never finishes. An open-addressing table (linear
 * probing, backward-shift deletion) of at most max_conns addresses in twice
 * as many slots, keyed by a seeded hash, so a count costs O(1) at accept and
 * at release. IPv4 addresses are counted as their IPv4-mapped IPv6 form. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lsn.h"
#include "tls.h"
#include "util.h"

struct lsn_client {
	uint8_t addr[16];
	uint32_t count; /* 0: the slot is empty */
};

int
lsn_client_init(struct lsn_env *env)
{
	uint64_t slots = 64;

	while (slots < 2ULL * env->max_conns)
		slots <<= 1;
	env->clients = calloc(slots, sizeof(*env->clients));
	if (!env->clients)
		return -ENOMEM;
	env->clients_mask = (uint32_t)(slots - 1);
	if (getrandom(env->client_seed, sizeof(env->client_seed), GRND_NONBLOCK) !=
	    sizeof(env->client_seed)) {
		env->client_seed[0] = wasp_now_usec() * 0x9e3779b97f4a7c15ULL;
		env->client_seed[1] = (uint64_t)getpid() * 0xc2b2ae3d27d4eb4fULL;
	}
	return 0;
}

void
lsn_client_done(struct lsn_env *env)
{
	free(env->clients);
	env->clients = NULL;
}

static uint32_t
client_hash(const struct lsn_env *env, const uint8_t addr[16])
{
	uint64_t a, b, h;

	memcpy(&a, addr, 8);
	memcpy(&b, addr + 8, 8);
	h = (a ^ env->client_seed[0]) * 0x9e3779b97f4a7c15ULL;
	h ^= (b ^ env->client_seed[1]) * 0xc2b2ae3d27d4eb4fULL;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (uint32_t)h;
}

/* The slot holding addr, or the empty slot where it would go. */
static struct lsn_client *
client_slot(struct lsn_env *env, const uint8_t addr[16])
{
	uint32_t i = client_hash(env, addr) & env->clients_mask;

	for (;; i = (i + 1) & env->clients_mask) {
		struct lsn_client *e = &env->clients[i];
		if (e->count == 0 || memcmp(e->addr, addr, 16) == 0)
			return e;
	}
}

/* An IP socket address as 16 bytes (IPv4 mapped) and a port. */
static bool
addr_bytes(const struct sockaddr *sa, socklen_t len, uint8_t out[16], uint16_t *port)
{
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		*port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		return true;
	}
	return false;
}

bool
lsn_conn_set_addrs(struct lsn_conn *c, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	c->have_addrs = false;
	if (c->relay) {
		memcpy(c->peer, c->relay->peer, 16);
		memcpy(c->local, c->relay->local, 16);
		c->peer_port = c->relay->peer_port;
		c->local_port = c->relay->local_port;
		c->have_addrs = true;
		return true;
	}
	if (!sa) {
		if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) < 0)
			return false;
		sa = (const struct sockaddr *)&ss;
		len = sl;
	}
	if (!addr_bytes(sa, len, c->peer, &c->peer_port))
		return false;
	sl = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    !addr_bytes((struct sockaddr *)&ss, sl, c->local, &c->local_port))
		return false;
	c->have_addrs = true;
	return true;
}

bool
lsn_client_add(struct lsn_env *env, struct lsn_conn *c, const struct sockaddr *sa, socklen_t len)
{
	struct lsn_client *e;

	c->peer_counted = false;
	if (env->max_per_client == 0 || !env->clients || !c->have_addrs)
		return true; /* not an IP connection: not counted */
	e = client_slot(env, c->peer);
	if (e->count >= env->max_per_client)
		return false;
	if (e->count == 0)
		memcpy(e->addr, c->peer, 16);
	e->count++;
	c->peer_counted = true;
	return true;
}

void
lsn_client_remove(struct lsn_env *env, struct lsn_conn *c)
{
	struct lsn_client *e;
	uint32_t i, j;

	if (!c->peer_counted)
		return;
	c->peer_counted = false;
	e = client_slot(env, c->peer);
	if (e->count == 0)
		return; /* cannot happen */
	if (--e->count > 0)
		return;
	/* Backward-shift deletion: move later entries of the probe run into
	 * the hole when their home slot is not between the hole and them. */
	i = (uint32_t)(e - env->clients);
	for (j = (i + 1) & env->clients_mask;; j = (j + 1) & env->clients_mask) {
		struct lsn_client *n = &env->clients[j];
		uint32_t home;

		if (n->count == 0)
			break;
		home = client_hash(env, n->addr) & env->clients_mask;
		/* n may move to i when home is not cyclically in (i, j] */
		if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
			env->clients[i] = *n;
			n->count = 0;
			i = j;
		}
	}
	env->clients[i].count = 0;
}
