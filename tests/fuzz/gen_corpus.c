/* gen_corpus.c — writes the fuzz targets' seed corpora from dq's real
 * encoders, so every seed is a valid input the fuzzer mutates from:
 *   corpus/ipc        schema messages, streams of record batches (every dq
 *                     type, nulls, an empty batch), an EOS marker
 *   corpus/plan       whole plans (TPC-H Q1/Q6, each boundary kind, CSV
 *                     and Arrow IPC scans), each stage alone, producer
 *                     heads
 *   corpus/task_plan  what SetPlan carries for every non-head stage
 *   corpus/config     dq.conf files
 *   corpus/worker     fuzz_worker programs: SetPlan + ExecuteTask + close,
 *                     for each boundary kind, and a two-stage query
 * Usage: gen_corpus DIR (DIR/<target>/ must exist).  Output is
 * deterministic, so re-running it leaves committed seeds unchanged.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dq/ipc.h>
#include <dq/plan.h>
#include <dq/tpch.h>

#include "../ipc_testdata.h"
#include "runtime/task_plan.h"

static const char *outdir;

_Noreturn static void die(const char *what, const dq_error *err) {
  fprintf(stderr, "gen_corpus: %s: %s\n", what, err ? err->message : "");
  exit(1);
}

static void put(const char *target, const char *name, const void *data,
                size_t len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* --- a growable byte buffer --------------------------------------------- */
typedef struct bytes {
  uint8_t *p;
  size_t n, cap;
} bytes;

static void add(bytes *b, const void *data, size_t len) {
  if (b->n + len > b->cap) {
    b->cap = (b->n + len) * 2;
    b->p = realloc(b->p, b->cap);
    if (b->p == NULL)
      die("out of memory", NULL);
  }
  memcpy(b->p + b->n, data, len);
  b->n += len;
}
static void add_u8(bytes *b, uint32_t v) {
  uint8_t c = (uint8_t)v;
  add(b, &c, 1);
}
static void add_blob(bytes *b, const void *data, size_t len) {
  if (len > 0xffff)
    die("a seed blob over 64 KiB", NULL);
  add_u8(b, len & 0xff);
  add_u8(b, len >> 8);
  add(b, data, len);
}

/* --- ipc ------------------------------------------------------------------ */
static void add_message(bytes *b, dq_ipc_message *m) {
  size_t n;
  const dq_ipc_slice *s = dq_ipc_message_slices(m, &n);
  for (size_t i = 0; i < n; i++)
    add(b, s[i].data, s[i].len);
  dq_ipc_message_unref(m);
}

static bytes ipc_stream; /* stream_all_types, for an IPC scan's file */

static void gen_ipc(void) {
  dq_error err;
  dq_schema *s = td_schema();
  dq_ipc_message *m;
  bytes stream = {0}, one = {0};
  if (dq_ipc_encode_schema(s, &m, &err) < 0)
    die("schema", &err);
  add_message(&one, m);
  put("ipc", "schema", one.p, one.n);
  add(&stream, one.p, one.n);
  static const int64_t shapes[][2] = {{0, 5}, {5, 0}, {5, 70}};
  for (size_t i = 0; i < 3; i++) {
    dq_batch *b = td_batch(s, shapes[i][0], shapes[i][1]);
    if (b == NULL || dq_ipc_encode_batch(b, &m, &err) < 0)
      die("batch", &err);
    dq_batch_unref(b);
    add_message(&stream, m);
  }
  add(&stream, dq_ipc_eos, 8);
  put("ipc", "stream_all_types", stream.p, stream.n);
  ipc_stream.p = malloc(stream.n);
  memcpy(ipc_stream.p, stream.p, stream.n);
  ipc_stream.n = stream.n;
  put("ipc", "eos", dq_ipc_eos, 8);

  /* One int32 column, no nulls: a short seed the fuzzer mutates fast. */
  dq_type t = {DQ_TYPE_INT32, 0, 0};
  const char *name = "x";
  dq_schema *small;
  if (dq_schema_new(1, &name, &t, NULL, &small, &err) < 0)
    die("small schema", &err);
  dq_batch_builder *bb;
  dq_batch *b;
  dq_batch_builder_new(small, 4, &bb, &err);
  for (int i = 0; i < 4; i++)
    dq_builder_append_int32(bb, 0, i * 7);
  if (dq_batch_builder_finish(bb, &b, &err) < 0)
    die("small batch", &err);
  dq_batch_builder_free(bb);
  bytes sm = {0};
  dq_ipc_encode_schema(small, &m, &err);
  add_message(&sm, m);
  dq_ipc_encode_batch(b, &m, &err);
  add_message(&sm, m);
  add(&sm, dq_ipc_eos, 8);
  put("ipc", "stream_int32", sm.p, sm.n);
  dq_batch_unref(b);
  dq_schema_unref(small);
  dq_schema_unref(s);
  free(stream.p);
  free(one.p);
  free(sm.p);
}

