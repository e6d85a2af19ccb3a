/* test_config.c — dq.conf parsing: a good file, every error with its
 * file:line, and the environment's precedence over the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/dq.h>

static int setup(void **state) {
  (void)state;
  unsetenv("DQ_CONFIG");
  unsetenv("DQ_TRANSPORT");
  unsetenv("DQ_PLUGIN_PATH");
  return 0;
}

static const char good[] =
    "; a comment\n"
    "[dq]\n"
    "transport = grpc\n"
    "plugin_path = /opt/a:/opt/b\n"
    "\n"
    "[executor]\n"
    "batch_rows = 4096\n"
    "task_ttl_ms = 1000\n"
    "\n"
    "[transport.grpc]\n"
    "max_message_size = 16777216\n"
    "token = s3cret=with=equals\n"
    "\n"
    "[workers]\n"
    "w1 = grpc://10.0.0.1:7000\n"
    "w2 = grpc://10.0.0.2:7000\n";

static void test_good_file(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(dq_config_parse(good, "good.conf", &cfg, &err), 0);
  assert_string_equal(dq_config_transport(cfg), "grpc");
  assert_int_equal(dq_config_n_plugin_dirs(cfg), 3);
  assert_string_equal(dq_config_plugin_dir(cfg, 0), "/opt/a");
  assert_string_equal(dq_config_plugin_dir(cfg, 1), "/opt/b");
  assert_string_equal(dq_config_plugin_dir(cfg, 2), dq_plugin_dir());
  assert_int_equal(dq_config_executor(cfg, "task_ttl_ms"), 1000);
  assert_int_equal(dq_config_executor(cfg, "batch_rows"), 4096);
  assert_int_equal(dq_config_executor(cfg, "plan_wait_ms"), 5000); /* default */
  assert_int_equal(dq_config_executor(cfg, "no_such_setting"), 0);
  size_t n;
  const dq_kv *kv = dq_config_transport_options(cfg, "grpc", &n);
  assert_int_equal(n, 2);
  assert_string_equal(kv[0].key, "max_message_size");
  assert_string_equal(kv[0].value, "16777216");
  assert_string_equal(kv[1].key, "token");
  assert_string_equal(kv[1].value, "s3cret=with=equals");
  assert_null(dq_config_transport_options(cfg, "shm", &n));
  assert_int_equal(n, 0);
  assert_int_equal(dq_config_n_workers(cfg), 2);
  assert_string_equal(dq_config_worker(cfg, 1), "grpc://10.0.0.2:7000");
  assert_null(dq_config_worker(cfg, 2));
  dq_config_free(cfg);
}

static void expect_error(const char *text, const char *want);

/* Worker loss and membership settings (docs/runtime.md). */
static void test_membership(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(dq_config_parse("[executor]\nmax_task_attempts = 1\n"
                                   "worker_avoid_ms = 0\n[workers]\n"
                                   "w1 = grpc://10.0.0.1:7000\n"
                                   "discover = dns:dq-workers:7000\n"
                                   "discover = dns:[::1]:7001\n",
                                   "m.conf", &cfg, &err),
                   0);
  assert_int_equal(dq_config_executor(cfg, "max_task_attempts"), 1);
  assert_int_equal(dq_config_executor(cfg, "worker_avoid_ms"), 0);
  assert_int_equal(dq_config_n_workers(cfg), 1);
  assert_int_equal(dq_config_n_discover(cfg), 2);
  assert_string_equal(dq_config_discover(cfg, 0), "dns:dq-workers:7000");
  assert_null(dq_config_discover(cfg, 2));
  dq_config_free(cfg);
  assert_int_equal(dq_config_load(NULL, &cfg, &err), 0);
  assert_int_equal(dq_config_executor(cfg, "max_task_attempts"), 3);
  assert_int_equal(dq_config_executor(cfg, "worker_avoid_ms"), 30000);
  assert_int_equal(dq_config_n_discover(cfg), 0);
  dq_config_free(cfg);
  expect_error("[executor]\nmax_task_attempts = 0\n",
               "bad.conf:2: [executor] max_task_attempts = '0' is not an "
               "integer from 1 to 100");
  expect_error("[executor]\nworker_avoid_ms = -1\n",
               "worker_avoid_ms = '-1' is not an integer");
  const char *bad[] = {"dns:host", "dns::7000", "dns:host:0", "dns:host:x",
                       "dns:host:65536", "srv:host:7000", "dns:host:7000x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char text[128];
    snprintf(text, sizeof text, "[workers]\ndiscover = %s\n", bad[i]);
    expect_error(text, "is not dns:NAME:PORT");
  }
}

static void test_defaults(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(dq_config_load(NULL, &cfg, &err), 0);
  assert_string_equal(dq_config_transport(cfg), "inmem");
  assert_null(dq_config_path(cfg));
  assert_int_equal(dq_config_n_plugin_dirs(cfg), 1);
  assert_int_equal(dq_config_n_workers(cfg), 0);
  assert_int_equal(dq_config_executor(cfg, "batch_rows"), 8192);
  dq_config_free(cfg);
}

