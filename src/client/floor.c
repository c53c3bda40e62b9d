/* SPDX-License-Identifier: MIT */
/*
 * A floor's run: the echo forked into a child, the round trips on a thread of their own, and
 * the main thread watching as monitor.c does for the driver: SIGINT and SIGTERM end the run
 * after the round trip in flight, and a round trip that makes no progress for the I/O timeout
 * ends it by killing the echo, so that no wait is without a bound.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu.h"
#include "floor-internal.h"
#include "macro.h"
#include "pattern.h"

#define WATCH_SLICE_MSEC 100
#define REAP_USEC (1 * USEC_PER_SEC) /* for the echo to see its end and exit, before SIGKILL */

struct floor_run {
	const struct floor_params *p;
	struct floor_channel ch;
	pid_t echo_pid;
	struct pattern pattern;
	uint8_t *buf;
	int done_fd;                   /* written when the round trips end */
	atomic_bool stop;              /* the main thread asks the round trips to end … */
	atomic_bool interrupted;       /* … for a signal … */
	atomic_bool timed_out;         /* … or because the echo made no progress: it was killed */
	atomic_uint_fast64_t progress; /* round trips done, for the watchdog */
	struct drive_result *ret;
};

static const char *const floor_kind_names[_FLOOR_KIND_MAX] = {
	[FLOOR_SOCKETPAIR] = "socketpair",
	[FLOOR_PIPE] = "pipe",
	[FLOOR_SHM] = "shared memory",
};

const char *floor_kind_to_string(enum floor_kind k) {
	return k < _FLOOR_KIND_MAX ? floor_kind_names[k] : NULL;
}

/* The child: the echo, unpinned as a server would be, gone with the client. */
_Noreturn static void echo_child(struct floor_run *fr, pid_t parent) {
	cpu_set_t all;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	/* Every CPU there is: the kernel keeps those the cpuset allows. A failure leaves the
	 * client's placement, which the report states anyway. */
	CPU_ZERO(&all);
	for (long i = 0; i < sysconf(_SC_NPROCESSORS_CONF) && i < CPU_SETSIZE; i++)
		CPU_SET((size_t)i, &all);
	(void)sched_setaffinity(0, sizeof(all), &all);
	floor_channel_drop_client_end(&fr->ch);
	_exit(floor_channel_echo(&fr->ch));
}

/* A round trip that did not come back: stopped for a signal is no error; the echo killed for
 * making no progress is a time-out; an echo that went away by itself is an early end. */
static void record_failure(struct floor_run *fr, int r) {
	if (atomic_load(&fr->timed_out))
		fr->ret->errors.timed_out++;
	else if (r != -ECANCELED || !atomic_load(&fr->interrupted))
		fr->ret->errors.eof_early++;
}

static void record_mismatch(struct drive_result *ret, uint64_t offset) {
	ret->errors.verify_failures++;
	if (ret->n_mismatches < DRIVE_MISMATCHES_MAX)
		ret->mismatches[ret->n_mismatches++] = (struct drive_mismatch){ 0, offset };
}

/* The round trips, each timed, each echo checked against what was sent. */
static void round_trips(struct floor_run *fr) {
	struct drive_result *ret = fr->ret;
	uint64_t offset = 0, chunk = fr->p->chunk;
	const uint32_t phase = pattern_phase(0);

	for (uint64_t i = 0; i < fr->p->round_trips && !atomic_load(&fr->stop); i++) {
		const uint8_t *sent = pattern_at(&fr->pattern, phase, offset), *echo;
		uint64_t t0 = now_nsec();
		int r = floor_channel_round_trip(&fr->ch, sent, chunk, fr->buf, &echo, &fr->stop);

		if (r < 0) {
			record_failure(fr, r);
			return;
		}
		hist_record(&ret->hist, now_nsec() - t0);
		if (pattern_check(&fr->pattern, phase, offset, echo, chunk) >= 0)
			record_mismatch(ret, offset);
		offset += chunk;
		ret->round_trips++;
		atomic_store(&fr->progress, ret->round_trips);
	}
}

static void measure(struct floor_run *fr) {
	struct drive_result *ret = fr->ret;
	struct cpu_sample s0, s1;
	bool server = cpu_process_sample(fr->echo_pid, &s0) >= 0;
	uint64_t cpu0 = cpu_thread_nsec(), t0 = now_usec(), cpu1;

	clock_gettime(CLOCK_REALTIME, &ret->started);
	round_trips(fr);
	cpu1 = cpu_thread_nsec();
	ret->elapsed_usec = now_usec() - t0;
	server = server && cpu_process_sample(fr->echo_pid, &s1) >= 0;
	ret->cpu = (struct drive_cpu){ .measured = true,
				       .client_nsec = cpu1 - cpu0,
				       .server = SERVER_CPU_UNREADABLE,
				       .server_errno = ESRCH,
				       .server_pid = fr->echo_pid };
	if (server && s1.start_time == s0.start_time && s1.cpu_nsec >= s0.cpu_nsec) {
		ret->cpu.server = SERVER_CPU_MEASURED;
		ret->cpu.server_errno = 0;
		ret->cpu.server_nsec = s1.cpu_nsec - s0.cpu_nsec;
		ret->cpu.server_wall_nsec = s1.at_nsec - s0.at_nsec;
	}
}

