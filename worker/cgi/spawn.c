/* A CGI request's argv (cgi.h). */
#include <string.h>

#include "cgi.h"

size_t
cgi_split_args(char *s, char **argv, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		char *start, *o;

		s += strspn(s, " \t");
		if (!*s)
			break;
		start = o = s;
		for (bool q = false; *s && (q || (*s != ' ' && *s != '\t')); s++) {
			if (*s == '"')
				q = !q;
			else
				*o++ = *s;
		}
		if (*s)
			s++;
		*o = '\0';
		argv[n++] = start;
	}
	return n;
}

size_t
cgi_script_argv(char *script_processor, char *script, char **argv, size_t max)
{
	size_t n_words = 0, n = 0;
	unsigned subst = 0;

	if (max == 0) {
		argv[0] = NULL;
		return 0;
	}
	if (script_processor)
		n_words = cgi_split_args(script_processor, argv, max);
	for (size_t k = 0; k < n_words; k++) {
		if (strcmp(argv[k], "%s") != 0)
			argv[n++] = argv[k];
		else if (subst++ == 0)
			argv[n++] = script;
	}
	if ((n_words == 0 || !subst) && n < max)
		argv[n++] = script;
	argv[n] = NULL;
	return n;
}
