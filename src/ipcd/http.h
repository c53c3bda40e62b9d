/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * The little HTTP the metrics endpoint speaks: one request head in, one answer out, then the
 * connection closes. Enough for Prometheus, curl and a browser; nothing else is served.
 */

#define HTTP_HEAD_MAX 4096 /* a request head longer than this is refused (431) */

struct http_request {
	int status;     /* 0 while the head is incomplete; else the answer's status code */
	bool head_only; /* HEAD: the same answer without its body */
};

/* Looks at the first len bytes received. The answer is 200 for GET or HEAD of path (any query
 * string aside), 404 for another path, 405 for another method, 505 for another HTTP version,
 * 400 for what is not a request line, 431 once HTTP_HEAD_MAX bytes hold no complete head. */
struct http_request http_request_check(const char *buf, size_t len, const char *path);

/* "OK", "Not Found", …, for the status line. */
const char *http_reason(int status);
