/* SPDX-License-Identifier: MIT */
/*
 * failmalloc: an LD_PRELOAD shim that makes chosen heap allocations fail with ENOMEM, for the
 * allocation-failure sweeps in tests/faults. It only counts and refuses: every allocation it
 * lets through goes to the next allocator (glibc's, or ASan's when preloaded before it).
 *
 * Environment (all optional; with none set the shim only counts):
 *   IPCD_FAIL_MALLOC_AT=N      fail the Nth counted call, 1-based; unset or 0: never fail
 *   IPCD_FAIL_MALLOC_COUNT=K   fail K consecutive calls from the Nth on (default 1; "all": every
 *                              call from the Nth on, memory that never comes back)
 *   IPCD_FAIL_MALLOC_START=S   "load" (default): count from this library's constructor, which
 *                              runs before main(); "signal": count only after SIGRTMAX
 *   IPCD_FAIL_MALLOC_STATS=F   at exit, write "calls C\nfailed F\n" to file F, so a sweep knows
 *                              how many calls a full run makes
 *   IPCD_FAIL_MALLOC_LOG=F     append "armed", each refused call with its stack, and the stack
 *                              of a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT)
 *   IPCD_FAIL_MALLOC_TRACE=1   with LOG: every counted call with its stack, to see what N is
 *
 * Counted: malloc, calloc, realloc (not realloc(p, 0), which is a free), reallocarray, strdup,
 * strndup, __strdup, posix_memalign, aligned_alloc, memalign, valloc, pvalloc. glibc's own
 * strdup, strndup and reallocarray call malloc/realloc through the PLT, but ASan's interceptors
 * do not, so the shim defines them on top of its own malloc/realloc: each counts once, either
 * way. glibc-internal allocations (stdio buffers, open_memstream, get_current_dir_name, NSS,
 * ld.so's TLS for new threads) go through the PLT and count as malloc/calloc/realloc. Not
 * counted: calls made while a sanitizer runtime is on the stack (ASan's thread start-up), which
 * cannot fail gracefully, and calls the shim makes itself. Thread-safe: the counter is atomic,
 * but with threads the order of calls, and so which call is the Nth, can differ between runs.
 * Calls made while dlsym() resolves the next allocator are served from a small static arena.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unwind.h>

#define EXPORT __attribute__((visibility("default")))
#define ARENA_SIZE (64 * 1024)
#define ARENA_ALIGN 16
#define COUNT_ALL UINT64_MAX

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void *(*next_aligned_alloc)(size_t, size_t);
static void *(*next_memalign)(size_t, size_t);
static void *(*next_valloc)(size_t);
static void *(*next_pvalloc)(size_t);

enum { INIT_NONE, INIT_RUNNING, INIT_DONE };
static atomic_int init_state = INIT_NONE;

/* Bump allocator for calls made while dlsym() runs; never reused, so it stays zeroed. Each
 * block carries its size in the 16 bytes before it, for realloc. */
static _Alignas(ARENA_ALIGN) char arena[ARENA_SIZE];
static atomic_size_t arena_used;

/* Where a sanitizer runtime is mapped: its own allocations (thread start-up, reports) are
 * neither counted nor refused, since a refusal there only makes the runtime CHECK-fail. */
#define RUNTIME_RANGES_MAX 16
static struct { uintptr_t start, end; } runtime[RUNTIME_RANGES_MAX];
static size_t n_runtime;

static uint64_t fail_at, fail_count = 1;
static atomic_bool counting;
static atomic_uint_fast64_t calls, failed;
static bool trace;
static const char *stats_path;
static int log_fd = -1;

/* Set while the shim itself works (unwinding, logging): calls made meanwhile are neither
 * counted nor refused. initial-exec: no allocation on first access in another thread. */
static __thread int busy __attribute__((tls_model("initial-exec")));

