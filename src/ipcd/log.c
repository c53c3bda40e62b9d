/* SPDX-License-Identifier: MIT */
/*
 * Levels, journal-or-stderr output, the SPEC's structured events and their rate limits.
 * Everything the daemon says goes through here; nothing else writes to stderr.
 */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>

#include "admit.h"
#include "log.h"
#include "parse.h"

#define RATELIMIT_INTERVAL_USEC (5 * USEC_PER_SEC)
#define RATELIMIT_BURST 10

struct ratelimit {
	uint64_t begin_usec;
	unsigned n;
	unsigned suppressed;
};

static const struct {
	const char *name;
	const char *message_id;
} events[_LOG_EVENT_MAX] = {
	[LOG_EVENT_START] = { "start", "8b425d899d124fb48b32fb7e7e9efb4d" },
	[LOG_EVENT_READY] = { "ready", "9ec5317039de4184a608e020962a1382" },
	[LOG_EVENT_CONNECT] = { "connect", "0b45c0c5b4ff4000ac84e963cf3205f7" },
	[LOG_EVENT_DISCONNECT] = { "disconnect", "e21c26cd81a24740a5182f3e9ee9265b" },
	[LOG_EVENT_REFUSED] = { "refused", "1398f5479c5c475ea6452d671a40397f" },
	[LOG_EVENT_DENIED] = { "denied", "93d3d27e222c4cf3bdd0c1a4602d891b" },
	[LOG_EVENT_RELOAD] = { "reload", "40166eda9a0f4f8ebdf03335d55a05c9" },
	[LOG_EVENT_STATS] = { "stats", "32a9a9508ff148cb93622ac0556be22d" },
	[LOG_EVENT_STOP] = { "stop", "bf4b8b774b4b4cee9995881d72b7390c" },
};

static atomic_int max_level = LOG_INFO;
static bool to_journal;
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ratelimit ratelimits[_LOG_EVENT_MAX];

/* systemd sets $JOURNAL_STREAM to "DEV:INODE" of the stream it connected to stderr. If stderr
 * is still that stream, structured entries can go to the journal directly. */
