/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "macro.h"
#include "tests.h"

static char tmpdir[] = "/tmp/ipcd-test-conf.XXXXXX";

struct messages {
	char text[8192];
	unsigned n;
};

static void collect(const char *m, void *userdata) {
	struct messages *ms = userdata;
	size_t o = strlen(ms->text);
	snprintf(ms->text + o, sizeof(ms->text) - o, "%s\n", m);
	ms->n++;
}

/* Writes text to a file in the private directory and loads it. */
static int load_text(const char *text, struct messages *ms, struct ipcd_config **ret) {
	char path[128];
	FILE *f;

	if (!tmpdir[strlen(tmpdir) - 1] || strstr(tmpdir, "XXXXXX"))
		if (!mkdtemp(tmpdir))
			abort();
	snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
	f = fopen(path, "we");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	memset(ms, 0, sizeof(*ms));
	return conf_load(path, true, collect, ms, ret);
}

TEST(defaults) {
	struct ipcd_config *c = conf_new_default();
	ASSERT_TRUE(c);
	ASSERT_EQ(c->max_connections, 1024);
	ASSERT_EQ(c->max_connections_per_uid, 0);
	ASSERT_EQ(c->buffer_size, 65536);
	ASSERT_EQ(c->max_message_size, 65536);
	ASSERT_EQ(c->idle_timeout_usec, 300 * USEC_PER_SEC);
	ASSERT_EQ(c->socket_mode, 0660);
	ASSERT_EQ(c->shutdown_timeout_usec, 10 * USEC_PER_SEC);
	ASSERT_EQ(c->log_level, LOG_INFO);
	ASSERT_TRUE(!c->log_connections);
	ASSERT_EQ(c->stats_interval_usec, 60 * USEC_PER_SEC);
	ASSERT_EQ(c->listen.n, 1);
	ASSERT_STREQ(c->listen.items[0], RUNSTATEDIR "/ipcd/ipcd.sock");
	conf_unref(c);
}

TEST(values_and_units) {
	struct ipcd_config *c = NULL;
	struct messages ms;
	ASSERT_EQ(load_text("limits = { buffer_size = \"1MiB\"; max_message_size = \"4K\";\n"
			    "  idle_timeout = \"1500ms\"; max_connection_bytes = 5000000000L;\n"
			    "  max_connection_time = \"2h\"; accept_rate = 100; };\n"
			    "access = { allow_uids = ( \"root\", 1000 ); allow_gids = [ 0 ]; };\n"
			    "listen = [ \"/tmp/a.sock\", \"@b\" ];\nsocket_mode = \"0600\";\n"
			    "log = { level = \"debug\"; connections = true; };\n",
			    &ms, &c),
		  0);
	ASSERT_EQ(ms.n, 0);
	ASSERT_EQ(c->buffer_size, 1 << 20);
	ASSERT_EQ(c->max_message_size, 4096);
	ASSERT_EQ(c->idle_timeout_usec, 1500000);
	ASSERT_EQ(c->max_connection_bytes, 5000000000LL);
	ASSERT_EQ(c->max_connection_time_usec, 7200 * USEC_PER_SEC);
	ASSERT_EQ(c->allow_uids.n, 2);
	ASSERT_EQ(c->allow_uids.ids[0], 0);
	ASSERT_EQ(c->allow_uids.ids[1], 1000);
	ASSERT_EQ(c->listen.n, 2);
	ASSERT_STREQ(c->listen.items[1], "@b");
	ASSERT_EQ(c->socket_mode, 0600);
	ASSERT_EQ(c->log_level, LOG_DEBUG);
	ASSERT_TRUE(c->log_connections);
	conf_unref(c);
}