/* --- plans ---------------------------------------------------------------- */
static const char *cols[] = {"l_orderkey", "l_quantity"};

static dq_plan *finish(dq_plan_builder *b) {
  dq_plan *p;
  dq_error err;
  if (dq_plan_builder_finish(b, &p, &err) < 0)
    die("plan", &err);
  dq_plan_builder_free(b);
  return p;
}

/* scan -> KIND -> head (aggregate), at a tiny scale so the worker target
 * runs the seeds fast. */
static dq_plan *boundary_plan(dq_boundary_kind kind) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_node *scan = dq_node_scan_tpch(b, "lineitem", 0.0005, 7, cols, 2);
  const char *keys[] = {"l_orderkey"};
  dq_boundary out = {kind, kind == DQ_BOUNDARY_SHUFFLE ? 1 : 0,
                     kind == DQ_BOUNDARY_SHUFFLE ? keys : NULL};
  uint32_t s1 = dq_plan_stage(b, scan, 2, 2, &out);
  dq_agg aggs[] = {{DQ_AGG_COUNT_STAR, NULL, "n"},
                   {DQ_AGG_SUM, dq_expr_column(b, "l_quantity"), "q"}};
  dq_node *filter = dq_node_filter(
      b, dq_node_read(b, s1),
      dq_expr_lt(b, dq_expr_column(b, "l_quantity"), dq_expr_decimal(b, "24")));
  dq_plan_stage(b,
                dq_node_aggregate(b, filter, DQ_AGG_SINGLE, 0, NULL, NULL, 2,
                                  aggs),
                1, 1, NULL);
  return finish(b);
}

/* Three stages: scan -shuffle-> group by -coalesce-> head sort/limit. */
static dq_plan *three_stage_plan(void) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_node *scan = dq_node_scan_tpch(b, "lineitem", 0.0005, 7, cols, 2);
  const char *keys[] = {"l_orderkey"};
  dq_boundary shuffle = {DQ_BOUNDARY_SHUFFLE, 1, keys};
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  uint32_t s1 = dq_plan_stage(b, scan, 2, 1, &shuffle);
  dq_expr *key = dq_expr_column(b, "l_orderkey");
  const char *gname = "l_orderkey";
  dq_agg aggs[] = {{DQ_AGG_MAX, dq_expr_column(b, "l_quantity"), "m"}};
  dq_node *g = dq_node_aggregate(b, dq_node_read(b, s1), DQ_AGG_SINGLE, 1,
                                 &key, &gname, 1, aggs);
  uint32_t s2 = dq_plan_stage(b, g, 2, 2, &coalesce);
  dq_sort_key sk = {dq_expr_column(b, "m"), true, false};
  dq_node *top = dq_node_limit(b, dq_node_sort(b, dq_node_read(b, s2), 1, &sk),
                               5, 0);
  dq_plan_stage(b, top, 1, 1, NULL);
  return finish(b);
}

/* scan -coalesce-> head over each file source: a CSV scan (its files are
 * not opened to decode it) and an Arrow IPC scan of `ipc_path` (whose
 * schema the plan carries). */
static dq_plan *file_scan_plan(const char *ipc_path) {
  dq_plan_builder *b;
  dq_error err;
  dq_plan_builder_new(&b, &err);
  dq_boundary coalesce = {DQ_BOUNDARY_COALESCE, 0, NULL};
  dq_node *scan;
  if (ipc_path == NULL) {
    const char *names[] = {"k", "price", "day"};
    dq_type types[] = {{DQ_TYPE_INT64, 0, 0},
                       {DQ_TYPE_DECIMAL, 12, 2},
                       {DQ_TYPE_DATE32, 0, 0}};
    dq_schema *s;
    if (dq_schema_new(3, names, types, NULL, &s, &err) < 0)
      die("csv schema", &err);
    const char *paths[] = {"data/a.csv", "data/b.csv"};
    dq_csv_options o = {true, 1 << 16, 0};
    scan = dq_node_scan_csv_with(b, 2, paths, s, &o);
    dq_schema_unref(s);
  } else {
    const char *icols[] = {td_names[1], td_names[0]};
    scan = dq_node_scan_ipc(b, 1, &ipc_path, icols, 2);
  }
  uint32_t s1 = dq_plan_stage(b, scan, 2, 2, &coalesce);
  dq_plan_stage(b, dq_node_limit(b, dq_node_read(b, s1), 10, 0), 1, 1, NULL);
  return finish(b);
}

