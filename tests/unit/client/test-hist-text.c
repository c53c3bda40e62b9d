/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "hist-text.h"
#include "macro.h"
#include "tests.h"

#define HEADER "       Value     Percentile TotalCount 1/(1-Percentile)\n\n"
#define ROWS_MAX 1024

struct row {
	double value, percentile, inverse;
	unsigned long long count;
	int fields;
};

struct parsed {
	char *text;
	size_t n_rows;
	struct row rows[ROWS_MAX];
	double mean, stddev, max;
	unsigned long long total;
	int buckets, sub_buckets;
};

/* hist_text_write() into memory, and its rows and footer read back as a plotter would. */
static bool write_and_parse(const struct hist *h, struct parsed *p) {
	size_t len = 0;
	FILE *f = open_memstream(&p->text, &len);
	char *line, *save = NULL, *copy;
	int footer = 0;

	if (!f || hist_text_write(h, f) != 0 || fclose(f) != 0)
		return false;
	copy = strdup(p->text);
	p->n_rows = 0;
	for (line = strtok_r(copy + strlen(HEADER), "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct row *r = &p->rows[p->n_rows];
		if (sscanf(line, "#[Mean = %lf, StdDeviation = %lf]", &p->mean, &p->stddev) == 2 ||
		    sscanf(line, "#[Max = %lf, Total count = %llu]", &p->max, &p->total) == 2 ||
		    sscanf(line, "#[Buckets = %d, SubBuckets = %d]", &p->buckets,
			   &p->sub_buckets) == 2)
			footer++;
		else if (line[0] != '#' && p->n_rows < ROWS_MAX) {
			r->fields = sscanf(line, "%lf %lf %llu %lf", &r->value, &r->percentile,
					   &r->count, &r->inverse);
			p->n_rows++;
		}
	}
	free(copy);
	return footer == 3;
}

static struct hist *hist_of_usec(uint64_t from, uint64_t to) {
	struct hist *h = malloc(sizeof(*h));
	hist_init(h);
	for (uint64_t v = from; v <= to; v++)
		hist_record(h, v * 1000);
	return h;
}

TEST(values_1_to_1000_usec_ascend_to_the_last_row) {
	struct hist *h = hist_of_usec(1, 1000);
	struct parsed *p = calloc(1, sizeof(*p));

	ASSERT_TRUE(write_and_parse(h, p));
	ASSERT_TRUE(strncmp(p->text, HEADER, strlen(HEADER)) == 0);
	ASSERT_TRUE(p->n_rows > 20);
	for (size_t i = 0; i + 1 < p->n_rows; i++) {
		const struct row *r = &p->rows[i], *next = &p->rows[i + 1];
		ASSERT_EQ(r->fields, 4);
		ASSERT_TRUE(next->percentile > r->percentile);
		ASSERT_TRUE(next->count >= r->count && next->value >= r->value);
		ASSERT_TRUE(fabs(r->inverse - 1.0 / (1.0 - r->percentile)) < 0.006);
		/* The count-th smallest value is count µs: the row bounds it, within 1/128. */
		ASSERT_TRUE(r->value >= (double)r->count);
		ASSERT_TRUE(r->value <= (double)r->count * (1 + 1.0 / 128) + 0.001);
		/* And the row's percentile of the values really lie at or below it. */
		ASSERT_TRUE((double)r->count >= r->percentile * 1000);
	}
	ASSERT_EQ(p->rows[p->n_rows - 1].fields, 3); /* no 1/(1-1) */
	ASSERT_TRUE(p->rows[p->n_rows - 1].percentile == 1.0);
	ASSERT_EQ(p->rows[p->n_rows - 1].count, 1000);
	ASSERT_TRUE(p->rows[p->n_rows - 1].value == 1000.0);
	ASSERT_TRUE(fabs(p->mean - 500.5) < 0.001);
	ASSERT_TRUE(fabs(p->stddev - sqrt((1000.0 * 1000.0 - 1) / 12)) < 0.001);
	ASSERT_TRUE(p->max == 1000.0);
	ASSERT_EQ(p->total, 1000);
	ASSERT_EQ(p->buckets, 37);
	ASSERT_EQ(p->sub_buckets, 256);
	free(p->text);
	free(p);
	free(h);
}

/* HdrHistogram's iterator: steps of 10% to 50%, then 5% to 75%, 2.5% to 87.5%, … */
TEST(percentiles_step_as_hdrhistogram_steps_them) {
	static const double want[] = { 0,       0.1,   0.2,     0.3,    0.4,    0.5,   0.55,
				       0.6,     0.65,  0.7,     0.75,   0.775,  0.8,   0.825,
				       0.85,    0.875, 0.8875,  0.9,    0.9125, 0.925, 0.9375,
				       0.94375, 0.95,  0.95625, 0.9625, 0.96875 };
	struct hist *h = hist_of_usec(1, 100000);
	struct parsed *p = calloc(1, sizeof(*p));

	ASSERT_TRUE(write_and_parse(h, p));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		ASSERT_TRUE(fabs(p->rows[i].percentile - want[i]) < 1e-12);
	free(p->text);
	free(p);
	free(h);
}

TEST(one_value_gives_a_first_and_a_last_row) {
	struct hist *h = hist_of_usec(42, 42);
	struct parsed *p = calloc(1, sizeof(*p));

	ASSERT_TRUE(write_and_parse(h, p));
	ASSERT_EQ(p->n_rows, 2);
	ASSERT_TRUE(p->rows[0].percentile == 0.0 && p->rows[0].value == 42.0);
	ASSERT_TRUE(p->rows[1].percentile == 1.0 && p->rows[1].value == 42.0);
	ASSERT_EQ(p->rows[1].count, 1);
	free(p->text);
	free(p);
	free(h);
}

TEST(empty_histogram_is_header_and_footer) {
	struct hist *h = hist_of_usec(1, 0);
	struct parsed *p = calloc(1, sizeof(*p));

	ASSERT_TRUE(write_and_parse(h, p));
	ASSERT_EQ(p->n_rows, 0);
	ASSERT_EQ(p->total, 0);
	ASSERT_TRUE(p->max == 0.0 && p->mean == 0.0);
	free(p->text);
	free(p);
	free(h);
}

/* Values above the histogram are neither dropped nor put in a bucket they are not in: the
 * last rows count them, at the largest value seen. */
TEST(overflow_counts_at_the_largest_value) {
	struct hist *h = hist_of_usec(1, 98);
	struct parsed *p = calloc(1, sizeof(*p));
	const struct row *last;

	hist_record(h, HIST_TOP_NSEC + 5);
	hist_record(h, HIST_TOP_NSEC * 2);
	ASSERT_TRUE(write_and_parse(h, p));
	last = &p->rows[p->n_rows - 1];
	ASSERT_EQ(last->count, 100);
	ASSERT_TRUE(fabs(last->value - (double)(HIST_TOP_NSEC * 2) / 1e3) < 0.001);
	ASSERT_EQ(p->rows[p->n_rows - 2].count, 100);
	ASSERT_TRUE(p->rows[p->n_rows - 3].value <= 98 * (1 + 1.0 / 128));
	free(p->text);
	free(p);
	free(h);
}

TEST(save_names_the_file_it_could_not_write) {
	struct hist *h = hist_of_usec(1, 1000);
	char err[HIST_TEXT_ERROR_MAX] = "";

	ASSERT_EQ(hist_text_save(h, "/", err, sizeof(err)), -EISDIR);
	ASSERT_STREQ(err, "failed to write the histogram to '/': Is a directory");
	/* A full disk shows only when the buffer goes out. */
	ASSERT_EQ(hist_text_save(h, "/dev/full", err, sizeof(err)), -ENOSPC);
	ASSERT_CONTAINS(err, "'/dev/full'");
	ASSERT_EQ(hist_text_save(h, "/dev/null", err, sizeof(err)), 0);
	free(h);
}
