/* SPDX-License-Identifier: MIT */
/*
 * One setting's libconfig value into its struct ipcd_config field, by the row's kind and
 * range; on failure the reason in words, for the loader to put after "FILE:LINE: name = value".
 * Pure: no logging; no I/O but the user and group lookups a name asks for.
 */
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-internal.h"
#include "conf.h"
#include "macro.h"
#include "parse.h"
#include "sockaddr.h"

static int parse_number(const struct setting *st, const config_setting_t *s, uint64_t *ret,
			char *reason, size_t len) {
	bool with_unit = st->kind == KIND_SIZE || st->kind == KIND_SECONDS;
	uint64_t scale = st->kind == KIND_SECONDS ? USEC_PER_SEC : 1, v;
	int r;

	switch (config_setting_type(s)) {
		case CONFIG_TYPE_INT: /* conf_check_int_literals() saw it was not truncated */
		case CONFIG_TYPE_INT64: {
			long long i = config_setting_get_int64(s);
			if (i < 0 || (uint64_t)i > UINT64_MAX / scale) {
				snprintf(reason, len, "out of range");
				return -EINVAL;
			}
			v = (uint64_t)i * scale;
			break;
		}
		case CONFIG_TYPE_STRING:
			if (!with_unit) {
				snprintf(reason, len, "must be an integer, not a string");
				return -EINVAL;
			}
			r = st->kind == KIND_SIZE ? parse_size(config_setting_get_string(s), &v)
						  : parse_duration(config_setting_get_string(s),
								   USEC_PER_SEC, &v);
			if (r == -ERANGE) {
				snprintf(reason, len, "out of range");
				return -EINVAL;
			}
			if (r < 0) {
				snprintf(reason, len, "not a %s",
					 st->kind == KIND_SIZE ? "size" : "duration");
				return -EINVAL;
			}
			break;
		default:
			snprintf(reason, len, "must be an integer%s",
				 with_unit ? " or a string with a unit" : "");
			return -EINVAL;
	}
	if ((v < st->min || v > st->max) && !(v == 0 && st->zero)) {
		snprintf(reason, len, "out of range");
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

/* getpwnam_r/getgrnam_r want a caller buffer whose needed size is only known by trying. */
static int lookup_id(bool user, const char *name, uint32_t *ret) {
	size_t size = 1024;

	for (;;) {
		_cleanup_free_ char *buf = malloc(size);
		struct passwd pw, *pwp = NULL;
		struct group gr, *grp = NULL;
		int r;

		if (!buf)
			return -ENOMEM;
		/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): freed by _cleanup_free_ */
		r = user ? getpwnam_r(name, &pw, buf, size, &pwp)
			 : getgrnam_r(name, &gr, buf, size, &grp);
		if (r == ERANGE && size < 1024 * 1024) {
			size *= 2;
			continue;
		}
		if (r != 0)
			return -r;
		if (user ? !pwp : !grp)
			return -ESRCH;
		*ret = user ? (uint32_t)pw.pw_uid : (uint32_t)gr.gr_gid;
		return 0;
	}
}

static int parse_ids(const struct setting *st, const config_setting_t *s, struct id_list *out,
		     char *reason, size_t len) {
	bool user = st->kind == KIND_UIDS;
	const char *what = user ? "uid" : "gid";
	int n = config_setting_is_array(s) || config_setting_is_list(s) ? config_setting_length(s)
									: -1;
	_cleanup_free_ uint32_t *ids = NULL;

	if (n < 0 || n > CONF_IDS_MAX) {
		snprintf(reason, len, n < 0 ? "must be a list" : "too many entries");
		return -EINVAL;
	}
	if (n > 0 && !(ids = calloc((size_t)n, sizeof(*ids))))
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		uint64_t v;
		int r;

		if (config_setting_type(e) == CONFIG_TYPE_INT ||
		    config_setting_type(e) == CONFIG_TYPE_INT64) {
			long long x = config_setting_get_int64(e);
			/* (uint32_t)-1 is the kernel's "no id" and matches nobody */
			if (x < 0 || x >= UINT32_MAX) {
				/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc): _cleanup_free_ */
				snprintf(reason, len, "%lld is not a valid %s", x, what);
				return -EINVAL;
			}
			ids[i] = (uint32_t)x;
		} else if (config_setting_type(e) == CONFIG_TYPE_STRING) {
			const char *name = config_setting_get_string(e);
			if (parse_uint64(name, &v) == 0 && v < UINT32_MAX)
				ids[i] = (uint32_t)v;
			else if ((r = lookup_id(user, name, &ids[i])) == -ENOMEM)
				return r;
			else if (r < 0) {
				snprintf(reason, len, "unknown %s \"%s\"", user ? "user" : "group",
					 name);
				return -EINVAL;
			}
		} else {
			snprintf(reason, len, "entry %d is neither a name nor a number", i + 1);
			return -EINVAL;
		}
	}
	free(out->ids);
	out->ids = TAKE_PTR(ids);
	out->n = (size_t)n;
	return 0;
}