/* The task plan of stage `id`, its producers all at url. */
static void task_plan_bytes(const dq_plan *p, uint32_t id, const char *url,
                            uint8_t **buf, size_t *len) {
  const dq_stage *s = dq_plan_stage_by_id(p, id);
  uint32_t ids[64];
  size_t n = dq_stage_inputs(s, ids, 64);
  dq_input_boundary *in = calloc(n ? n : 1, sizeof *in);
  dq_error err;
  for (size_t i = 0; i < n; i++) {
    const dq_stage *ps = dq_plan_stage_by_id(p, ids[i]);
    dq_producer_head h;
    if (dq_stage_producer_head(ps, &h, &err) < 0 ||
        dq_producer_head_encode(&h, &in[i].head_bytes, &in[i].head_len,
                                &err) < 0 ||
        dq_producer_head_decode(in[i].head_bytes, in[i].head_len, &in[i].head,
                                &err) < 0)
      die("producer head", &err);
    in[i].producer_stage_id = ids[i];
    in[i].producer_task_count = dq_stage_task_count(ps);
    in[i].producer_partitions = dq_stage_partitions(ps);
    in[i].urls = calloc(in[i].producer_task_count, sizeof *in[i].urls);
    for (uint32_t t = 0; t < in[i].producer_task_count; t++)
      in[i].urls[t] = strdup(url);
  }
  if (dq_task_plan_encode(s, in, n, buf, len, &err) < 0)
    die("task plan", &err);
  for (size_t i = 0; i < n; i++)
    dq_input_boundary_clear(&in[i]);
  free(in);
}

static void gen_plan_seeds(const char *tag, const dq_plan *p) {
  char name[128];
  uint8_t *buf;
  size_t len;
  dq_error err;
  if (dq_plan_encode(p, &buf, &len, &err) < 0)
    die("plan encode", &err);
  snprintf(name, sizeof name, "%s_plan", tag);
  put("plan", name, buf, len);
  free(buf);
  for (size_t i = 1; i <= dq_plan_n_stages(p); i++) {
    const dq_stage *s = dq_plan_stage_by_id(p, (uint32_t)i);
    if (dq_stage_encode(s, &buf, &len, &err) < 0)
      die("stage encode", &err);
    snprintf(name, sizeof name, "%s_stage%zu", tag, i);
    put("plan", name, buf, len);
    free(buf);
    if (dq_stage_boundary_kind(s) == DQ_BOUNDARY_NONE)
      continue;
    dq_producer_head h;
    if (dq_stage_producer_head(s, &h, &err) < 0 ||
        dq_producer_head_encode(&h, &buf, &len, &err) < 0)
      die("producer head", &err);
    snprintf(name, sizeof name, "%s_head%zu", tag, i);
    put("plan", name, buf, len);
    free(buf);
    task_plan_bytes(p, (uint32_t)i, "inmem://fuzz", &buf, &len);
    snprintf(name, sizeof name, "%s_task%zu", tag, i);
    put("task_plan", name, buf, len);
    free(buf);
  }
}

/* --- worker programs -------------------------------------------------------*/
static void op_setplan(bytes *b, const dq_plan *p, uint32_t stage,
                       uint32_t task) {
  uint8_t *buf;
  size_t len;
  task_plan_bytes(p, stage, "inmem://fuzz", &buf, &len);
  add_u8(b, 0);
  add_u8(b, stage);
  add_u8(b, task);
  add_u8(b, dq_stage_task_count(dq_plan_stage_by_id(p, stage)));
  add_blob(b, buf, len);
  free(buf);
}

static void op_execute(bytes *b, const dq_plan *p, uint32_t stage,
                       uint32_t task, uint32_t start, uint32_t end,
                       uint32_t flags) {
  dq_producer_head h;
  uint8_t *buf;
  size_t len;
  dq_error err;
  if (dq_stage_producer_head(dq_plan_stage_by_id(p, stage), &h, &err) < 0 ||
      dq_producer_head_encode(&h, &buf, &len, &err) < 0)
    die("producer head", &err);
  add_u8(b, 1);
  add_u8(b, stage);
  add_u8(b, task);
  add_u8(b, start);
  add_u8(b, end);
  add_u8(b, flags);
  add_blob(b, buf, len);
  free(buf);
}

