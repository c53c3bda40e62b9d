/* SPDX-License-Identifier: MIT */
#pragma once

#include "client-opts.h"

/*
 * load or rate, o->repeat times over: each run independent and complete, and the report of
 * them all (report-repeat.h) on standard output, then --histogram's file of every run's round
 * trips. Returns the exit status, or negative errno when a run could not be carried out.
 */
int repeat_run(const struct client_opts *o);