/* Each bad file gives exactly one message: FILE:LINE, then this text. */
static const struct {
	const char *text;
	int line;
	const char *message;
} bad[] = {
	{ "limits = {\n buffer_size = 12;\n};\n", 2,
	  "limits.buffer_size = 12: out of range (allowed: 512 to 16777216 bytes" },
	{ "limits = { max_connections = 0; };\n", 1,
	  "limits.max_connections = 0: out of range (allowed: 1 to 1048576)" },
	{ "limits = { max_connections = -5; };\n", 1, "limits.max_connections = -5: out of range" },
	{ "limits = { max_connections = \"10\"; };\n", 1,
	  "limits.max_connections = \"10\": must be an integer, not a string" },
	{ "limits = { max_connections = 1.5; };\n", 1,
	  "limits.max_connections = 1.5: must be an integer" },
	{ "limits = { buffer_size = \"64Q\"; };\n", 1,
	  "limits.buffer_size = \"64Q\": not a size (allowed:" },
	{ "limits = { idle_timeout = \"5 parsecs\"; };\n", 1,
	  "limits.idle_timeout = \"5 parsecs\": not a duration" },
	{ "limits = { idle_timeout = 86401; };\n", 1,
	  "limits.idle_timeout = 86401: out of range (allowed: 0 (off) to 86400 seconds" },
	{ "limits = { max_connection_bytes = 5000000000; };\n", 1,
	  "limits.max_connection_bytes = 5000000000: too large for a plain integer, write it with "
	  "an L suffix" },
	/* libconfig would read these truncated: 4294967296 as uid 0, root. */
	{ "access = { allow_uids = [ 4294967296 ]; };\n", 1,
	  "access.allow_uids = 4294967296: too large for a plain integer" },
	{ "limits = {\n max_connection_bytes\n  = 5000000000;\n};\n", 3,
	  "limits.max_connection_bytes = 5000000000: too large for a plain integer" },
	{ "limits = { idle_timeout = 0x100000000; };\n", 1, "= 0x100000000: too large" },
	{ "@include \"other.conf\"\n", 1, "@include is not supported" },
	{ "limits = { max_connection_bytes = \"5Q\"; };\n", 1,
	  "limits.max_connection_bytes = \"5Q\": not a size" },
	{ "limits = { max_connection_bytes = 4611686018427387905L; };\n", 1,
	  "limits.max_connection_bytes = 4611686018427387905L: out of range" },
	{ "limits = { max_conections = 5; };\n", 1,
	  "unknown setting \"limits.max_conections\" (did you mean \"limits.max_connections\"?)" },
	{ "limits = { workers = 2; };\n", 1,
	  "unknown setting \"limits.workers\" (did you mean \"workers\"?)" },
	{ "\n\nfrobnicate = true;\n", 3, "unknown setting \"frobnicate\"\n" },
	{ "limits = 5;\n", 1, "limits must be a group" },
	{ "log = { level = \"loud\"; };\n", 1, "log.level = \"loud\": unknown level" },
	{ "log = { connections = 1; };\n", 1, "log.connections = 1: must be true or false" },
	{ "socket_mode = \"0999\";\n", 1, "socket_mode = \"0999\": must be an octal string" },
	{ "socket_mode = 660;\n", 1, "socket_mode = 660: must be an octal string" },
	{ "listen = [];\n", 1, "listen = [ ]: must not be empty" },
	{ "listen = [ \"\" ];\n", 1, "is not a socket path or @name" },
	{ "listen = [ \"/a\", \"/a\" ];\n", 1, "\"/a\" is listed twice" },
	{ "listen = [ \"/run/a\", \"@a\", \"/run/./a/\" ];\n", 1,
	  "\"/run/a\" and \"/run/./a/\" are the same socket, listed twice" },
	{ "listen = \"/a\";\n", 1, "listen = \"/a\": must be a list of strings" },
	{ "listen = [ "
	  "\"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" ];\n",
	  1, "is too long for a socket address" },
	{ "access = { allow_uids = [ \"no-such-user-ipcd\" ]; };\n", 1,
	  "unknown user \"no-such-user-ipcd\"" },
	{ "access = { allow_gids = [ -1 ]; };\n", 1, "-1 is not a valid gid" },
	{ "workers = 1025;\n", 1,
	  "workers = 1025: out of range (allowed: 0 (one per CPU), 1 to 1024)" },
	{ "limits = { max_connections = 10; max_connections_per_uid = 11; };\n", 1,
	  "limits.max_connections_per_uid = 11: exceeds limits.max_connections (10)" },
	{ "limits = { buffer_size = 1024; };\n", 1,
	  "limits.buffer_size = 1024: below limits.max_message_size (65536)" },
	{ "limits = { max_connections = ; };\n", 1, "syntax error" },
	{ "limits = { buffer_size = 64K; };\n", 1,
	  "syntax error at '64K': write sizes and durations as strings: \"64K\"" },
	{ "log = {\n connections = on; };\n", 2,
	  "syntax error at 'on': a boolean is true or false" },
	{ "socket_mode = 0640;\n", 1, "socket_mode = 0640: must be an octal string, in quotes" },
	{ "limits = { a = 1; a = 2; };\n", 1, "syntax error: duplicate setting name" },
	{ "listen = [ \"tcp:1.2.3.4\" ];\n", 1,
	  "\"tcp:1.2.3.4\" is not tcp:IPV4:PORT or tcp:[IPV6]:PORT (numeric address, port 1 to "
	  "65535) (allowed: a list of 1 to 64 sockets:" },
	{ "listen = [ \"tcp:127.0.0.1:0\" ];\n", 1, "\"tcp:127.0.0.1:0\" is not tcp:IPV4:PORT" },
	{ "listen = [ \"seqpacket:\" ];\n", 1,
	  "\"seqpacket:\" is not \"seqpacket:\" or \"dgram:\" and a socket path or @name" },
	{ "listen = [ \"dgram:@\" ];\n", 1, "\"dgram:@\" is not \"seqpacket:\" or \"dgram:\"" },
	{ "listen = [ \"/a\", \"dgram:/a\" ];\n", 1,
	  "\"/a\" and \"dgram:/a\" are the same socket file, listed twice" },
	{ "listen = [ \"tcp:127.0.0.1:80\", \"tcp:127.0.0.1:80\" ];\n", 1,
	  "\"tcp:127.0.0.1:80\" is listed twice" },
	{ "listen = [ \"tcp:[::1]:80\", \"tcp:[0::1]:80\" ];\n", 1,
	  "\"tcp:[::1]:80\" and \"tcp:[0::1]:80\" are the same socket, listed twice" },
	{ "listen = [ \"seqpacket:@a\", \"seqpacket:@a\" ];\n", 1, "is listed twice" },
	{ "metrics = [ \"dgram:/m\" ];\n", 1,
	  "metrics = [ \"dgram:/m\" ]: \"dgram:/m\" is a dgram socket; metrics are served over "
	  "stream sockets only" },
	{ "metrics = [ \"seqpacket:@m\" ];\n", 1, "is a seqpacket socket; metrics are served" },
};

