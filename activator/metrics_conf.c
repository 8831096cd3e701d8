/* The metrics endpoint's section, system.applicationHost/wasp/metrics: its
 * settings and the check of its address, shared by waspd (its endpoint,
 * metrics_http.c, and its loads) and waspctl (an edit is checked as a
 * reload would check it). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "config.h"
#include "metrics_conf.h"

void
metrics_settings_read(struct wasp_config *cfg, struct metrics_settings *s)
{
	const struct wasp_element *e = cfg ? wasp_config_section(cfg, METRICS_SECTION) : NULL;

	s->enabled = wasp_element_get_bool(e, "enabled", false);
	s->address = wasp_element_get_str(e, "address", "127.0.0.1");
	s->port = (uint16_t)wasp_element_get_uint(e, "port", 9464);
	s->file = e && e->file ? e->file : NULL;
	s->line = e ? e->line : 0;
}

int
metrics_address_parse(const char *address, uint16_t port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, address, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof(*in);
		return 0;
	}
	if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

int
metrics_conf_check(struct wasp_config *cfg, struct wasp_diag_list *diags)
{
	struct metrics_settings s;
	struct sockaddr_storage ss;
	socklen_t len;

	metrics_settings_read(cfg, &s);
	if (metrics_address_parse(s.address, s.port, &ss, &len) == 0)
		return 0;
	(void)wasp_diag_add(diags, WASP_DIAG_ERROR, s.file ? s.file : "", s.line, "address",
			    "'%s' is not an IPv4 or IPv6 address (" METRICS_SECTION ")", s.address);
	return -EINVAL;
}
