/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics-text.h"
#include "tests.h"

static char *render(const struct metrics_snapshot *m) {
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	metrics_text_write(m, f);
	fclose(f);
	return buf;
}

TEST(every_family_has_help_and_type_once) {
	struct metrics_snapshot m = { .version = "1.2.3" };
	char *text = render(&m), *p = text;
	int help = 0, type = 0;

	while ((p = strstr(p, "\n# ")))
		help += strncmp(++p, "# HELP ", 7) == 0, type += strncmp(p, "# TYPE ", 7) == 0;
	help += strncmp(text, "# HELP ", 7) == 0;
	ASSERT_EQ(help, type);
	ASSERT_TRUE(help >= 15);
	ASSERT_CONTAINS(text, "ipcd_build_info{version=\"1.2.3\"} 1\n");
	ASSERT_CONTAINS(text, "# TYPE ipcd_reloads_total counter\n");
	ASSERT_CONTAINS(text, "# TYPE ipcd_connections_open gauge\n");
	free(text);
}

TEST(values_and_labels) {
	struct metrics_socket sockets[] = {
		{ .name = "ipcd", .type = "stream", .open = 3, .accepted = 10 },
		{ .name = "a\"b\\c\nd", .type = "seqpacket", .open = 0, .accepted = 1 },
	};
	struct admit_uid_open uids[] = { { 1000, 2 }, { 0, 1 } };
	struct metrics_snapshot m = {
		.version = "x",
		.start_time_usec = 1700000000123456,
		.last_reload_time_usec = 0,
		.sockets = sockets,
		.n_sockets = 2,
		.uids = uids,
		.n_uids = 2,
		.reloads_refused = 1,
		.totals = { .bytes = 12345, .closed_by = { [CLOSE_IDLE] = 4 }, .dgram_unread = 7 },
		.refused = { [ADMIT_DENIED] = 5 },
	};
	char *text = render(&m);

	ASSERT_CONTAINS(text, "ipcd_start_time_seconds 1700000000.123456\n");
	ASSERT_CONTAINS(text, "ipcd_last_reload_time_seconds 0.000000\n");
	ASSERT_CONTAINS(text, "ipcd_last_reload_success 0\n");
	ASSERT_CONTAINS(text, "ipcd_reloads_total{result=\"refused\"} 1\n");
	ASSERT_CONTAINS(text, "ipcd_connections_open{socket=\"ipcd\",type=\"stream\"} 3\n");
	ASSERT_CONTAINS(text, "ipcd_connections_accepted_total{socket=\"a\\\"b\\\\c\\nd\","
			      "type=\"seqpacket\"} 1\n");
	ASSERT_CONTAINS(text, "ipcd_connections_closed_total{reason=\"idle-timeout\"} 4\n");
	ASSERT_CONTAINS(text, "ipcd_connections_refused_total{reason=\"denied\"} 5\n");
	ASSERT_CONTAINS(text, "ipcd_uid_connections_open{uid=\"1000\"} 2\n");
	ASSERT_CONTAINS(text, "ipcd_echoed_bytes_total 12345\n");
	ASSERT_CONTAINS(text, "ipcd_datagrams_dropped_total{cause=\"peer-not-reading\"} 7\n");
	free(text);
}