/* Every kind of listen address, and those that look alike but are not one socket. */
TEST(listen_takes_every_socket_type) {
	struct ipcd_config *c = NULL;
	struct messages ms;

	ASSERT_EQ(load_text("listen = [ \"/a\", \"seqpacket:/b\", \"dgram:/c\", \"@a\", "
			    "\"seqpacket:@a\", \"dgram:@a\", \"tcp:127.0.0.1:80\", "
			    "\"tcp:127.0.0.2:80\", \"tcp:[::1]:80\", \"./dgram:/x\" ];\n"
			    "metrics = [ \"/m\", \"@m\", \"tcp:[::1]:81\" ];\n",
			    &ms, &c),
		  0);
	ASSERT_EQ(c->listen.n, 10);
	ASSERT_STREQ(c->listen.items[2], "dgram:/c");
	ASSERT_EQ(c->metrics.n, 3);
	conf_unref(c);
}

TEST(bad_values_name_file_line_setting_and_allowed) {
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ipcd_config *c = NULL;
		struct messages ms;
		char prefix[160];
		int r = load_text(bad[i].text, &ms, &c);

		snprintf(prefix, sizeof(prefix), "%s/t.conf:%d: ", tmpdir, bad[i].line);
		if (r != -EINVAL || c)
			ASSERT_FAIL_("case %zu accepted (r=%d): %s", i, r, bad[i].text);
		if (ms.n != 1 || strncmp(ms.text, prefix, strlen(prefix)) != 0 ||
		    !strstr(ms.text, bad[i].message))
			ASSERT_FAIL_("case %zu: got %u message(s):\n%swanted %s%s", i, ms.n,
				     ms.text, prefix, bad[i].message);
	}
}

