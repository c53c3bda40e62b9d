/* SPDX-License-Identifier: MIT */
/*
 * Loading the configuration: the file, then what it asks of the system. At start and for
 * --check-config in line; on SIGHUP on a thread of its own, whose result the main loop applies
 * when an eventfd says it is there. The file is capped (conf-load.c), so a load takes a fraction of
 * a second at worst, but that is still a fraction of a second of no accepting and no watchdog.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "parse.h"
#include "reload.h"
#include "sockbuf.h"

static void report_error(const char *message, void *userdata) {
	struct conf_errors *e = userdata;

	if (e->n++ == 0)
		snprintf(e->first, sizeof(e->first), "%s", message);
	log_error("%s", message);
}

static void report_warning(const char *message, void *userdata _unused_) {
	log_warning("%s", message);
}

/* Whether this system lets ipcd echo a message of max_message_size, seqpacket or datagram,
 * which goes out whole from one send buffer. */
static int check_message_size(const struct ipcd_config *c, struct conf_errors *e) {
	char msg[320], size[FORMAT_SIZE_MAX];
	size_t got = 0;
	int r;

	r = sockbuf_probe_message(c->max_message_size, &got);
	if (r == 0)
		return 0;
	format_size(size, sizeof(size), c->max_message_size);
	if (r == -EMSGSIZE)
		snprintf(msg, sizeof(msg),
			 "limits.max_message_size = %s: ipcd's sockets cannot send one message "
			 "that large here, their send buffers stop at %zu bytes; raise "
			 "net.core.wmem_max to at least %zu, or lower max_message_size",
			 size, got, (SOCKBUF_FOR_MESSAGE(c->max_message_size) + 1) / 2);
	else if (r == -ENOBUFS)
		snprintf(msg, sizeof(msg),
			 "limits.max_message_size = %s: the kernel cannot allocate one seqpacket "
			 "or datagram message that large (on Linux about 4 MiB is the most); "
			 "lower max_message_size",
			 size);
	else
		snprintf(msg, sizeof(msg), "limits.max_message_size = %s: failed to check it: %s",
			 size, strerror(-r));
	report_error(msg, e);
	return r == -ENOMEM ? r : -EINVAL;
}

int config_load(const char *path, bool must_exist, struct conf_errors *e,
		struct ipcd_config **ret) {
	struct ipcd_config *c = NULL;
	int r, k;

	r = conf_load_warn(path, must_exist, report_error, report_warning, e, &c);
	if (r < 0)
		return r;
	k = check_message_size(c, e);
	if (k < 0) {
		conf_unref(c);
		return k;
	}
	*ret = c;
	return r;
}

struct reloader {
	const char *path;
	bool must_exist;
	reload_done_t done;
	void *userdata;
	int done_fd; /* eventfd: the thread's "finished" */
	sd_event_source *done_source;
	pthread_t thread;
	bool running, again;
	/* Written by the thread, read after the join. */
	int result;
	struct ipcd_config *config;
	struct conf_errors errors;
};

static void *load_thread(void *userdata) {
	struct reloader *r = userdata;

	r->result = config_load(r->path, r->must_exist, &r->errors, &r->config);
	/* An eventfd write of 1 fails only if the counter would overflow: it cannot here. */
	(void)eventfd_write(r->done_fd, 1);
	return NULL;
}

static void reloader_finish(struct reloader *r) {
	struct ipcd_config *c = TAKE_PTR(r->config);

	r->running = false;
	r->done(r->result, c, &r->errors, r->userdata);
}

static int reloader_start(struct reloader *r) {
	int e;

	r->config = NULL;
	r->errors = (struct conf_errors){};
	e = pthread_create(&r->thread, NULL, load_thread, r);
	if (e != 0) {
		/* No thread (out of tasks or memory): the load still happens, in line. */
		log_warning_errno(-e, "Failed to start a thread to reload, loading in line: %m");
		r->result = config_load(r->path, r->must_exist, &r->errors, &r->config);
		reloader_finish(r);
		return 0;
	}
	r->running = true;
	return 1;
}

static int on_load_done(sd_event_source *s _unused_, int fd _unused_, uint32_t revents _unused_,
			void *userdata) {
	struct reloader *r = userdata;
	eventfd_t v;

	if (eventfd_read(r->done_fd, &v) < 0 || !r->running)
		return 0;                    /* a spurious wake-up: nothing finished */
	(void)pthread_join(r->thread, NULL); /* it has returned, or is about to: no wait */
	reloader_finish(r);
	if (r->again) {
		r->again = false;
		(void)reloader_start(r);
	}
	return 0;
}

int reloader_new(sd_event *event, const char *path, bool must_exist, reload_done_t done,
		 void *userdata, struct reloader **ret) {
	struct reloader *r = calloc(1, sizeof(*r));
	int e;

	if (!r)
		return -ENOMEM;
	*r = (struct reloader){
		.path = path, .must_exist = must_exist, .done = done, .userdata = userdata
	};
	r->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->done_fd < 0) {
		e = -errno;
		free(r);
		return e;
	}
	e = sd_event_add_io(event, &r->done_source, r->done_fd, EPOLLIN, on_load_done, r);
	if (e < 0) {
		reloader_free(r);
		return e;
	}
	*ret = r;
	return 0;
}

int reloader_request(struct reloader *r) {
	if (r->running) {
		r->again = true;
		return 0;
	}
	return reloader_start(r);
}

struct reloader *reloader_free(struct reloader *r) {
	if (!r)
		return NULL;
	if (r->running) {
		(void)pthread_join(r->thread, NULL);
		conf_unref(r->config);
	}
	sd_event_source_disable_unref(r->done_source);
	safe_close(r->done_fd);
	free(r);
	return NULL;
}
