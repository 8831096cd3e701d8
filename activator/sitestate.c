/* Sites' state, as W3SVC keeps it: Started or Stopped, in waspd's memory.
 * A site starts Stopped when its serverAutoStart is false; `waspctl
 * start|stop site` changes the running state only (as appcmd's: IIS Manager
 * also writes serverAutoStart, appcmd does not), so a restart of waspd
 * starts each site as serverAutoStart says. A stopped site's bindings stay
 * in the routing table without applications: HTTP.sys answers a request for
 * a site that is not listening 404, and so does the listener. A reload keeps
 * each site's state by name; a new site takes serverAutoStart. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apphost.h"
#include "log.h"
#include "util.h"
#include "waspd.h"

static bool *
states_from_config(const struct wasp_apphost *ah)
{
	bool *v = calloc(ah->n_sites ? ah->n_sites : 1, sizeof(*v));

	for (size_t i = 0; v && i < ah->n_sites; i++)
		v[i] = !ah->sites[i].server_auto_start;
	return v;
}

int
sites_state_init(struct wasp_env *env)
{
	free(env->site_stopped);
	env->site_stopped = states_from_config(env->ah);
	return env->site_stopped ? 0 : -ENOMEM;
}

/* ah's sites by name. */
static struct name_ref *
site_index(const struct wasp_apphost *ah)
{
	struct name_ref *v = calloc(ah->n_sites ? ah->n_sites : 1, sizeof(*v));

	for (size_t i = 0; v && i < ah->n_sites; i++)
		v[i] = (struct name_ref){ ah->sites[i].name, (uint32_t)i };
	if (v)
		name_refs_sort(v, ah->n_sites);
	return v;
}

static bool
any(const bool *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		if (v[i])
			return true;
	return false;
}

/* Only two kinds of site are looked up, each by name: the running
 * generation's stopped ones and ah's that start stopped (serverAutoStart
 * false); a reload of 100,000 sites that has neither looks up nothing. */
bool *
sites_state_carry(const struct wasp_env *env, const struct wasp_apphost *ah)
{
	_cleanup_free_ struct name_ref *old = NULL, *new = NULL;
	bool *v = states_from_config(ah);
	const struct name_ref *f;

	if (!v || !env->ah)
		return v;
	if (any(v, ah->n_sites)) {
		/* a running site keeps running whatever serverAutoStart now says
		 * (it is read at start) */
		if (!(old = site_index(env->ah)))
			goto oom;
		for (size_t i = 0; i < ah->n_sites; i++)
			if (v[i] && (f = name_refs_find(old, env->ah->n_sites, ah->sites[i].name)))
				v[i] = env->site_stopped && env->site_stopped[f->index];
	}
	if (any(env->site_stopped, env->ah->n_sites)) {
		/* one the operator stopped stays stopped */
		if (!(new = site_index(ah)))
			goto oom;
		for (size_t j = 0; j < env->ah->n_sites; j++)
			if (env->site_stopped[j] &&
			    (f = name_refs_find(new, ah->n_sites, env->ah->sites[j].name)))
				v[f->index] = true;
	}
	return v;
oom:
	free(v);
	return NULL;
}

bool
site_is_stopped(const struct wasp_env *env, const struct wasp_site *s)
{
	return env->site_stopped && env->ah && s >= env->ah->sites &&
	       s < env->ah->sites + env->ah->n_sites && env->site_stopped[s - env->ah->sites];
}

/* The adapters and the workers get the routing table again (the same
 * generation: only the stopped site's applications differ). */
static void
routes_resend(struct wasp_env *env)
{
	routes_invalidate(env);
	config_memfd_drop(env);
	adapters_send_generation(env, false);
	pools_send_routes(env);
}

json_t *
site_verb(struct wasp_env *env, const char *verb, const char *name, uid_t uid)
{
	const struct wasp_site *s = wasp_apphost_find_site(env->ah, name);
	bool stop = streq(verb, "stop");
	size_t i;

	if (!s)
		return json_pack("{s:b, s:s++}", "ok", 0, "error", "no site named '", name,
				 "' ('waspctl list site' shows the configured sites)");
	i = (size_t)(s - env->ah->sites);
	if (!env->site_stopped && sites_state_init(env) < 0)
		return json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
	if (env->site_stopped[i] == stop)
		return json_pack("{s:b, s:s++}", "ok", 0, "error", "site '", s->name,
				 stop ? "' is already stopped" : "' is already started");
	log_notice("control: %s site '%s' (uid %u)", verb, s->name, (unsigned)uid);
	env->site_stopped[i] = stop;
	routes_resend(env);
	return json_pack("{s:b, s:s, s:s}", "ok", 1, "message",
			 stop ? "site stopped: its bindings answer 404" : "site started", "state",
			 stop ? "Stopped" : "Started");
}