static void *arena_alloc(size_t size, size_t align) {
	size_t need, off;
	char *p;

	if (align < ARENA_ALIGN)
		align = ARENA_ALIGN;
	if (size > ARENA_SIZE)
		return NULL;
	need = ARENA_ALIGN + size + align;
	need = (need + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	off = atomic_fetch_add(&arena_used, need);
	if (off + need > ARENA_SIZE)
		return NULL;
	p = arena + off + ARENA_ALIGN;
	p = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
	memcpy(p - sizeof(size_t), &size, sizeof(size_t));
	return p;
}

static bool in_arena(const void *p) {
	return (const char *)p >= arena && (const char *)p < arena + ARENA_SIZE;
}

static size_t arena_size(const void *p) {
	size_t n;
	memcpy(&n, (const char *)p - sizeof(size_t), sizeof(n));
	return n;
}

static void resolve(void) {
	int expected = INIT_NONE;

	if (!atomic_compare_exchange_strong(&init_state, &expected, INIT_RUNNING))
		return; /* done, or running in this thread (dlsym allocating) or in another */
	next_malloc = dlsym(RTLD_NEXT, "malloc");
	next_calloc = dlsym(RTLD_NEXT, "calloc");
	next_realloc = dlsym(RTLD_NEXT, "realloc");
	next_free = dlsym(RTLD_NEXT, "free");
	next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	next_memalign = dlsym(RTLD_NEXT, "memalign");
	next_valloc = dlsym(RTLD_NEXT, "valloc");
	next_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	if (!next_malloc || !next_calloc || !next_realloc || !next_free) {
		static const char msg[] = "failmalloc: cannot find the next allocator\n";
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
		_exit(127);
	}
	atomic_store(&init_state, INIT_DONE);
}

static bool ready(void) {
	if (atomic_load_explicit(&init_state, memory_order_acquire) == INIT_DONE)
		return true;
	resolve();
	return atomic_load_explicit(&init_state, memory_order_acquire) == INIT_DONE;
}

/* ---- reporting: write(2) only, never an allocation --------------------------------------- */

/* The stack, by libgcc's unwinder linked in directly: glibc's backtrace() would dlopen()
 * libgcc_s first, and the list of dependencies that dlopen() allocates hangs off a link_map
 * in ld.so's private heap, which LeakSanitizer does not scan: a false leak report at exit. */
struct frames {
	void **ip;
	int n, max;
};

static _Unwind_Reason_Code add_frame(struct _Unwind_Context *ctx, void *userdata) {
	struct frames *f = userdata;

	if (f->n >= f->max)
		return _URC_END_OF_STACK;
	f->ip[f->n++] = (void *)_Unwind_GetIP(ctx);
	return _URC_NO_REASON;
}

static void put(int fd, const char *s) {
	(void)!write(fd, s, strlen(s));
}

static char *fmt_u64(char *end, uint64_t v) {
	*--end = '\0';
	do
		*--end = (char)('0' + v % 10);
	while (v /= 10);
	return end;
}

static void log_line(const char *what, uint64_t n, const char *fn, size_t size, bool stack) {
	char a[24], b[24];
	void *ip[32];
	struct frames frames = { ip, 0, 32 };

	if (log_fd < 0)
		return;
	busy++;
	put(log_fd, "failmalloc: ");
	put(log_fd, what);
	if (fn) {
		put(log_fd, " #");
		put(log_fd, fmt_u64(a + sizeof(a), n));
		put(log_fd, " ");
		put(log_fd, fn);
		put(log_fd, "(");
		put(log_fd, fmt_u64(b + sizeof(b), size));
		put(log_fd, ")");
	} else if (n) {
		put(log_fd, " ");
		put(log_fd, fmt_u64(a + sizeof(a), n));
	}
	put(log_fd, "\n");
	if (stack) {
		_Unwind_Backtrace(add_frame, &frames);
		backtrace_symbols_fd(ip, frames.n, log_fd);
		put(log_fd, "failmalloc: end of stack\n");
	}
	busy--;
}

/* ---- the decision ------------------------------------------------------------------------ */

static bool from_runtime(void) {
	void *ip[24];
	struct frames frames = { ip, 0, 24 };

	if (n_runtime == 0)
		return false;
	_Unwind_Backtrace(add_frame, &frames);
	for (int i = 0; i < frames.n; i++)
		for (size_t j = 0; j < n_runtime; j++)
			if ((uintptr_t)ip[i] >= runtime[j].start &&
			    (uintptr_t)ip[i] < runtime[j].end)
				return true;
	return false;
}

/* true: refuse this call. */
static bool should_fail(const char *fn, size_t size) {
	bool runtime_call;
	uint64_t n;

	if (busy || !atomic_load_explicit(&counting, memory_order_relaxed))
		return false;
	busy++; /* in case the unwinder allocates */
	runtime_call = from_runtime();
	busy--;
	if (runtime_call)
		return false;
	n = atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed) + 1;
	if (trace)
		log_line("call", n, fn, size, true);
	if (fail_at == 0 || n < fail_at || (fail_count != COUNT_ALL && n - fail_at >= fail_count))
		return false;
	atomic_fetch_add_explicit(&failed, 1, memory_order_relaxed);
	log_line("refusing", n, fn, size, true);
	errno = ENOMEM;
	return true;
}

/* ---- the allocator entry points ---------------------------------------------------------- */

EXPORT void *malloc(size_t size) {
	if (!ready())
		return arena_alloc(size, ARENA_ALIGN);
	if (should_fail("malloc", size))
		return NULL;
	return next_malloc(size);
}

EXPORT void *calloc(size_t n, size_t size) {
	if (!ready()) {
		if (size && n > SIZE_MAX / size)
			return NULL;
		return arena_alloc(n * size, ARENA_ALIGN);
	}
	if (should_fail("calloc", n * size))
		return NULL;
	return next_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t size) {
	void *q;

	if (p && in_arena(p)) {
		/* Moves out of the arena: the next allocator must not see arena pointers. */
		q = malloc(size);
		if (q)
			memcpy(q, p, arena_size(p) < size ? arena_size(p) : size);
		return q;
	}
	if (!ready())
		return p ? NULL : arena_alloc(size, ARENA_ALIGN);
	if (!(p && size == 0) && should_fail("realloc", size))
		return NULL;
	return next_realloc(p, size);
}

