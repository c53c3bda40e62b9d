/* SPDX-License-Identifier: MIT */
/* The text report's connect error line: why connections failed to open, and what to do about
 * it, down to who may connect to a path socket; for TCP, only what TCP can say. */
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>

#include "report-internal.h"

/* Who may connect to a path socket: its owner and group, by name, as its mode allows. */
static void text_permission_hint(FILE *f, const char *socket) {
	struct stat st;
	struct group gr, *grp = NULL;
	char buf[1024], group[64];

	if (socket[0] == '@' || stat(socket, &st) < 0) {
		fputs(": ipcd's access lists refused it, or the socket's directory is closed to "
		      "you\n",
		      f);
		return;
	}
	if (getgrgid_r(st.st_gid, &gr, buf, sizeof(buf), &grp) == 0 && grp)
		snprintf(group, sizeof(group), "'%s'", grp->gr_name);
	else
		snprintf(group, sizeof(group), "%u", (unsigned)st.st_gid);
	fprintf(f, ": %s has mode %04o, owner uid %u, group %s", socket,
		(unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, group);
	if (st.st_mode & S_IWGRP)
		fprintf(f, ": members of group %s may connect", group);
	else
		fputs(": only its owner may connect", f);
	fputs(" (and ipcd's access lists may narrow that)\n", f);
}

/* Why connections failed to open, with what to do about it. */
void report_text_connect_error(FILE *f, const struct client_opts *o, const struct drive_params *p,
			       int err) {
	fprintf(f, "  connect error %s", strerror(err));
	if (socket_address_is_inet(&p->address)) {
		/* No socket file, owner or mode to point at: what TCP itself can say. */
		fputs(err == ECONNREFUSED ? ": nothing listens on that address and port\n"
		      : err == ETIMEDOUT ? ": no answer to the handshake within --connect-timeout\n"
		      : err == EACCES || err == EPERM
			      ? ": a packet filter on this host refused it\n"
			      : "\n",
		      f);
		return;
	}
	switch (err) {
		case EACCES:
		case EPERM:
			text_permission_hint(f, o->socket);
			break;
		case ENOENT:
			fputs(": no such socket; is the daemon running (systemctl start "
			      "ipcd.socket)?\n",
			      f);
			break;
		case ECONNREFUSED:
			fputs(": nothing accepts on it (a stale socket file, or the backlog is "
			      "full)\n",
			      f);
			break;
		case EPROTOTYPE:
			fprintf(f, ": it is not a %s socket (see --type)\n",
				client_type_to_string(p->type));
			break;
		default:
			fputs("\n", f);
	}
}