/* Fills reason when p is not a socket setting st may list, or is one already in l. */
static int check_socket(const struct setting *st, const struct str_list *l, const char *p,
			char *reason, size_t len) {
	struct listen_address a, b;
	int r;

	r = listen_address_parse(p, &a);
	if (r < 0) {
		snprintf(reason, len, "\"%s\" %s", p, listen_address_error(p, r));
		return -EINVAL;
	}
	if (st->kind == KIND_STREAM_SOCKETS && a.type != SOCK_STREAM) {
		snprintf(reason, len,
			 "\"%s\" is a %s socket; metrics are served over stream sockets "
			 "only: \"PATH\", \"@name\" or \"tcp:…\"",
			 p, listen_address_type_name(a.type));
		return -EINVAL;
	}
	/* Two spellings of one socket would fail at start, the second bind finding the first:
	 * refused here, where the file and line can be named. */
	for (size_t j = 0; j < l->n; j++) {
		if (listen_address_parse(l->items[j], &b) < 0 || !listen_address_same(&b, &a))
			continue;
		if (strcmp(l->items[j], p) == 0)
			snprintf(reason, len, "\"%s\" is listed twice", p);
		else
			snprintf(reason, len,
				 "\"%s\" and \"%s\" are the same socket%s, listed twice",
				 l->items[j], p, a.type != b.type ? " file" : "");
		return -EINVAL;
	}
	return 0;
}

static int parse_sockets(const struct setting *st, const config_setting_t *s, struct str_list *out,
			 char *reason, size_t len) {
	int n = config_setting_is_array(s) || config_setting_is_list(s) ? config_setting_length(s)
									: -1;
	struct str_list l = { NULL, 0 };

	if (n < 0 || (uint64_t)n < st->min || (uint64_t)n > st->max) {
		snprintf(reason, len,
			 n < 0    ? "must be a list of strings"
			 : n == 0 ? "must not be empty"
				  : "too many entries");
		return -EINVAL;
	}
	if (!(l.items = calloc((size_t)n, sizeof(char *))))
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *p = config_setting_get_string(e);

		if (!p) {
			snprintf(reason, len, "entry %d is not a string", i + 1);
			goto fail;
		}
		if (check_socket(st, &l, p, reason, len) < 0)
			goto fail;
		if (!(l.items[l.n] = strdup(p))) {
			conf_str_list_clear(&l);
			return -ENOMEM;
		}
		l.n++;
	}
	conf_str_list_clear(out);
	*out = l;
	return 0;
fail:
	conf_str_list_clear(&l);
	return -EINVAL;
}

int conf_parse_setting(const struct setting *st, const config_setting_t *s, struct ipcd_config *c,
		       char *reason, size_t len) {
	void *p = (char *)c + st->offset;
	const char *str;

	switch (st->kind) {
		case KIND_COUNT:
		case KIND_SIZE:
		case KIND_SECONDS:
			return parse_number(st, s, p, reason, len);
		case KIND_BOOL:
			if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
				snprintf(reason, len, "must be true or false");
				return -EINVAL;
			}
			*(bool *)p = config_setting_get_bool(s);
			return 0;
		case KIND_LEVEL:
			str = config_setting_get_string(s);
			for (size_t i = 0; str && i < ARRAY_SIZE(conf_level_names); i++)
				if (conf_level_names[i] && strcmp(str, conf_level_names[i]) == 0) {
					*(uint64_t *)p = i;
					return 0;
				}
			snprintf(reason, len, str ? "unknown level" : "must be a string");
			return -EINVAL;
		case KIND_MODE: {
			uint64_t mode = 0;
			str = config_setting_get_string(s);
			if (!str || !*str || strlen(str) > 4 ||
			    strspn(str, "01234567") != strlen(str)) {
				snprintf(reason, len, "must be an octal string%s",
					 config_setting_is_number(s) ? ", in quotes" : "");
				return -EINVAL;
			}
			for (; *str; str++)
				mode = mode * 8 + (uint64_t)(*str - '0');
			if (mode > st->max) {
				snprintf(reason, len, "out of range");
				return -EINVAL;
			}
			*(uint64_t *)p = mode;
			return 0;
		}
		case KIND_SOCKETS:
		case KIND_STREAM_SOCKETS:
			return parse_sockets(st, s, p, reason, len);
		case KIND_UIDS:
		case KIND_GIDS:
			return parse_ids(st, s, p, reason, len);
	}
	return -EINVAL;
}
