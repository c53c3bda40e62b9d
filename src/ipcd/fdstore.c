/* SPDX-License-Identifier: MIT */
/* FDSTORE=1 for live connections on the way out, and telling them apart on the way in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "fdstore.h"
#include "macro.h"

#define FDSTORE_BATCH 128 /* fds per message; the kernel allows 253 (SCM_MAX_FD) */

bool fdstore_available(void) {
	const char *e = getenv("NOTIFY_SOCKET");
	return e && *e;
}

int fdstore_save(const int *fds, size_t n) {
	for (size_t i = 0; i < n; i += FDSTORE_BATCH) {
		int r = sd_pid_notify_with_fds(0, false, "FDSTORE=1\nFDNAME=" FDSTORE_CONNECTION,
					       fds + i,
					       (unsigned)MIN(n - i, (size_t)FDSTORE_BATCH));
		if (r < 0)
			return r;
		if (r == 0)
			return -ENOTCONN; /* no service manager after all */
	}
	return 0;
}

bool fdstore_is_connection(int fd, const char *name) {
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (!name || strcmp(name, FDSTORE_CONNECTION) != 0)
		return false;
	/* A name can be wrong; SO_ACCEPTCONN cannot. */
	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && !listening;
}
