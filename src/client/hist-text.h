/* SPDX-License-Identifier: MIT */
#pragma once

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "hist.h"

/* Percentile rows per halving of the distance to 100%: HdrHistogram's default, as in wrk2. */
#define HIST_TEXT_TICKS 5

/*
 * The whole distribution in HdrHistogram's percentile-distribution text (its
 * outputPercentileDistribution(), which wrk2 --latency prints and HdrHistogram's plotter reads),
 * values in microseconds. Returns 0, or -EIO if f reports an error; f is neither flushed nor
 * closed.
 */
int hist_text_write(const struct hist *h, FILE *f);

#define HIST_TEXT_ERROR_MAX (PATH_MAX + 128)

/* Writes it to path, created (0666 less the umask) or truncated, and closed: 0, or the negative
 * errno of what failed, said in one line in err (naming the file, without a program name). */
int hist_text_save(const struct hist *h, const char *path, char *err, size_t errlen);