TEST(literals_in_comments_and_strings_are_not_numbers) {
	struct ipcd_config *c = NULL;
	struct messages ms;
	ASSERT_EQ(load_text("# 99999999999\n/* max_connections = 5000000000 */ limits = {\n"
			    "  max_connections = 10; // 77777777777\n};\n"
			    "listen = [ \"/tmp/88888888888.sock\" ];\n",
			    &ms, &c),
		  0);
	ASSERT_EQ(ms.n, 0);
	ASSERT_EQ(c->max_connections, 10);
	conf_unref(c);
}

TEST(every_error_is_reported_in_line_order) {
	struct ipcd_config *c = NULL;
	struct messages ms;
	const char *p;

	ASSERT_EQ(
		load_text("workers = \"x\";\nlimits = { max_conections = 5;\n buffer_size = 1; };\n"
			  "log = { level = \"loud\"; };\n",
			  &ms, &c),
		-EINVAL);
	ASSERT_TRUE(!c);
	ASSERT_EQ(ms.n, 4);
	p = strstr(ms.text, "t.conf:1: workers");
	ASSERT_TRUE(p);
	p = strstr(p, "t.conf:2: unknown setting");
	ASSERT_TRUE(p);
	p = strstr(p, "t.conf:3: limits.buffer_size");
	ASSERT_TRUE(p);
	ASSERT_TRUE(strstr(p, "t.conf:4: log.level"));
}

TEST(missing_files) {
	struct ipcd_config *c = NULL;
	struct messages ms = { .n = 0 };

	ASSERT_EQ(conf_load("/nonexistent/ipcd.conf", false, collect, &ms, &c), 1);
	ASSERT_TRUE(c);
	ASSERT_EQ(c->max_connections, 1024);
	conf_unref(c);
	c = NULL;
	ASSERT_EQ(conf_load("/nonexistent/ipcd.conf", true, collect, &ms, &c), -ENOENT);
	ASSERT_TRUE(!c);
	ASSERT_CONTAINS(ms.text, "/nonexistent/ipcd.conf: cannot read: No such file or directory");
	ms = (struct messages){ .n = 0 };
	/* A directory exists but cannot be read as a file: an error even when optional. */
	ASSERT_TRUE(conf_load("/", false, collect, &ms, &c) < 0);
	ASSERT_EQ(ms.n, 1);
}

TEST(dump_reads_back_identically) {
	struct ipcd_config *c = NULL, *d = NULL;
	struct messages ms;
	char *dump1 = NULL, *dump2 = NULL;
	size_t n1, n2;
	FILE *f;

	ASSERT_EQ(
		load_text("limits = { max_connection_bytes = \"5G\"; idle_timeout = \"1500ms\"; "
			  "max_connection_time = 2147483648L; };\n"
			  "access = { allow_uids = [ 0, 5 ]; };\nlisten = [ \"/x \\\"y\\\"\" ];\n",
			  &ms, &c),
		0);
	f = open_memstream(&dump1, &n1);
	conf_dump(c, f);
	fclose(f);
	ASSERT_EQ(load_text(dump1, &ms, &d), 0);
	f = open_memstream(&dump2, &n2);
	conf_dump(d, f);
	fclose(f);
	ASSERT_STREQ(dump1, dump2);
	ASSERT_CONTAINS(dump1, "max_connection_bytes = 5368709120L;");
	ASSERT_CONTAINS(dump1, "idle_timeout = \"1500ms\";");
	ASSERT_STREQ(d->listen.items[0], "/x \"y\"");
	free(dump1);
	free(dump2);
	conf_unref(c);
	conf_unref(d);
}

