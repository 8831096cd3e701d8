/* Attribute values: text parsed and checked against the schema's type,
 * range and enumeration (bool, uint, int, enum, flags, timeSpan), with
 * the canonical text kept for messages and serialization. */
#include <ctype.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"
#include "timespan.h"

const struct cfg_type cfg_types[] = {
	{ "string", WASP_ATTR_STRING, false, 0, 0, 0 },
	{ "bool", WASP_ATTR_BOOL, false, 0, 0, 0 },
	{ "uint", WASP_ATTR_UINT, false, UINT32_MAX, 0, 0 },
	{ "uint64", WASP_ATTR_UINT, false, UINT64_MAX, 0, 0 },
	{ "int", WASP_ATTR_INT, true, 0, INT32_MIN, INT32_MAX },
	{ "int64", WASP_ATTR_INT, true, 0, INT64_MIN, INT64_MAX },
	{ "enum", WASP_ATTR_ENUM, false, 0, 0, 0 },
	{ "flags", WASP_ATTR_FLAGS, false, 0, 0, 0 },
	{ "timeSpan", WASP_ATTR_TIMESPAN, false, UINT64_MAX, 0, 0 },
};
const size_t cfg_n_types = ELEMENTSOF(cfg_types);

bool
cfg_parse_bool(const char *s, bool *ret)
{
	if (strcaseeq(s, "true")) {
		*ret = true;
		return true;
	}
	if (strcaseeq(s, "false")) {
		*ret = false;
		return true;
	}
	return false;
}

static char *
trim(struct wasp_arena *a, const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	return wasp_arena_strndup(a, s, n);
}

int
cfg_parse_int64(const char *s, int64_t *ret)
{
	uint64_t u;
	bool neg = false;
	int r;

	if (*s == '-' || *s == '+') {
		neg = *s == '-';
		s++;
	}
	r = wasp_parse_u64(s, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &u);
	if (r < 0)
		return r;
	*ret = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

static const struct schema_enum *
find_enum(const struct schema_attr *a, const char *name)
{
	for (size_t i = 0; i < a->n_enums; i++)
		if (strcaseeq(a->enums[i].name, name))
			return &a->enums[i];
	return NULL;
}

static char *
enum_names(struct wasp_arena *arena, const struct schema_attr *a)
{
	char *s = wasp_arena_strdup(arena, "");

	for (size_t i = 0; s && i < a->n_enums; i++)
		s = wasp_arena_printf(arena, "%s%s%s", s, i ? ", " : "", a->enums[i].name);
	return s;
}

static int
value_uint(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
	   struct wasp_value *v, const char **ret_msg)
{
	char *t = trim(arena, text);
	int r;

	if (!t)
		return -ENOMEM;
	r = wasp_parse_u64(t, UINT64_MAX, &v->u);
	if (r == -EINVAL) {
		*ret_msg = wasp_arena_printf(arena, "'%s' is not an unsigned integer (%s)", text,
					     a->type_name);
		return r;
	}
	if (r < 0 || (a->has_max && v->u > a->umax) || (a->has_min && v->u < a->umin)) {
		*ret_msg = wasp_arena_printf(arena, "%s is out of range (%" PRIu64 "-%" PRIu64 ")",
					     text, a->umin, a->umax);
		return -ERANGE;
	}
	v->text = t;
	return 0;
}

static int
value_int(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
	  struct wasp_value *v, const char **ret_msg)
{
	char *t = trim(arena, text);
	int r;

	if (!t)
		return -ENOMEM;
	r = cfg_parse_int64(t, &v->i);
	if (r == -EINVAL) {
		*ret_msg = wasp_arena_printf(arena, "'%s' is not an integer (%s)", text,
					     a->type_name);
		return r;
	}
	if (r < 0 || (a->has_max && v->i > a->imax) || (a->has_min && v->i < a->imin)) {
		*ret_msg = wasp_arena_printf(arena, "%s is out of range (%" PRId64 " to %" PRId64 ")",
					     text, a->imin, a->imax);
		return -ERANGE;
	}
	v->text = t;
	return 0;
}

static int
value_enum(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
	   struct wasp_value *v, const char **ret_msg)
{
	const struct schema_enum *e;
	char *t = trim(arena, text);

	if (!t)
		return -ENOMEM;
	e = find_enum(a, t);
	if (!e) {
		/* IIS also takes the numeric value. */
		uint64_t u;

		if (wasp_parse_u64(t, UINT64_MAX, &u) == 0)
			for (size_t i = 0; i < a->n_enums && !e; i++)
				if (a->enums[i].value == u)
					e = &a->enums[i];
	}
	if (!e) {
		*ret_msg = wasp_arena_printf(arena, "'%s' is not one of: %s", text,
					     enum_names(arena, a));
		return -EINVAL;
	}
	v->u = e->value;
	v->text = e->name;
	return 0;
}

static int
value_flags(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
	    struct wasp_value *v, const char **ret_msg)
{
	char *copy = wasp_arena_strdup(arena, text), *tok, *save = NULL, *t;
	char *canon = wasp_arena_strdup(arena, "");

	if (!copy || !canon)
		return -ENOMEM;
	v->u = 0;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		const struct schema_enum *e;
		uint64_t u;

		t = trim(arena, tok);
		if (!t)
			return -ENOMEM;
		if (!*t)
			continue;
		e = find_enum(a, t);
		if (e) {
			v->u |= e->value;
			continue;
		}
		if (wasp_parse_u64(t, UINT64_MAX, &u) == 0) {
			v->u |= u;
			continue;
		}
		*ret_msg = wasp_arena_printf(arena, "'%s' is not one of: %s", t,
					     enum_names(arena, a));
		return -EINVAL;
	}
	/* Canonical text: the names of the bits set, in schema order. */
	for (size_t i = 0; i < a->n_enums; i++) {
		const struct schema_enum *e = &a->enums[i];

		if ((e->value == 0 && v->u == 0) ||
		    (e->value != 0 && (v->u & e->value) == e->value))
			canon = wasp_arena_printf(arena, "%s%s%s", canon, *canon ? "," : "",
						  e->name);
		if (!canon)
			return -ENOMEM;
	}
	v->text = canon;
	return 0;
}

