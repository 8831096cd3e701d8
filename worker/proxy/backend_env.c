/* What a backend process starts with (backend_env.h): its port, its
 * arguments and environment with the port put in, its stdout log file. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "backend_env.h"
#include "child.h"
#include "log.h"
#include "util.h"

extern char **environ;

int
backend_free_port(uint16_t *ret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &l) < 0)
		return -errno;
	*ret = ntohs(sa.sin_port);
	return 0;
}

/* s with every %var% replaced by port. */
char *
backend_subst(const char *s, const char *var, uint16_t port)
{
	char pat[128], num[8];
	size_t pl, nl, n = 0;
	const char *x;
	char *r, *o;

	pl = (size_t)snprintf(pat, sizeof(pat), "%%%s%%", var);
	nl = (size_t)snprintf(num, sizeof(num), "%u", (unsigned)port);
	for (x = s; (x = strstr(x, pat)); x += pl)
		n++;
	r = o = malloc(strlen(s) + n * nl + 1);
	if (!r)
		return NULL;
	while ((x = strstr(s, pat))) {
		memcpy(o, s, (size_t)(x - s));
		o += x - s;
		memcpy(o, num, nl);
		o += nl;
		s = x + pl;
	}
	strcpy(o, s);
	return r;
}

static bool
env_overridden(const char *entry, char *const *env, const char *port_var)
{
	size_t len = strcspn(entry, "=");

	if (strlen(port_var) == len && strncmp(entry, port_var, len) == 0)
		return true;
	for (size_t k = 0; env && env[k]; k++)
		if (strcspn(env[k], "=") == len && strncmp(entry, env[k], len) == 0)
			return true;
	return false;
}

/* The worker's environment, the configured variables over it, the port. */
char **
backend_envp(const struct backend_conf *c, uint16_t port, const char *token)
{
	size_t n_env = 0, n_conf = 0, n = 0;
	char **envp;

	while (environ[n_env])
		n_env++;
	while (c->env && c->env[n_conf])
		n_conf++;
	envp = calloc(n_env + n_conf + 3, sizeof(char *));
	if (!envp)
		return NULL;
	for (size_t k = 0; k < n_env; k++)
		if (!env_overridden(environ[k], c->env, c->port_var) &&
		    !(c->token_var && env_overridden(environ[k], NULL, c->token_var)))
			if (!(envp[n++] = strdup(environ[k])))
				goto oom;
	for (size_t k = 0; k < n_conf; k++)
		if (!(envp[n++] = backend_subst(c->env[k], c->port_var, port)))
			goto oom;
	if (asprintf(&envp[n++], "%s=%u", c->port_var, (unsigned)port) < 0) {
		envp[n - 1] = NULL;
		goto oom;
	}
	if (c->token_var && asprintf(&envp[n++], "%s=%s", c->token_var, token) < 0) {
		envp[n - 1] = NULL;
		goto oom;
	}
	return envp;
oom:
	worker_strv_free(envp);
	return NULL;
}

/* stdoutLogFile_<yyyyMMddHHmmss>_<worker pid>.log, its directory made
 * when missing. -1 when it cannot be opened (the worker's log then). */
int
backend_log_open(const struct backend_conf *c)
{
	char stamp[32], *path, *slash;
	time_t t = time(NULL);
	struct tm tm;
	int fd;

	if (!c->log_base)
		return -1;
	(void)strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", gmtime_r(&t, &tm));
	if (asprintf(&path, "%s_%s_%d.log", c->log_base, stamp, (int)getpid()) < 0)
		return -1;
	slash = strrchr(path, '/');
	if (slash && slash != path) {
		*slash = '\0';
		(void)mkdir(path, 0750);
		*slash = '/';
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		log_warning("%s: cannot open stdoutLogFile '%s': %s; the output goes to the "
			    "worker's log", c->label, path, strerror(errno));
	free(path);
	return fd;
}
