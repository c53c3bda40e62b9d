/* SPDX-License-Identifier: MIT */
/*
 * Request heads for the metrics endpoint: where a head ends, and what its request line asks.
 * Header fields are not read: a scrape needs none, and nothing here depends on them.
 * Pure: no I/O, no logging.
 */
#include <string.h>

#include "http.h"

/* The head ends at the first empty line; bare LF line ends are accepted (RFC 9112 2.2). */
static const char *head_end(const char *buf, size_t len) {
	for (size_t i = 0; i + 1 < len; i++)
		if (buf[i] == '\n' && (buf[i + 1] == '\n' ||
				       (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')))
			return buf + i + 1;
	return NULL;
}

static bool is_token_char(char c) {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next space-delimited word of [*p, end): its length, or 0 when there is none. */
static size_t word(const char **p, const char *end, const char **ret) {
	const char *s = *p, *e;

	e = memchr(s, ' ', (size_t)(end - s));
	if (!e)
		e = end;
	*ret = s;
	*p = e < end ? e + 1 : end;
	return (size_t)(e - s);
}

static bool word_is(const char *w, size_t n, const char *s) {
	return n == strlen(s) && memcmp(w, s, n) == 0;
}

static int request_line_status(const char *line, const char *end, const char *path,
			       bool *head_only) {
	const char *p = line, *method, *target, *version;
	size_t n_method = word(&p, end, &method), n_target = word(&p, end, &target);
	size_t n_version = word(&p, end, &version), n_path = strlen(path);

	if (n_method == 0 || n_target == 0 || n_version == 0 || p != end)
		return 400;
	for (size_t i = 0; i < n_method; i++)
		if (!is_token_char(method[i]))
			return 400;
	for (size_t i = 0; i < n_target; i++)
		if ((unsigned char)target[i] <= ' ' || target[i] == 0x7f)
			return 400;
	if (n_version != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.')
		return 400;
	if (!word_is(version, n_version, "HTTP/1.1") && !word_is(version, n_version, "HTTP/1.0"))
		return 505;
	*head_only = word_is(method, n_method, "HEAD");
	if (!*head_only && !word_is(method, n_method, "GET"))
		return 405;
	if (n_target < n_path || memcmp(target, path, n_path) != 0 ||
	    (n_target > n_path && target[n_path] != '?'))
		return 404;
	return 200;
}

struct http_request http_request_check(const char *buf, size_t len, const char *path) {
	struct http_request r = { 0 };
	const char *end = head_end(buf, len), *eol;

	if (!end) {
		r.status = len >= HTTP_HEAD_MAX ? 431 : 0;
		return r;
	}
	eol = memchr(buf, '\n', (size_t)(end - buf));
	if (eol > buf && eol[-1] == '\r')
		eol--;
	r.status = request_line_status(buf, eol, path, &r.head_only);
	return r;
}

const char *http_reason(int status) {
	switch (status) {
		case 200:
			return "OK";
		case 400:
			return "Bad Request";
		case 404:
			return "Not Found";
		case 405:
			return "Method Not Allowed";
		case 431:
			return "Request Header Fields Too Large";
		case 505:
			return "HTTP Version Not Supported";
		default:
			return "Error";
	}
}