static void *floor_thread(void *userdata) {
	struct floor_run *fr = userdata;
	uint64_t one = 1;

	if (fr->p->pinned) {
		cpu_set_t first;
		CPU_ZERO(&first);
		for (size_t i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &fr->p->cpus)) {
				CPU_SET(i, &first);
				break;
			}
		/* The CPUs were checked when the options were read; if one went offline
		 * since, the placement line of the report still says what was asked. */
		(void)pthread_setaffinity_np(pthread_self(), sizeof(first), &first);
	}
	measure(fr);
	/* An eventfd write fails only when the counter would overflow: one write. */
	(void)!write(fr->done_fd, &one, sizeof(one));
	return NULL;
}

/* Until the round trips end: a signal stops them, a round trip stuck for the I/O timeout
 * kills the echo, which ends any wait the thread is in. */
static int watch(struct floor_run *fr, int signal_fd) {
	struct pollfd pf[2] = { { .fd = fr->done_fd, .events = POLLIN },
				{ .fd = signal_fd, .events = POLLIN } };
	uint64_t last = 0, last_change = now_usec();

	for (;;) {
		int n = poll(pf, 2, WATCH_SLICE_MSEC);
		uint64_t now = now_usec(), progress;

		if (n < 0 && errno != EINTR)
			return negative_errno();
		if (n > 0 && pf[0].revents)
			return 0;
		if (n > 0 && pf[1].revents) {
			struct signalfd_siginfo si;
			/* A readable signalfd has a signal to read; which one does not matter. */
			(void)!read(signal_fd, &si, sizeof(si));
			atomic_store(&fr->interrupted, true);
			atomic_store(&fr->stop, true);
		}
		progress = atomic_load(&fr->progress);
		if (progress != last) {
			last = progress;
			last_change = now;
		} else if (now - last_change >= fr->p->io_timeout_usec &&
			   !atomic_load(&fr->timed_out)) {
			atomic_store(&fr->timed_out, true);
			atomic_store(&fr->stop, true);
			/* Our own child, not yet reaped: the pid is still ours. */
			(void)kill(fr->echo_pid, SIGKILL);
		}
	}
}

/* The echo's end: its channel says so, then it has REAP_USEC to exit before SIGKILL. */
static void reap_echo(struct floor_run *fr) {
	uint64_t deadline = now_usec() + REAP_USEC;

	floor_channel_stop(&fr->ch);
	floor_channel_drop_client_end(&fr->ch);
	while (waitpid(fr->echo_pid, NULL, WNOHANG) == 0) {
		if (now_usec() >= deadline) {
			(void)kill(fr->echo_pid, SIGKILL);    /* ours, unreaped */
			(void)waitpid(fr->echo_pid, NULL, 0); /* SIGKILL ends it */
			return;
		}
		usleep(10 * USEC_PER_MSEC);
	}
}

static int start_echo(struct floor_run *fr) {
	pid_t parent = getpid(), pid;

	pid = fork();
	if (pid < 0)
		return negative_errno();
	if (pid == 0)
		echo_child(fr, parent);
	fr->echo_pid = pid;
	floor_channel_drop_echo_end(&fr->ch);
	return 0;
}

static int signal_fd_open(void) {
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* With the echo running: the thread, the watch, the join. */
static int run_with_echo(struct floor_run *fr) {
	_cleanup_close_ int signal_fd = signal_fd_open();
	pthread_t thread;
	int r;

	if (signal_fd < 0)
		return negative_errno();
	r = -pthread_create(&thread, NULL, floor_thread, fr);
	if (r < 0)
		return r;
	r = watch(fr, signal_fd);
	if (r < 0) {
		/* The thread ends when the echo does: a killed one ends every wait. */
		atomic_store(&fr->stop, true);
		(void)kill(fr->echo_pid, SIGKILL);
	}
	(void)pthread_join(thread, NULL); /* a joinable thread of ours: cannot fail */
	return r;
}

int floor_run(const struct floor_params *p, struct drive_result *ret) {
	struct floor_run fr = { .p = p, .echo_pid = -1, .ret = ret };
	int r;

	*ret = (struct drive_result){ 0 };
	hist_init(&ret->hist);
	fr.done_fd = eventfd(0, EFD_CLOEXEC);
	if (fr.done_fd < 0)
		return negative_errno();
	r = pattern_init(&fr.pattern, p->chunk);
	fr.buf = r < 0 ? NULL : malloc(p->chunk);
	if (r >= 0 && !fr.buf)
		r = -ENOMEM;
	if (r >= 0)
		r = floor_channel_open(&fr.ch, p->kind, p->chunk);
	if (r >= 0) {
		r = start_echo(&fr);
		if (r >= 0) {
			r = run_with_echo(&fr);
			reap_echo(&fr);
		}
		floor_channel_close(&fr.ch);
	}
	ret->opened = r >= 0;
	ret->connected = ret->round_trips > 0;
	ret->interrupted = atomic_load(&fr.interrupted);
	ret->bytes_sent = ret->bytes_received = ret->round_trips * p->chunk;
	ret->total_round_trips = ret->round_trips;
	ret->total_bytes_received = ret->bytes_received;
	free(fr.buf);
	pattern_done(&fr.pattern);
	safe_close(fr.done_fd);
	return r;
}