/* Each bad file gets DQ_ECONFIG and a message starting with name:line. */
static void expect_error(const char *text, const char *want) {
  dq_config *cfg = (dq_config *)0x1;
  dq_error err;
  dq_error_clear(&err);
  int rc = dq_config_parse(text, "bad.conf", &cfg, &err);
  assert_int_equal(rc, DQ_ECONFIG);
  assert_int_equal(err.code, DQ_ECONFIG);
  assert_null(cfg);
  if (strstr(err.message, want) == NULL)
    fail_msg("expected '%s' in '%s'", want, err.message);
}

static void test_errors(void **state) {
  (void)state;
  expect_error("[dq]\ntransprot = inmem\n",
               "bad.conf:2: unknown key 'transprot' in [dq] (known keys: "
               "transport, plugin_path)");
  expect_error("[dq]\ntransport = in mem\n",
               "bad.conf:2: transport 'in mem' is not a valid transport name");
  expect_error("\n\n[dq\n", "bad.conf:3: syntax error");
  expect_error("[dq]\njust words\n", "bad.conf:2: syntax error");
  expect_error("transport = inmem\n",
               "bad.conf:1: 'transport' is outside any section");
  expect_error("[dq]\n[wrokers]\nw = inmem://a\n",
               "bad.conf:3: unknown section [wrokers]");
  expect_error("[workers]\nw1 = localhost:7000\n",
               "bad.conf:2: [workers] w1 = 'localhost:7000' is not a worker "
               "URL");
  expect_error("[executor]\nbatch_rows = lots\n",
               "bad.conf:2: [executor] batch_rows = 'lots' is not an integer "
               "from 1 to 16777216");
  expect_error("[executor]\nbatch_rows = 0\n",
               "bad.conf:2: [executor] batch_rows");
  expect_error("[executor]\nbatch_row = 2\n",
               "bad.conf:2: unknown key 'batch_row' in [executor]");
  /* Keys that were parsed once but never applied are refused, saying so. */
  expect_error("[executor]\nthreads = 2\n",
               "bad.conf:2: [executor] threads is not a setting: no version "
               "of dq applied it");
  expect_error("[executor]\npartitions = 2\n",
               "bad.conf:2: [executor] partitions is not a setting");
  expect_error("[transport.a/b]\nk = v\n",
               "bad.conf:2: section [transport.a/b]: 'a/b' is not a valid "
               "transport name");
  /* The first error wins, syntax or semantic, whichever comes first. */
  expect_error("[dq]\nbogus = 1\n[dq\n", "bad.conf:2: unknown key 'bogus'");
  expect_error("[dq\n[dq]\nbogus = 1\n", "bad.conf:1: syntax error");
  /* inih would split a long line; we refuse it. */
  char longline[600];
  memset(longline, 'x', sizeof longline);
  memcpy(longline, "[dq]\nplugin_path = ", 19);
  longline[sizeof longline - 2] = '\n';
  longline[sizeof longline - 1] = '\0';
  expect_error(longline, "bad.conf:2: line is too long");
  /* A key given twice used to keep the last value silently: now an error
   * naming both lines, in every section, also when the section reopens. */
  expect_error("[dq]\ntransport = shm\n\ntransport = grpc\n",
               "bad.conf:4: 'transport' in [dq] is set twice (lines 2 and "
               "4)");
  expect_error("[executor]\nbatch_rows = 2\n[dq]\n[executor]\nbatch_rows = 4\n",
               "bad.conf:5: 'batch_rows' in [executor] is set twice (lines 2 "
               "and 5)");
  expect_error("[transport.grpc]\ntoken = a\ndeadline_ms = 5\ntoken = b\n",
               "bad.conf:4: 'token' in [transport.grpc] is set twice (lines "
               "2 and 4)");
  expect_error("[workers]\nw1 = grpc://a:1\nw1 = grpc://b:1\n",
               "bad.conf:3: 'w1' in [workers] is set twice (lines 2 and 3)");
}

/* The same key in different sections is no duplicate. */
static void test_same_key_other_sections(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(dq_config_parse("[transport.grpc]\ndeadline_ms = 1\n"
                                   "[transport.shm]\ndeadline_ms = 2\n",
                                   "ok.conf", &cfg, &err),
                   0);
  dq_config_free(cfg);
}

