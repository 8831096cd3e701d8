/* The metrics endpoint's section (metrics_conf.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#define METRICS_SECTION "system.applicationHost/wasp/metrics"

struct wasp_config;
struct wasp_diag_list;

struct metrics_settings {
	bool enabled;
	const char *address; /* an IPv4 or IPv6 literal (checked by metrics_conf_check) */
	uint16_t port;
	const char *file; /* where the section was written, NULL: defaults only */
	int line;
};

void metrics_settings_read(struct wasp_config *cfg, struct metrics_settings *s);
/* address:port as a socket address: 0, or -EINVAL when address is not an
 * IPv4 or IPv6 literal. */
int metrics_address_parse(const char *address, uint16_t port, struct sockaddr_storage *ss,
			  socklen_t *len);
/* What a load must refuse in the section (an address that is not one): 0,
 * or -EINVAL with an error naming file, line and attribute in diags. */
int metrics_conf_check(struct wasp_config *cfg, struct wasp_diag_list *diags);