static void count_change(const char *name, const char *o, const char *n, bool restart,
			 void *userdata) {
	char *log = userdata;
	size_t len = strlen(log);
	snprintf(log + len, 1024 - len, "%s:%s->%s%s;", name, o, n, restart ? "!" : "");
}

TEST(diff_names_changes_and_restart_only_ones) {
	struct ipcd_config *a = conf_new_default(), *b = NULL;
	struct messages ms;
	char log[1024] = "";

	ASSERT_EQ(load_text("limits = { max_connections = 10; };\nworkers = 3;\n", &ms, &b), 0);
	ASSERT_EQ(conf_diff(a, b, count_change, log), 2);
	ASSERT_STREQ(log, "limits.max_connections:1024->10;workers:0->3!;");
	ASSERT_EQ(conf_diff(a, a, count_change, log), 0);
	conf_unref(a);
	conf_unref(b);
}

static char *read_all(const char *path) {
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = calloc(1, 1 << 20);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const char *srcdir(void) {
	const char *s = getenv("SRCDIR");
	return s ? s : ".";
}

/* conf/ipcd.conf documents every setting right above it, with the table's own texts. */
TEST(shipped_conf_is_in_step_with_the_table) {
	char path[512], *text;
	struct ipcd_config *c = NULL, *def = conf_new_default();
	struct messages ms = { .n = 0 };

	snprintf(path, sizeof(path), "%s/conf/ipcd.conf", srcdir());
	text = read_all(path);
	ASSERT_TRUE(text);
	for (size_t i = 0; i < conf_n_settings(); i++) {
		const char *name = conf_setting_name(i), *leaf = strrchr(name, '.');
		char want_doc[600], want_line[600], d[256], a[256], *line, *prev;

		leaf = leaf ? leaf + 1 : name;
		conf_setting_default_text(i, d, sizeof(d));
		conf_setting_allowed_text(i, a, sizeof(a));
		snprintf(want_doc, sizeof(want_doc), "# Default: %s. Allowed: %s.\n", d, a);
		snprintf(want_line, sizeof(want_line), "%s = %s;\n", leaf, d);
		line = strstr(text, want_line);
		if (!line)
			ASSERT_FAIL_("%s: no line \"%s = %s;\"", path, leaf, d);
		while (line > text && line[-1] != '\n')
			line--; /* indentation, or a "# " that comments it out */
		prev = line - 1;
		while (prev > text && prev[-1] != '\n')
			prev--;
		if (line == text || strncmp(strchr(prev, '#'), want_doc, strlen(want_doc)) != 0)
			ASSERT_FAIL_("%s: above \"%s\" want \"%.*s\"", path, leaf,
				     (int)strlen(want_doc) - 1, want_doc);
	}
	/* … and sets exactly the defaults. */
	ASSERT_EQ(conf_load(path, true, collect, &ms, &c), 0);
	ASSERT_EQ(conf_diff(def, c, count_change, (char[1024]){ "" }), 0);
	free(text);
	conf_unref(c);
	conf_unref(def);
}

TEST(man_page_documents_every_setting) {
	char path[512], *text, tag[128];

	snprintf(path, sizeof(path), "%s/man/ipcd.conf.5", srcdir());
	text = read_all(path);
	ASSERT_TRUE(text);
	for (size_t i = 0; i < conf_n_settings(); i++) {
		snprintf(tag, sizeof(tag), ".It Ic %s", conf_setting_name(i));
		if (!strstr(text, tag))
			ASSERT_FAIL_("%s lacks \"%s\"", path, tag);
	}
	free(text);
}

/* Only a regular file (or /dev/null) is read; a FIFO is refused without blocking. */
TEST(only_regular_files) {
	struct ipcd_config *c = NULL;
	struct messages ms;
	char path[160], want[256];

	ASSERT_EQ(load_text("", &ms, &c), 0); /* creates tmpdir */
	conf_unref(c);
	c = NULL;
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	unlink(path);
	ASSERT_EQ(mkfifo(path, 0600), 0);
	ms = (struct messages){ .n = 0 };
	ASSERT_EQ(conf_load(path, true, collect, &ms, &c), -EINVAL);
	ASSERT_TRUE(!c);
	snprintf(want, sizeof(want), "'%s' is a FIFO, not a regular file", path);
	ASSERT_CONTAINS(ms.text, want);
	unlink(path);
	ms = (struct messages){ .n = 0 };
	ASSERT_EQ(conf_load(tmpdir, false, collect, &ms, &c), -EISDIR);
	snprintf(want, sizeof(want), "'%s' is a directory, not a regular file", tmpdir);
	ASSERT_CONTAINS(ms.text, want);
	ASSERT_EQ(ms.n, 1);
	ms = (struct messages){ .n = 0 };
	ASSERT_EQ(conf_load("/dev/null", true, collect, &ms, &c), 0);
	ASSERT_EQ(ms.n, 0);
	ASSERT_EQ(c->max_connections, 1024);
	conf_unref(c);
}

TEST(size_cap) {
	struct ipcd_config *c = NULL;
	struct messages ms;
	char *text = malloc(24 * 1024 + 2), want[256];
	size_t n = 0;

	ASSERT_TRUE(text);
	/* Exactly at the cap: read (and parsed). */
	n += (size_t)sprintf(text, "workers = 2;\n");
	memset(text + n, '#', 24 * 1024 - n - 1);
	text[24 * 1024 - 1] = '\n';
	text[24 * 1024] = '\0';
	ASSERT_EQ(load_text(text, &ms, &c), 0);
	ASSERT_EQ(c->workers, 2);
	conf_unref(c);
	c = NULL;
	/* One byte more: refused before parsing. */
	text[24 * 1024] = '\n';
	text[24 * 1024 + 1] = '\0';
	ASSERT_EQ(load_text(text, &ms, &c), -EFBIG);
	ASSERT_TRUE(!c);
	snprintf(want, sizeof(want), "t.conf' is 24577 bytes; ipcd reads at most 24576 (24 KiB)");
	ASSERT_CONTAINS(ms.text, want);
	ASSERT_EQ(ms.n, 1);
	free(text);
}

TEST(writable_by_others_warns) {
	struct ipcd_config *c = NULL;
	struct messages ms, warnings = { .n = 0 };
	char path[160];

	ASSERT_EQ(load_text("workers = 3;\n", &ms, &c), 0);
	conf_unref(c);
	c = NULL;
	snprintf(path, sizeof(path), "%s/t.conf", tmpdir);
	ASSERT_EQ(chmod(path, 0644), 0);
	ASSERT_EQ(conf_load_warn(path, true, collect, collect, &warnings, &c), 0);
	ASSERT_EQ(warnings.n, 0);
	conf_unref(c);
	c = NULL;
	ASSERT_EQ(chmod(path, 0666), 0);
	ASSERT_EQ(conf_load_warn(path, true, collect, collect, &warnings, &c), 0);
	ASSERT_EQ(warnings.n, 1); /* a warning, and still loaded */
	ASSERT_CONTAINS(warnings.text, "can be changed by users other than root and ipcd: every "
				       "user can write it (mode 0666)");
	ASSERT_EQ(c->workers, 3);
	conf_unref(c);
}