static bool stderr_is_journal(void) {
	const char *e = getenv("JOURNAL_STREAM"), *colon;
	char dev_text[21]; /* UINT64_MAX has 20 digits */
	uint64_t dev, ino;
	struct stat st;

	if (!e || !(colon = strchr(e, ':')) || (size_t)(colon - e) >= sizeof(dev_text))
		return false;
	memcpy(dev_text, e, (size_t)(colon - e));
	dev_text[colon - e] = '\0';
	if (parse_uint64(dev_text, &dev) < 0 || parse_uint64(colon + 1, &ino) < 0)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_open(void) {
	to_journal = stderr_is_journal();
}

void log_set_max_level(int level) {
	atomic_store(&max_level, level);
}

int log_get_max_level(void) {
	return atomic_load(&max_level);
}

struct log_fields log_fields_of_peer(const struct peer *p, char *desc, size_t len) {
	struct log_fields f = { .has_peer = p->has_creds,
				.pid = p->pid,
				.uid = p->uid,
				.gid = p->gid,
				.port = p->port };

	admit_peer_describe(p, desc, len);
	f.has_address = admit_peer_address(p, f.address, sizeof(f.address));
	return f;
}

const char *log_event_to_string(enum log_event e) {
	return events[e].name;
}

const char *log_event_message_id(enum log_event e) {
	return events[e].message_id;
}

/* Returns true if this message may go out; *ret_suppressed is how many were dropped since the
 * last one that did, so the next message can say so. */
static bool ratelimit_pass(enum log_event e, unsigned *ret_suppressed) {
	struct ratelimit *rl = &ratelimits[e];
	uint64_t now = now_usec();
	bool ok;

	pthread_mutex_lock(&ratelimit_lock);
	if (rl->begin_usec == 0 || now - rl->begin_usec >= RATELIMIT_INTERVAL_USEC) {
		rl->begin_usec = now;
		rl->n = 0;
	}
	ok = rl->n++ < RATELIMIT_BURST;
	*ret_suppressed = 0;
	if (!ok)
		rl->suppressed++;
	else {
		*ret_suppressed = rl->suppressed;
		rl->suppressed = 0;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	return ok;
}

bool log_ratelimit_ok(enum log_event e) {
	unsigned suppressed;
	return ratelimit_pass(e, &suppressed);
}

void log_flush_suppressed(bool all) {
	uint64_t now = now_usec();

	for (enum log_event e = 0; e < _LOG_EVENT_MAX; e++) {
		struct ratelimit *rl = &ratelimits[e];
		unsigned suppressed = 0;

		pthread_mutex_lock(&ratelimit_lock);
		/* A window still open may yet hand its count to the next message that passes. */
		if (rl->suppressed > 0 &&
		    (all || now - rl->begin_usec >= RATELIMIT_INTERVAL_USEC)) {
			suppressed = rl->suppressed;
			rl->suppressed = 0;
		}
		pthread_mutex_unlock(&ratelimit_lock);
		if (suppressed > 0)
			log_warning("%u similar '%s' messages suppressed", suppressed,
				    events[e].name);
	}
}

static void write_stderr(const char *msg) {
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s\n", msg);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per line so that lines from several threads never interleave. Best effort:
	 * there is nowhere left to report a failure to report. */
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

void log_usage_error(const char *fmt, ...) {
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(STDERR_FILENO, "ipcd: %s\nTry 'ipcd --help'.\n", msg);
}

#define MAX_FIELDS 16

struct fields {
	struct iovec iov[MAX_FIELDS];
	char buf[MAX_FIELDS][96];
	size_t n;
};

_printf_(2, 3) static void field_add(struct fields *f, const char *fmt, ...) {
	va_list ap;
	if (f->n >= MAX_FIELDS)
		return;
	va_start(ap, fmt);
	int len = vsnprintf(f->buf[f->n], sizeof(f->buf[f->n]), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	f->iov[f->n].iov_base = f->buf[f->n];
	f->iov[f->n].iov_len = MIN((size_t)len, sizeof(f->buf[f->n]) - 1);
	f->n++;
}

static void emit(int level, int error, enum log_event e, const struct log_fields *lf,
		 const char *msg) {
	struct fields f = { .n = 0 };
	char message[1100];

	if (!to_journal) {
		write_stderr(msg);
		return;
	}
	/* MESSAGE= can be longer than the small field buffers. */
	int len = snprintf(message, sizeof(message), "MESSAGE=%s", msg);
	f.iov[f.n++] = (struct iovec){ message, MIN((size_t)MAX(len, 0), sizeof(message) - 1) };
	field_add(&f, "PRIORITY=%d", level);
	field_add(&f, "SYSLOG_IDENTIFIER=ipcd");
	if (error != 0)
		field_add(&f, "ERRNO=%d", error < 0 ? -error : error);
	if (e < _LOG_EVENT_MAX) {
		field_add(&f, "MESSAGE_ID=%s", events[e].message_id);
		field_add(&f, "IPCD_EVENT=%s", events[e].name);
	}
	if (lf && lf->has_peer) {
		if (lf->pid > 0)
			field_add(&f, "IPCD_PEER_PID=%d", (int)lf->pid);
		field_add(&f, "IPCD_PEER_UID=%u", (unsigned)lf->uid);
		field_add(&f, "IPCD_PEER_GID=%u", (unsigned)lf->gid);
	}
	if (lf && lf->has_address) {
		field_add(&f, "IPCD_PEER_ADDRESS=%s", lf->address);
		field_add(&f, "IPCD_PEER_PORT=%u", (unsigned)lf->port);
	}
	if (lf && lf->has_bytes)
		field_add(&f, "IPCD_BYTES=%" PRIu64, lf->bytes);
	if (lf && lf->has_duration)
		field_add(&f, "IPCD_DURATION_USEC=%" PRIu64, lf->duration_usec);
	if (lf && lf->reason)
		field_add(&f, "IPCD_REASON=%s", lf->reason);
	/* If the journal is gone there is no one to tell; fall back to the stream. */
	if (sd_journal_sendv(f.iov, (int)f.n) < 0)
		write_stderr(msg);
}

int log_full_errno(int level, int error, const char *fmt, ...) {
	char msg[1024];
	va_list ap;

	if (level > atomic_load_explicit(&max_level, memory_order_relaxed))
		return error;
	errno = error < 0 ? -error : error;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, error, _LOG_EVENT_MAX, NULL, msg);
	return error;
}

void log_event(enum log_event e, int level, const struct log_fields *f, const char *fmt, ...) {
	unsigned suppressed = 0;
	char msg[1024];
	va_list ap;
	int n;

	if (level > atomic_load_explicit(&max_level, memory_order_relaxed))
		return;
	if (f && f->ratelimit && !ratelimit_pass(e, &suppressed))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (suppressed > 0 && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, " (%u similar messages suppressed)",
			 suppressed);
	emit(level, 0, e, f, msg);
}
