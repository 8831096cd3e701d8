/* What no configuration file may hold: a document type declaration, found
 * in the raw bytes before libxml2 parses them. */
#include <stdbool.h>
#include <stddef.h>

#include "internal.h"

/* The line of a document type declaration in buf's prolog (where XML allows
 * one: before the root element), or 0 when there is none. IIS's
 * configuration files have no DTD; one could declare entities whose
 * expansion costs without bound, so it is refused before libxml2 sees it.
 * buf is read as ASCII-compatible (UTF-8) or, by its byte order mark or its
 * first '<', as UTF-16 (every other byte); libxml2's tree is checked as
 * well after parsing, for any other encoding. */
int
cfg_prolog_doctype_line(const char *buf, size_t len)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t start = 0, step = 1, n;
	int line = 1;

	if (len >= 2 && ((b[0] == 0xff && b[1] == 0xfe) || (b[0] == '<' && b[1] == 0))) {
		step = 2; /* UTF-16LE: the ASCII byte first */
		start = b[0] == 0xff ? 2 : 0;
	} else if (len >= 2 && ((b[0] == 0xfe && b[1] == 0xff) || (b[0] == 0 && b[1] == '<'))) {
		step = 2; /* UTF-16BE */
		start = b[0] == 0xfe ? 3 : 1;
	} else if (len >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf)
		start = 3; /* UTF-8 byte order mark */
	n = start < len ? (len - start + step - 1) / step : 0;
#define AT(i) ((i) < n ? (char)b[start + (i) * step] : '\0')
	for (size_t i = 0; i < n;) {
		char c = AT(i);

		if (c == '\n')
			line++;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c != '<')
			return 0; /* not well-formed: libxml2 says why */
		if (AT(i + 1) == '?' || (AT(i + 1) == '!' && AT(i + 2) == '-' && AT(i + 3) == '-')) {
			/* a processing instruction or a comment: up to its end */
			bool pi = AT(i + 1) == '?';

			for (i += pi ? 2 : 4; i < n; i++) {
				if (AT(i) == '\n')
					line++;
				if (pi ? (AT(i) == '?' && AT(i + 1) == '>')
				       : (AT(i) == '-' && AT(i + 1) == '-' && AT(i + 2) == '>'))
					break;
			}
			i += pi ? 2 : 3;
			continue;
		}
		if (AT(i + 1) == '!') {
			static const char word[] = "DOCTYPE";
			bool doctype = true;

			for (size_t k = 0; k < sizeof(word) - 1 && doctype; k++)
				doctype = AT(i + 2 + k) == word[k];
			return doctype ? line : 0;
		}
		return 0; /* the root element: no DOCTYPE can follow */
	}
#undef AT
	return 0;
}