/* [tables] and [tpch]: the SQL catalog's part of the config. */
static void test_tables(void **state) {
  (void)state;
  dq_config *cfg = NULL;
  dq_error err;
  assert_int_equal(dq_config_parse("[tables]\norders = csv:/d/o/*.csv\n"
                                   "li = arrow:/d/li/*.arrows\n"
                                   "part = tpch:part\n[tpch]\nscale = 0.5\n",
                                   "t.conf", &cfg, &err),
                   0);
  assert_int_equal(dq_config_n_tables(cfg), 3);
  assert_string_equal(dq_config_table_name(cfg, 0), "orders");
  assert_string_equal(dq_config_table_spec(cfg, 0), "csv:/d/o/*.csv");
  assert_string_equal(dq_config_table_spec(cfg, 2), "tpch:part");
  assert_null(dq_config_table_name(cfg, 3));
  assert_true(dq_config_tpch_scale(cfg) == 0.5);
  dq_config_free(cfg);
  assert_int_equal(dq_config_parse("[dq]\n", "t.conf", &cfg, &err), 0);
  assert_int_equal(dq_config_n_tables(cfg), 0);
  assert_true(dq_config_tpch_scale(cfg) == 0);
  dq_config_free(cfg);
  expect_error("[tables]\nt = json:/x\n",
               "bad.conf:2: [tables] t = 'json:/x' is not a table spec");
  expect_error("[tables]\nt = csv:\n", "bad.conf:2: [tables] t = 'csv:'");
  expect_error("[tables]\nt = tpch:part\nT = tpch:orders\n",
               "bad.conf:3: [tables] names table 'T' twice");
  expect_error("[tpch]\nscale = -1\n",
               "bad.conf:2: [tpch] scale must be a number > 0");
  expect_error("[tpch]\nseed = 1\n", "bad.conf:2: unknown key 'seed' in "
                                     "[tpch]");
}

static void test_file_errors(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(dq_config_load("/nonexistent/dq.conf", &cfg, &err),
                   DQ_ENOENT);
  assert_non_null(strstr(err.message, "cannot open config file "
                                      "/nonexistent/dq.conf"));
  char path[] = "/tmp/dq-test-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "[dq]\ntransport = inmem\n\0junk", 28), 28);
  close(fd);
  assert_int_equal(dq_config_load(path, &cfg, &err), DQ_ECONFIG);
  assert_non_null(strstr(err.message, "contains a NUL byte"));
  /* A file with an error names the file itself. */
  FILE *f = fopen(path, "w");
  fputs("[dq]\n\nnope = 1\n", f);
  fclose(f);
  assert_int_equal(dq_config_load(path, &cfg, &err), DQ_ECONFIG);
  char want[128];
  snprintf(want, sizeof want, "%s:3: unknown key 'nope'", path);
  assert_non_null(strstr(err.message, want));
  unlink(path);
}

static void test_env_precedence(void **state) {
  (void)state;
  char path[] = "/tmp/dq-test-config-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char text[] = "[dq]\ntransport = shm\nplugin_path = /cfg/dir\n";
  assert_int_equal(write(fd, text, sizeof text - 1), (ssize_t)sizeof text - 1);
  close(fd);

  dq_config *cfg;
  dq_error err;
  /* DQ_CONFIG names the file when the caller passes none. */
  setenv("DQ_CONFIG", path, 1);
  assert_int_equal(dq_config_load(NULL, &cfg, &err), 0);
  assert_string_equal(dq_config_path(cfg), path);
  assert_string_equal(dq_config_transport(cfg), "shm");
  dq_config_free(cfg);

  /* An explicit path beats DQ_CONFIG. */
  setenv("DQ_CONFIG", "/nonexistent/other.conf", 1);
  assert_int_equal(dq_config_load(path, &cfg, &err), 0);
  dq_config_free(cfg);
  unsetenv("DQ_CONFIG");

  /* DQ_TRANSPORT beats the file; the setter beats DQ_TRANSPORT. */
  setenv("DQ_TRANSPORT", "grpc", 1);
  setenv("DQ_PLUGIN_PATH", "/env/one:/env/two", 1);
  assert_int_equal(dq_config_load(path, &cfg, &err), 0);
  assert_string_equal(dq_config_transport(cfg), "grpc");
  /* DQ_PLUGIN_PATH is searched first, then the file's, then built-in. */
  assert_int_equal(dq_config_n_plugin_dirs(cfg), 4);
  assert_string_equal(dq_config_plugin_dir(cfg, 0), "/env/one");
  assert_string_equal(dq_config_plugin_dir(cfg, 1), "/env/two");
  assert_string_equal(dq_config_plugin_dir(cfg, 2), "/cfg/dir");
  assert_string_equal(dq_config_plugin_dir(cfg, 3), dq_plugin_dir());
  assert_int_equal(dq_config_set_transport(cfg, "inmem", &err), 0);
  assert_string_equal(dq_config_transport(cfg), "inmem");
  assert_int_equal(dq_config_set_transport(cfg, "../evil", &err), DQ_EINVAL);
  assert_string_equal(dq_config_transport(cfg), "inmem");
  dq_config_free(cfg);

  /* A malformed environment value is an error, not ignored. */
  setenv("DQ_TRANSPORT", "no/slashes", 1);
  assert_int_equal(dq_config_load(path, &cfg, &err), DQ_ECONFIG);
  assert_non_null(strstr(err.message, "DQ_TRANSPORT='no/slashes'"));
  unsetenv("DQ_TRANSPORT");
  unsetenv("DQ_PLUGIN_PATH");
  unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_good_file, setup),
      cmocka_unit_test_setup(test_defaults, setup),
      cmocka_unit_test_setup(test_errors, setup),
      cmocka_unit_test_setup(test_same_key_other_sections, setup),
      cmocka_unit_test_setup(test_membership, setup),
      cmocka_unit_test_setup(test_tables, setup),
      cmocka_unit_test_setup(test_file_errors, setup),
      cmocka_unit_test_setup(test_env_precedence, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
