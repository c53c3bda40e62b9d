/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets: the entry points libFuzzer calls, and CHECK(), which prints
 * the broken property with the values that broke it and then aborts, so that the fuzzer saves
 * the input and tests/fuzz/run shows the line.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(expr, ...)                                                                           \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #expr);                 \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)
