# bench/local.mk — the benchmark programs and `make bench`.
#
# They are EXTRA_PROGRAMS: built only by `make bench`, never by `make all`
# or `make check`, so CI never runs (or waits for) them.  They link
# libdqcore.la statically to reach the runtime's internals (the transport
# ops of a context, task plans, the executor) as the runtime itself does.
#
#   make bench                          # the whole run, a few minutes on 2 cores
#   make bench BENCH_SCALE=0.1 BENCH_RUNS=1 BENCH_SECONDS=0.05 BENCH_REPS=1  # smoke
#
# Each run writes bench/results/<UTC timestamp>.json (one object holding
# the three programs' output), the Markdown tables they printed (.md) and,
# when gnuplot is installed, a plot (.png) — all in the build tree.
BENCH_PROGS = bench/baselines bench/transport_bench bench/query_bench
EXTRA_PROGRAMS += $(BENCH_PROGS)
CLEANFILES += $(BENCH_PROGS)

BENCH_COMMON = bench/bench_util.c bench/bench_util.h
BENCH_LIBS = libdq/libdqcore.la $(PTHREAD_LIBS)

bench_baselines_SOURCES = bench/baselines.c $(BENCH_COMMON)
bench_baselines_LDADD = $(PTHREAD_LIBS)
bench_transport_bench_SOURCES = bench/transport_bench.c $(BENCH_COMMON)
bench_transport_bench_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
bench_transport_bench_LDADD = $(BENCH_LIBS)
bench_query_bench_SOURCES = bench/query_bench.c $(BENCH_COMMON)
bench_query_bench_CPPFLAGS = $(AM_CPPFLAGS) $(PROTOBUF_C_CFLAGS)
bench_query_bench_LDADD = $(BENCH_LIBS)

EXTRA_DIST += bench/plot.gp

# Defaults sized so the whole run stays well under 10 minutes on 2 cores.
BENCH_SCALE = 1
BENCH_RUNS = 3
BENCH_WORKERS = 1,2,4
BENCH_SECONDS = 0.2
BENCH_REPS = 5
# Every transport built in this tree; the programs skip the ones absent.
BENCH_PLUGIN_PATH = $(abs_top_builddir)/plugins/inmem:$(abs_top_builddir)/plugins/shm:$(abs_top_builddir)/plugins/grpc

# Each program's tables go to the terminal and to <ts>.md; a program that
# fails makes `make bench` fail once the others have run (dash has no
# pipefail, hence a file per program rather than a pipe through tee).
bench: all $(BENCH_PROGS)
	@$(MKDIR_P) bench/results
	@ts=`date -u +%Y%m%dT%H%M%SZ`; out=bench/results/$$ts; st=0; \
	DQ_PLUGIN_PATH='$(BENCH_PLUGIN_PATH)'; export DQ_PLUGIN_PATH; \
	unset DQ_CONFIG DQ_TRANSPORT; : > $$out.md; \
	echo "== baselines"; \
	bench/baselines --reps $(BENCH_REPS) --seconds $(BENCH_SECONDS) \
	  --json $$out-baselines.json > $$out.part || st=1; \
	cat $$out.part; cat $$out.part >> $$out.md; \
	echo "== transports"; \
	bench/transport_bench --reps $(BENCH_REPS) --seconds $(BENCH_SECONDS) \
	  --json $$out-transports.json --tsv $$out-transports.tsv \
	  > $$out.part || st=1; \
	cat $$out.part; cat $$out.part >> $$out.md; \
	echo "== queries"; \
	bench/query_bench --scale $(BENCH_SCALE) --runs $(BENCH_RUNS) \
	  --workers $(BENCH_WORKERS) --json $$out-queries.json \
	  --tsv $$out-queries.tsv > $$out.part || st=1; \
	cat $$out.part; cat $$out.part >> $$out.md; rm -f $$out.part; \
	{ echo '{"timestamp": "'$$ts'",'; \
	  echo '"baselines":'; cat $$out-baselines.json || echo null; echo ','; \
	  echo '"transports":'; cat $$out-transports.json || echo null; echo ','; \
	  echo '"queries":'; cat $$out-queries.json || echo null; echo '}'; \
	} > $$out.json; \
	rm -f $$out-baselines.json $$out-transports.json $$out-queries.json; \
	if command -v gnuplot >/dev/null 2>&1; then \
	  gnuplot -e "tfile='$$out-transports.tsv'; qfile='$$out-queries.tsv'; \
	    outfile='$$out.png'; stamp='$$ts'" $(srcdir)/bench/plot.gp \
	  && echo "plot: $$out.png"; \
	else \
	  echo "plot: skipped, gnuplot is not installed (apt-get install gnuplot-nox)"; \
	fi; \
	echo "results: $$out.json $$out.md"; \
	if test $$st != 0; then echo "make bench: a bench program failed" >&2; fi; \
	exit $$st