static int
value_timespan(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
	       struct wasp_value *v, const char **ret_msg)
{
	char tsmin[WASP_TIMESPAN_MAX], tsmax[WASP_TIMESPAN_MAX];
	char *t = trim(arena, text);
	int r;

	if (!t)
		return -ENOMEM;
	r = wasp_timespan_parse(t, &v->u);
	if (r == -EINVAL) {
		*ret_msg = wasp_arena_printf(arena, "'%s' is not a timeSpan ([d.]hh:mm:ss[.fffffff])",
					     text);
		return r;
	}
	if (r < 0 || (a->has_max && v->u > a->umax) || (a->has_min && v->u < a->umin)) {
		*ret_msg = wasp_arena_printf(
			arena, "%s is out of range (%s to %s)", text,
			wasp_timespan_format(a->umin, tsmin, sizeof(tsmin)),
			a->has_max ? wasp_timespan_format(a->umax, tsmax, sizeof(tsmax))
				   : "10675199.02:48:05");
		return -ERANGE;
	}
	v->text = t;
	return 0;
}

int
cfg_value_parse(struct wasp_arena *arena, const struct schema_attr *a, const char *text,
		struct wasp_value *ret, const char **ret_msg)
{
	struct wasp_value v = { .type = a->type, .text = text };
	char *t;
	int r = 0;

	switch (a->type) {
	case WASP_ATTR_STRING:
		if (a->non_empty && !*text) {
			*ret_msg = "must not be empty";
			return -EINVAL;
		}
		break;
	case WASP_ATTR_BOOL:
		t = trim(arena, text);
		if (!t || !cfg_parse_bool(t, &v.b)) {
			*ret_msg = wasp_arena_printf(arena, "'%s' is not a bool (true or false)", text);
			return -EINVAL;
		}
		v.text = v.b ? "true" : "false";
		break;
	case WASP_ATTR_UINT:
		r = value_uint(arena, a, text, &v, ret_msg);
		break;
	case WASP_ATTR_INT:
		r = value_int(arena, a, text, &v, ret_msg);
		break;
	case WASP_ATTR_ENUM:
		r = value_enum(arena, a, text, &v, ret_msg);
		break;
	case WASP_ATTR_FLAGS:
		r = value_flags(arena, a, text, &v, ret_msg);
		break;
	case WASP_ATTR_TIMESPAN:
		r = value_timespan(arena, a, text, &v, ret_msg);
		break;
	default:
		*ret_msg = "unknown type";
		return -EINVAL;
	}
	if (r < 0)
		return r;
	*ret = v;
	return 0;
}