static void gen_worker_seeds(const char *tag, const dq_plan *p) {
  /* Stage 1's task 0 alone: plan, info, read every partition, finish. */
  bytes b = {0};
  const dq_stage *s1 = dq_plan_stage_by_id(p, 1);
  dq_producer_head h;
  dq_error err;
  if (dq_stage_producer_head(s1, &h, &err) < 0)
    die("producer head", &err);
  uint32_t parts = dq_head_partitions(&h, dq_stage_partitions(s1));
  op_setplan(&b, p, 1, 0);
  add_u8(&b, 5);
  op_execute(&b, p, 1, 0, 0, parts, 0);
  add_u8(&b, 3);
  add_u8(&b, 4);
  char name[128];
  snprintf(name, sizeof name, "%s_stage1", tag);
  put("worker", name, b.p, b.n);
  b.n = 0;

  /* Every task of stage 1, then stage 2's task 0 reading them over the
   * worker's own URL; a cancelled stream and a work unit on the side. */
  for (uint32_t t = 0; t < dq_stage_task_count(s1); t++)
    op_setplan(&b, p, 1, t);
  op_setplan(&b, p, 2, 0);
  add_u8(&b, 2);
  add_blob(&b, "unit", 4);
  const dq_stage *s2 = dq_plan_stage_by_id(p, 2);
  if (dq_stage_boundary_kind(s2) != DQ_BOUNDARY_NONE) {
    op_execute(&b, p, 2, 0, 0, 1, 1); /* cancelled at once */
    op_execute(&b, p, 2, 0, 1, 2, 0);
  }
  add_u8(&b, 3);
  snprintf(name, sizeof name, "%s_two_stages", tag);
  put("worker", name, b.p, b.n);
  free(b.p);
}

/* --- config ----------------------------------------------------------------*/
static void gen_config(void) {
  static const char *const confs[][2] = {
      {"readme",
       "; dq.conf\n[dq]\ntransport = inmem\nplugin_path = /opt/dq-plugins"
       "        ; colon list\n\n[executor]\nthreads = 2\nbatch_rows = 8192\n"
       "\n[transport.grpc]\nmax_message_size = 16777216\n\n[workers]\n"
       "w1 = grpc://10.0.0.1:7000\n"},
      {"all_executor",
       "[executor]\nthreads = 4\nbatch_rows = 1024\ntask_ttl_ms = 100\n"
       "plan_wait_ms = 0\n"},
      {"transports",
       "[dq]\ntransport = shm\nplugin_path = /a:/b::/c\n[transport.shm]\n"
       "ring_bytes = 1048576\n[transport.inmem]\n[workers]\na = shm:///tmp/w1\n"
       "b = shm:///tmp/w2\n"},
      {"bad_section", "[nope]\nx = 1\n"},
      {"bad_value", "[executor]\nthreads = many\n"},
      {"bad_syntax", "[dq\ntransport\n"},
  };
  for (size_t i = 0; i < sizeof confs / sizeof confs[0]; i++)
    put("config", confs[i][0], confs[i][1], strlen(confs[i][1]));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: gen_corpus DIR\n");
    return 2;
  }
  outdir = argv[1];
  gen_ipc();
  gen_config();
  static const struct {
    const char *tag;
    dq_boundary_kind kind;
  } kinds[] = {{"shuffle", DQ_BOUNDARY_SHUFFLE},
               {"coalesce", DQ_BOUNDARY_COALESCE},
               {"broadcast", DQ_BOUNDARY_BROADCAST}};
  for (size_t i = 0; i < 3; i++) {
    dq_plan *p = boundary_plan(kinds[i].kind);
    gen_plan_seeds(kinds[i].tag, p);
    gen_worker_seeds(kinds[i].tag, p);
    dq_plan_free(p);
  }
  dq_plan *p = three_stage_plan();
  gen_plan_seeds("three", p);
  gen_worker_seeds("three", p);
  dq_plan_free(p);
  p = file_scan_plan(NULL);
  gen_plan_seeds("csv", p);
  dq_plan_free(p);
  /* The IPC scan reads its schema from the file when built. */
  const char *ipc_path = "/tmp/dq-gen-corpus-all-types.arrows";
  FILE *f = fopen(ipc_path, "wb");
  if (f == NULL || fwrite(ipc_stream.p, 1, ipc_stream.n, f) != ipc_stream.n ||
      fclose(f) != 0) {
    fprintf(stderr, "gen_corpus: cannot write %s\n", ipc_path);
    return 1;
  }
  p = file_scan_plan(ipc_path);
  unlink(ipc_path);
  free(ipc_stream.p);
  gen_plan_seeds("ipc_scan", p);
  dq_plan_free(p);
  static const char *const queries[] = {"q1", "q6"};
  for (size_t i = 0; i < 2; i++) {
    dq_error err;
    if (dq_tpch_query_plan(queries[i], 0.0005, 3, 2, 2, &p, &err) < 0)
      die(queries[i], &err);
    gen_plan_seeds(queries[i], p);
    dq_plan_free(p);
  }
  return 0;
}
