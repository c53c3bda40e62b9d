/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * Live connections handed to the service manager's fd store on SIGTERM and taken back by the
 * next instance: a restart the clients do not see. Stored fds are named FDSTORE_CONNECTION;
 * the socket unit's listeners carry their own FileDescriptorName=.
 */
#define FDSTORE_CONNECTION "connection"

/* True when there is a service manager to hand connections to ($NOTIFY_SOCKET). Whether it
 * keeps them is FileDescriptorStoreMax='s business: without room it closes them. */
bool fdstore_available(void);

/* Hands fds over (they stay open here too; the caller closes its copies). Negative errno on
 * failure, then none of the batch that failed was stored. */
int fdstore_save(const int *fds, size_t n);

/* A passed fd that is a stored connection, not a listener: named so, and not listening. */
bool fdstore_is_connection(int fd, const char *name);
