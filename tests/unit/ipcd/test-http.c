/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "http.h"
#include "tests.h"

static struct http_request check(const char *s) {
	return http_request_check(s, strlen(s), "/metrics");
}

TEST(scrape_is_answered) {
	ASSERT_EQ(check("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n").status, 200);
	ASSERT_EQ(check("GET /metrics HTTP/1.0\n\n").status, 200);
	ASSERT_EQ(check("GET /metrics?name[]=x HTTP/1.1\r\n\r\n").status, 200);
	ASSERT_TRUE(!check("GET /metrics HTTP/1.1\r\n\r\n").head_only);
	ASSERT_TRUE(check("HEAD /metrics HTTP/1.1\r\n\r\n").head_only);
	ASSERT_EQ(check("HEAD /metrics HTTP/1.1\r\n\r\n").status, 200);
}

TEST(incomplete_head_waits) {
	ASSERT_EQ(check("").status, 0);
	ASSERT_EQ(check("GET /metrics HTTP/1.1\r\n").status, 0);
	ASSERT_EQ(check("GET /metrics HTTP/1.1\r\nHost: x\r\n\r").status, 0);
}

TEST(other_requests_are_refused) {
	ASSERT_EQ(check("GET / HTTP/1.1\r\n\r\n").status, 404);
	ASSERT_EQ(check("GET /metricsx HTTP/1.1\r\n\r\n").status, 404);
	ASSERT_EQ(check("GET /metric HTTP/1.1\r\n\r\n").status, 404);
	ASSERT_EQ(check("POST /metrics HTTP/1.1\r\n\r\n").status, 405);
	ASSERT_EQ(check("GET /metrics HTTP/2.0\r\n\r\n").status, 505);
	ASSERT_EQ(check("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").status, 505);
	ASSERT_EQ(check("GET /metrics\r\n\r\n").status, 400);
	ASSERT_EQ(check("GET  /metrics HTTP/1.1\r\n\r\n").status, 400);
	ASSERT_EQ(check("GET /metrics HTTP/1.1 x\r\n\r\n").status, 400);
	ASSERT_EQ(check("G(T /metrics HTTP/1.1\r\n\r\n").status, 400);
	ASSERT_EQ(check("GET /met\x01rics HTTP/1.1\r\n\r\n").status, 400);
	ASSERT_EQ(check("\r\n\r\n").status, 400);
	ASSERT_EQ(check("GET /metrics FTP/1.1\r\n\r\n").status, 400);
}

TEST(long_head_is_refused_once_full) {
	char buf[HTTP_HEAD_MAX];

	memset(buf, 'a', sizeof(buf));
	ASSERT_EQ(http_request_check(buf, sizeof(buf) - 1, "/metrics").status, 0);
	ASSERT_EQ(http_request_check(buf, sizeof(buf), "/metrics").status, 431);
}

TEST(reasons) {
	ASSERT_STREQ(http_reason(200), "OK");
	ASSERT_STREQ(http_reason(404), "Not Found");
	ASSERT_STREQ(http_reason(431), "Request Header Fields Too Large");
}
