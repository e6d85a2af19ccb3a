# tests/soak.mk — the soak (tests/soak.c: many concurrent queries of every
# kind, then no growth of tasks, threads, fds, memory or /dev/shm) and the
# fault tests (tests/fault_kill.c: a worker process SIGKILLed during plan
# delivery, mid-stream and during cleanup; SIGSTOPped workers).  Included
# at the end of tests/local.mk.
#
# `make check` runs the CI-bounded forms (tests/soak.test: 1000 queries in
# each of 5 runs, about 25 s; tests/fault-kill.test, about 15 s); `make
# soak` runs the soak longer (SOAK_QUERIES, default 10000 per run) and the
# fault rounds more times (FAULT_ROUNDS, default 10): about 5 minutes on 2
# cores.  Both print their seeds (DQ_SOAK_SEED, DQ_FAULT_SEED replay one).

check_PROGRAMS += tests/soak tests/fault_kill
tests_soak_SOURCES = tests/soak.c
tests_soak_CPPFLAGS = $(TEST_CPPFLAGS)
tests_soak_CFLAGS = $(AM_CFLAGS)
tests_soak_LDADD = $(HARNESS) libdq/libdq.la $(PTHREAD_LIBS)

tests_fault_kill_SOURCES = tests/fault_kill.c
tests_fault_kill_CPPFLAGS = $(TEST_CPPFLAGS)
tests_fault_kill_CFLAGS = $(AM_CFLAGS)
tests_fault_kill_LDADD = $(HARNESS) libdq/libdq.la $(PTHREAD_LIBS)

# Queries that survive a worker's death (tests/fault_retry.c): a bounded
# run in make check (10 queries a transport, about 30 s each), the full one
# (FAULT_QUERIES, default 100 a transport) in `make faults`.
check_PROGRAMS += tests/fault_retry
tests_fault_retry_SOURCES = tests/fault_retry.c
tests_fault_retry_CPPFLAGS = $(TEST_CPPFLAGS)
tests_fault_retry_CFLAGS = $(TEST_CFLAGS)
tests_fault_retry_LDADD = $(HARNESS) libdq/libdq.la $(PTHREAD_LIBS)

TESTS += tests/soak.test tests/fault-kill.test tests/fault-retry.test
EXTRA_DIST += tests/soak.test tests/fault-kill.test tests/fault-retry.test

SOAK_QUERIES = 10000
FAULT_ROUNDS = 10
soak: $(check_PROGRAMS) $(check_LTLIBRARIES) tools/dq $(pkglib_LTLIBRARIES)
	@$(AM_TESTS_ENVIRONMENT) DQ_SOAK_QUERIES=$(SOAK_QUERIES) \
	DQ_SOAK_TIMEOUT=3600 $(SHELL) $(srcdir)/tests/soak.test && \
	$(AM_TESTS_ENVIRONMENT) DQ_FAULT_ROUNDS=$(FAULT_ROUNDS) \
	$(SHELL) $(srcdir)/tests/fault-kill.test
.PHONY: soak

FAULT_QUERIES = 100
faults: $(check_PROGRAMS) $(check_LTLIBRARIES) tools/dq $(pkglib_LTLIBRARIES)
	@$(AM_TESTS_ENVIRONMENT) DQ_FAULT_QUERIES=$(FAULT_QUERIES) \
	$(SHELL) $(srcdir)/tests/fault-retry.test
.PHONY: faults
