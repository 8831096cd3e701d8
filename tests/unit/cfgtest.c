#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cfgtest.h"

char *
cfgtest_section_json(struct wasp_config *cfg, const char *site_path, const char *section,
		     bool strict)
{
	struct wasp_diag_list d = WASP_DIAG_LIST_INIT;
	const struct wasp_element *e = NULL;
	json_t *j;
	char *s;

	if (site_path) {
		int r = wasp_config_effective_section(cfg, site_path, section, &e, &d);

		if (strict)
			ck_assert_int_eq(r, 0);
		else
			ck_assert(r == 0 || r == -EINVAL);
	} else {
		e = wasp_config_section(cfg, section);
	}
	wasp_diag_list_done(&d);
	if (strict)
		ck_assert_ptr_nonnull(e);
	if (!e)
		return strdup("(none)");
	j = wasp_element_to_json(e);
	ck_assert_ptr_nonnull(j);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	ck_assert_ptr_nonnull(s);
	return s;
}