.PHONY: bench

# --- make bench-peer: dq against DuckDB, side by side ------------------------
# bench/peer_bench runs each built-in query on dq and on DuckDB (npm
# @duckdb/node-api, pinned in bench/peer/package-lock.json and installed
# with `npm ci` into the build tree, never the source tree) at 1 and 2
# threads, interleaved, every answer compared.  Both read the same data: the
# tables of `dq gen --format csv` at PEER_SCALE (generated once into
# bench/peer-data/ of the build tree and kept there) for DuckDB, the same
# rows kept in memory for dq.  Skipped with a message when node or npm is
# missing; an npm install that fails is a failure.
#
#   make bench-peer      # SF 1, 3 rounds of 5 runs, 1 and 2 threads (~5 min)
#   make bench-peer PEER_SCALE=0.1 PEER_ROUNDS=1 PEER_QUERIES=q1,q6
EXTRA_PROGRAMS += bench/peer_bench
CLEANFILES += bench/peer_bench
bench_peer_bench_SOURCES = bench/peer_bench.c $(BENCH_COMMON)
bench_peer_bench_LDADD = $(BENCH_LIBS) -lm

PEER_SRC = bench/peer/package.json bench/peer/package-lock.json \
	bench/peer/duckdb_peer.mjs
PEER_SQL = bench/peer/queries/q1.sql bench/peer/queries/q3.sql \
	bench/peer/queries/q5.sql bench/peer/queries/q6.sql \
	bench/peer/queries/q10.sql bench/peer/queries/q12.sql \
	bench/peer/queries/q14.sql bench/peer/queries/q18.sql \
	bench/peer/queries/q19.sql
EXTRA_DIST += $(PEER_SRC) $(PEER_SQL)

PEER_SCALE = 1
PEER_SEED = 0
PEER_RUNS = 5
PEER_ROUNDS = 3
PEER_THREADS = 1,2
PEER_QUERIES = q1,q3,q5,q6,q10,q12,q14,q18,q19

bench-peer: all bench/peer_bench
	@for prog in node npm; do \
	  if ! command -v $$prog >/dev/null 2>&1; then \
	    echo "bench-peer: skipped: $$prog is not installed (the DuckDB peer runs on Node.js with npm)"; \
	    exit 0; \
	  fi; \
	done; \
	node_dir=bench/peer-node; data=bench/peer-data/sf$(PEER_SCALE)-seed$(PEER_SEED); \
	$(MKDIR_P) $$node_dir bench/results || exit 1; \
	for f in $(PEER_SRC); do cp $(srcdir)/$$f $$node_dir/ || exit 1; done; \
	if test ! -d $$node_dir/node_modules/@duckdb/node-api; then \
	  echo "bench-peer: installing @duckdb/node-api with npm ci into $$node_dir"; \
	  (cd $$node_dir && npm ci --no-audit --no-fund --loglevel=error) || { \
	    echo "bench-peer: npm ci failed in $$node_dir (is the npm registry reachable?)" >&2; exit 1; }; \
	fi; \
	if test ! -f $$data/.complete; then \
	  echo "bench-peer: generating the tables at SF $(PEER_SCALE) into $$data"; \
	  rm -rf $$data && $(MKDIR_P) $$data && \
	  tools/dq gen --format csv --scale $(PEER_SCALE) --seed $(PEER_SEED) \
	    --out $$data && touch $$data/.complete || exit 1; \
	fi; \
	ts=`date -u +%Y%m%dT%H%M%SZ`; out=bench/results/$$ts-peer; \
	DQ_PLUGIN_PATH='$(abs_top_builddir)/plugins/inmem'; export DQ_PLUGIN_PATH; \
	unset DQ_CONFIG DQ_TRANSPORT; \
	{ bench/peer_bench --data $$data --peer-dir $$node_dir \
	    --sql-dir $(srcdir)/bench/peer/queries --scale $(PEER_SCALE) \
	    --seed $(PEER_SEED) --runs $(PEER_RUNS) --rounds $(PEER_ROUNDS) --threads $(PEER_THREADS) \
	    --queries $(PEER_QUERIES) --json $$out.json; echo $$? > $$out.rc; \
	} | tee $$out.md; st=`cat $$out.rc`; rm -f $$out.rc; \
	echo "results: $$out.json $$out.md"; exit $$st

.PHONY: bench-peer