EXPORT void free(void *p) {
	if (!p || in_arena(p))
		return;
	if (ready())
		next_free(p);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size) {
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
}

EXPORT char *strdup(const char *s) {
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	return d ? memcpy(d, s, n) : NULL;
}

EXPORT char *__strdup(const char *s) {
	return strdup(s);
}

EXPORT char *strndup(const char *s, size_t max) {
	size_t n = strnlen(s, max);
	char *d = malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

EXPORT int posix_memalign(void **ret, size_t align, size_t size) {
	void *p;

	if (!ready()) {
		p = arena_alloc(size, align);
		if (!p)
			return ENOMEM;
		*ret = p;
		return 0;
	}
	if (should_fail("posix_memalign", size))
		return ENOMEM;
	return next_posix_memalign(ret, align, size);
}

EXPORT void *aligned_alloc(size_t align, size_t size) {
	if (!ready())
		return arena_alloc(size, align);
	if (should_fail("aligned_alloc", size))
		return NULL;
	return next_aligned_alloc(align, size);
}

EXPORT void *memalign(size_t align, size_t size) {
	if (!ready())
		return arena_alloc(size, align);
	if (should_fail("memalign", size))
		return NULL;
	return next_memalign(align, size);
}

EXPORT void *valloc(size_t size) {
	if (!ready())
		return arena_alloc(size, 4096);
	if (should_fail("valloc", size))
		return NULL;
	return next_valloc(size);
}

EXPORT void *pvalloc(size_t size) {
	if (!ready())
		return arena_alloc(size, 4096);
	if (should_fail("pvalloc", size))
		return NULL;
	return next_pvalloc(size);
}

/* ---- start, signals, exit ---------------------------------------------------------------- */

static void on_arm(int sig) {
	(void)sig;
	atomic_store(&counting, true);
	log_line("armed", 0, NULL, 0, false);
}

static void on_fatal(int sig) {
	int saved = errno;

	log_line("fatal signal", (uint64_t)sig, NULL, 0, true);
	signal(sig, SIG_DFL);
	errno = saved;
	raise(sig); /* blocked until we return: then it kills with the same signal */
}

static int find_runtime(struct dl_phdr_info *info, size_t size, void *userdata) {
	static const char *const names[] = { "/libasan.so", "/libubsan.so", "/liblsan.so",
					     "/libtsan.so", "/libhwasan.so" };
	(void)size;
	(void)userdata;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!info->dlpi_name || !strstr(info->dlpi_name, names[i]))
			continue;
		for (int k = 0; k < info->dlpi_phnum && n_runtime < RUNTIME_RANGES_MAX; k++)
			if (info->dlpi_phdr[k].p_type == PT_LOAD &&
			    (info->dlpi_phdr[k].p_flags & PF_X)) {
				uintptr_t start = info->dlpi_addr + info->dlpi_phdr[k].p_vaddr;
				runtime[n_runtime].start = start;
				runtime[n_runtime].end = start + info->dlpi_phdr[k].p_memsz;
				n_runtime++;
			}
	}
	return 0;
}

static uint64_t env_u64(const char *name, uint64_t def) {
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	if (strcmp(s, "all") == 0)
		return COUNT_ALL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end) {
		put(STDERR_FILENO, "failmalloc: ignoring invalid ");
		put(STDERR_FILENO, name);
		put(STDERR_FILENO, "\n");
		return def;
	}
	return v;
}

__attribute__((constructor)) static void failmalloc_init(void) {
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
	const char *start = getenv("IPCD_FAIL_MALLOC_START"), *log = getenv("IPCD_FAIL_MALLOC_LOG");

	resolve();
	(void)dl_iterate_phdr(find_runtime, NULL);
	fail_at = env_u64("IPCD_FAIL_MALLOC_AT", 0);
	fail_count = env_u64("IPCD_FAIL_MALLOC_COUNT", 1);
	stats_path = getenv("IPCD_FAIL_MALLOC_STATS");
	trace = env_u64("IPCD_FAIL_MALLOC_TRACE", 0) != 0;
	if (log && *log) {
		log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		/* Only where nothing else has taken them: a sanitizer's handlers come later and
		 * replace these, which is what we want. */
		for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
			struct sigaction old, sa = { .sa_handler = on_fatal };
			if (sigaction(fatal[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL)
				(void)sigaction(fatal[i], &sa, NULL);
		}
	}
	if (start && strcmp(start, "signal") == 0) {
		struct sigaction sa = { .sa_handler = on_arm, .sa_flags = SA_RESTART };
		(void)sigaction(SIGRTMAX, &sa, NULL);
	} else
		atomic_store(&counting, true);
}

__attribute__((destructor)) static void failmalloc_fini(void) {
	char a[24], b[24];
	int fd;

	if (!stats_path || !*stats_path)
		return;
	fd = open(stats_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	put(fd, "calls ");
	put(fd, fmt_u64(a + sizeof(a), atomic_load(&calls)));
	put(fd, "\nfailed ");
	put(fd, fmt_u64(b + sizeof(b), atomic_load(&failed)));
	put(fd, "\n");
	close(fd);
}
