/* test_loader.c — the transport loader against the fixture modules: each
 * defect is refused with its own precise message, a good module loads and is
 * shared, unknown names list what exists, unsafe directories are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <dq/dq.h>
#include <dq/transport.h>

static const char *fixture_dir(void) {
  const char *d = getenv("DQ_FIXTURE_DIR");
  if (d == NULL)
    fail_msg("DQ_FIXTURE_DIR is not set: run through 'make check'");
  return d;
}

static int setup(void **state) {
  (void)state;
  unsetenv("DQ_CONFIG");
  unsetenv("DQ_TRANSPORT");
  setenv("DQ_PLUGIN_PATH", fixture_dir(), 1);
  return 0;
}

/* Loads `name` through a context and returns the result; err is filled. */
static int load(const char *name, const char *extra_conf, dq_error *err) {
  char text[512];
  snprintf(text, sizeof text, "[dq]\ntransport = %s\n%s", name,
           extra_conf ? extra_conf : "");
  dq_config *cfg;
  assert_int_equal(dq_config_parse(text, "test.conf", &cfg, err), 0);
  dq_context *ctx = NULL;
  dq_error_clear(err);
  int rc = dq_context_new(cfg, &ctx, err);
  if (rc == 0) {
    assert_non_null(ctx);
    dq_context_free(ctx);
  } else {
    assert_null(ctx);
  }
  dq_config_free(cfg);
  return rc;
}

static void expect_refused(const char *name, int code, const char *want) {
  dq_error err;
  int rc = load(name, NULL, &err);
  assert_int_equal(rc, code);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.la: ", fixture_dir(), name);
  if (strncmp(err.message, path, strlen(path)) != 0)
    fail_msg("message should start with '%s': '%s'", path, err.message);
  if (strstr(err.message, want) == NULL)
    fail_msg("expected '%s' in '%s'", want, err.message);
}

static void test_good(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(
      dq_config_parse("[dq]\ntransport = fx_good\n[transport.fx_good]\n"
                      "xa = 1\nxb = two\n",
                      "t", &cfg, &err),
      0);
  dq_context *a, *b;
  assert_int_equal(dq_context_new(cfg, &a, &err), 0);
  assert_string_equal(dq_context_transport_name(a), "fx_good");
  assert_string_equal(dq_context_transport_version(a), "9.9.9");
  /* A second context shares the loaded module (the registry's refcount). */
  assert_int_equal(dq_context_new(cfg, &b, &err), 0);
  dq_context_free(a);
  assert_string_equal(dq_context_transport_name(b), "fx_good");
  dq_context_free(b);
  /* And it can be loaded again after the last release unloaded it. */
  assert_int_equal(dq_context_new(cfg, &a, &err), 0);
  dq_context_free(a);
  dq_config_free(cfg);
}

static void test_options_reach_plugin(void **state) {
  (void)state;
  dq_error err;
  assert_int_equal(load("fx_good", "[transport.fx_good]\nport = 1\n", &err),
                   DQ_EPLUGIN);
  assert_non_null(strstr(err.message, "transport 'fx_good' failed to start: "
                                      "unknown option 'port'"));
}

static void test_no_entry(void **state) {
  (void)state;
  expect_refused("fx_nosym", DQ_EPLUGIN,
                 "not a dq transport: it exports neither "
                 "fx_nosym_LTX_dq_transport_plugin_v1 nor "
                 "dq_transport_plugin_v1 (define it with DQ_TRANSPORT_PLUGIN)");
}

static void test_wrong_major(void **state) {
  (void)state;
  expect_refused("fx_major", DQ_EABI,
                 "transport ABI major version 2, expected 1 (rebuild the "
                 "plugin against this dq's <dq/transport.h>)");
}

static void test_newer_minor(void **state) {
  (void)state;
  expect_refused("fx_minor", DQ_EABI,
                 "transport ABI 1.1 is newer than this dq supports (1.0 or "
                 "older); upgrade dq");
}

static void test_short_descriptor(void **state) {
  (void)state;
  char want[128];
  snprintf(want, sizeof want,
           "descriptor is 16 bytes, expected at least %zu (ABI 1.0)",
           (size_t)DQ_TRANSPORT_PLUGIN_V1_0_SIZE);
  expect_refused("fx_short", DQ_EABI, want);
}

static void test_short_ops(void **state) {
  (void)state;
  char want[128];
  snprintf(want, sizeof want,
           "ops table is %zu bytes, expected at least %zu (ABI 1.0)",
           offsetof(dq_transport_ops, serve),
           (size_t)DQ_TRANSPORT_OPS_V1_0_SIZE);
  expect_refused("fx_shortops", DQ_EABI, want);
}

static void test_missing_op(void **state) {
  (void)state;
  expect_refused("fx_noop", DQ_EABI,
                 "mandatory op 'stream_cancel' is NULL (every op of ABI 1.0 "
                 "is required)");
}

static void test_name_mismatch(void **state) {
  (void)state;
  expect_refused("fx_name", DQ_EPLUGIN,
                 "descriptor names the transport 'someotherName', expected "
                 "'fx_name' (the name it was loaded by)");
}

static void test_init_failure(void **state) {
  (void)state;
  expect_refused("fx_initfail", DQ_EPLUGIN,
                 "transport 'fx_initfail' failed to start: option 'endpoint' "
                 "is required by this fixture");
}

static void test_undefined_symbol(void **state) {
  (void)state;
  expect_refused("fx_undef", DQ_EPLUGIN, "cannot be loaded: ");
  dq_error err;
  load("fx_undef", NULL, &err);
  /* The system loader's reason, not libltdl's "file not found". */
  assert_non_null(strstr(err.message, "dq_fixture_symbol_defined_nowhere"));
}

static void test_unknown_name(void **state) {
  (void)state;
  dq_error err;
  assert_int_equal(load("nosuch", NULL, &err), DQ_ENOENT);
  assert_non_null(strstr(err.message, "transport 'nosuch' not found; "
                                      "available: "));
  assert_non_null(strstr(err.message, "fx_good"));
  char searched[1024];
  snprintf(searched, sizeof searched, "(searched %s:%s;", fixture_dir(),
           dq_plugin_dir());
  if (strstr(err.message, searched) == NULL)
    fail_msg("expected '%s' in '%s'", searched, err.message);
}

/* Copies the built fx_good.so into a fresh directory. */
static void copy_module(const char *dir) {
  char src[1024], dst[1024], cmd[2600];
  snprintf(src, sizeof src, "%s/.libs/fx_good.so", fixture_dir());
  snprintf(dst, sizeof dst, "%s/fx_good.so", dir);
  snprintf(cmd, sizeof cmd, "cp '%s' '%s'", src, dst);
  assert_int_equal(system(cmd), 0);
  chmod(dst, 0755);
}

static void test_writable_dir_refused(void **state) {
  (void)state;
  char dir[] = "/tmp/dq-test-plugins-XXXXXX";
  assert_non_null(mkdtemp(dir));
  copy_module(dir);
  setenv("DQ_PLUGIN_PATH", dir, 1);
  assert_int_equal(chmod(dir, 0777), 0);
  dq_error err;
  assert_int_equal(load("fx_good", NULL, &err), DQ_EPLUGIN);
  char want[512];
  snprintf(want, sizeof want,
           "refusing to load plugins from directory %s: it is writable by "
           "other users (mode 0777); run 'chmod go-w %s'",
           dir, dir);
  if (strstr(err.message, want) == NULL)
    fail_msg("expected '%s' in '%s'", want, err.message);
  /* The same module in a safe directory loads: the refusal was the mode. */
  assert_int_equal(chmod(dir, 0755), 0);
  assert_int_equal(load("fx_good", NULL, &err), 0);
  char so[1024];
  snprintf(so, sizeof so, "%s/fx_good.so", dir);
  assert_int_equal(chmod(so, 0666), 0);
  assert_int_equal(load("fx_good", NULL, &err), DQ_EPLUGIN);
  assert_non_null(strstr(err.message, "from file "));
  unlink(so);
  rmdir(dir);
}

/* --- what is checked is what is loaded (plugin_trust.c) --------------------
 * Each bypass of the old check (search directory and found file only)
 * builds a tree under /tmp (itself sticky, so allowed above a plugin) in
 * which the found file and its directory are safe but the file libltdl
 * maps is not. */

static void must(int rc) { assert_int_equal(rc, 0); }

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
  must(chmod(path, 0644));
}

/* A libtool .la for fx_good.so with the given libdir and installed flag. */
static void write_la(const char *dir, const char *libdir, int installed) {
  char path[1024], text[2048];
  snprintf(path, sizeof path, "%s/fx_good.la", dir);
  snprintf(text, sizeof text,
           "# fx_good.la - a libtool library file\n"
           "dlname='fx_good.so'\nlibrary_names='fx_good.so'\n"
           "old_library=''\ninstalled=%s\nshouldnotlink=yes\n"
           "libdir='%s'\n",
           installed ? "yes" : "no", libdir);
  write_text(path, text);
}

static void expect_trust_refused(const char *search, const char *want) {
  setenv("DQ_PLUGIN_PATH", search, 1);
  dq_error err;
  assert_int_equal(load("fx_good", NULL, &err), DQ_EPLUGIN);
  if (strstr(err.message, want) == NULL)
    fail_msg("expected '%s' in '%s'", want, err.message);
}

static void expect_trust_loads(const char *search) {
  setenv("DQ_PLUGIN_PATH", search, 1);
  dq_error err;
  if (load("fx_good", NULL, &err) != 0)
    fail_msg("expected fx_good to load from %s: %s", search, err.message);
}

static void rm_tree(const char *dir) {
  char cmd[1100];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  must(system(cmd));
}

/* The .la sits in a safe directory; its libdir (installed=yes) is 0777. */
static void test_trust_la_libdir(void **state) {
  (void)state;
  char top[] = "/tmp/dq-trust-XXXXXX", safe[1100], lib[1100], want[1400];
  assert_non_null(mkdtemp(top));
  must(chmod(top, 0755));
  snprintf(safe, sizeof safe, "%s/safe", top);
  snprintf(lib, sizeof lib, "%s/lib", top);
  must(mkdir(safe, 0755));
  must(mkdir(lib, 0755));
  copy_module(lib);
  write_la(safe, lib, 1);
  expect_trust_loads(safe); /* the setup itself is sound */
  must(chmod(lib, 0777));
  snprintf(want, sizeof want,
           "refusing to load plugins from directory %s: it is writable by "
           "other users (mode 0777)",
           lib);
  expect_trust_refused(safe, want);
  /* A world-writable .so behind the .la is refused as a file. */
  must(chmod(lib, 0755));
  char so[1200];
  snprintf(so, sizeof so, "%s/fx_good.so", lib);
  must(chmod(so, 0666));
  snprintf(want, sizeof want, "from file %s: it is writable", so);
  expect_trust_refused(safe, want);
  rm_tree(top);
}

/* An uninstalled .la (installed=no) maps .libs/NAME.so: a 0777 .libs. */
static void test_trust_la_dotlibs(void **state) {
  (void)state;
  char top[] = "/tmp/dq-trust-XXXXXX", libs[1100], want[1400];
  assert_non_null(mkdtemp(top));
  must(chmod(top, 0755));
  snprintf(libs, sizeof libs, "%s/.libs", top);
  must(mkdir(libs, 0755));
  copy_module(libs);
  write_la(top, "/nonexistent", 0);
  expect_trust_loads(top);
  must(chmod(libs, 0777));
  snprintf(want, sizeof want,
           "refusing to load plugins from directory %s: it is writable by "
           "other users (mode 0777)",
           libs);
  expect_trust_refused(top, want);
  rm_tree(top);
}

/* A symlink in a safe directory to a module in a 0777 directory. */
static void test_trust_symlink(void **state) {
  (void)state;
  char top[] = "/tmp/dq-trust-XXXXXX", safe[1100], open_dir[1100];
  char link[1200], target[1200], want[1400];
  assert_non_null(mkdtemp(top));
  must(chmod(top, 0755));
  snprintf(safe, sizeof safe, "%s/safe", top);
  snprintf(open_dir, sizeof open_dir, "%s/open", top);
  must(mkdir(safe, 0755));
  must(mkdir(open_dir, 0755));
  copy_module(open_dir);
  snprintf(link, sizeof link, "%s/fx_good.so", safe);
  snprintf(target, sizeof target, "%s/fx_good.so", open_dir);
  must(symlink(target, link));
  expect_trust_loads(safe);
  must(chmod(open_dir, 0777));
  snprintf(want, sizeof want,
           "refusing to load plugins from directory %s: it is writable by "
           "other users (mode 0777)",
           open_dir);
  expect_trust_refused(safe, want);
  rm_tree(top);
}

/* A safe directory inside a world-writable parent: refused without the
 * sticky bit (the parent's users can rename ours away), accepted with it. */
static void test_trust_parent(void **state) {
  (void)state;
  char top[] = "/tmp/dq-trust-XXXXXX", safe[1100], want[1400];
  assert_non_null(mkdtemp(top));
  snprintf(safe, sizeof safe, "%s/safe", top);
  must(mkdir(safe, 0755));
  copy_module(safe);
  must(chmod(top, 0777));
  snprintf(want, sizeof want,
           "refusing to load plugins from directory %s: it is writable by "
           "other users (mode 0777)",
           top);
  expect_trust_refused(safe, want);
  must(chmod(top, 01777));
  expect_trust_loads(safe);
  rm_tree(top);
}

/* Owned by another (non-root) user: refused, they could chmod it later. */
static void test_trust_owner(void **state) {
  (void)state;
  if (geteuid() != 0)
    skip(); /* chown to another user needs root */
  char top[] = "/tmp/dq-trust-XXXXXX", so[1100];
  assert_non_null(mkdtemp(top));
  must(chmod(top, 0755));
  copy_module(top);
  snprintf(so, sizeof so, "%s/fx_good.so", top);
  must(chown(so, 65534, 65534));
  expect_trust_refused(top, "belongs to uid 65534");
  rm_tree(top);
}

typedef struct listing {
  int good, major, total;
} listing;

static int collect(const dq_plugin_info *info, void *user) {
  listing *l = user;
  l->total++;
  if (strcmp(info->name, "fx_good") == 0) {
    l->good++;
    assert_true(info->loads);
    assert_int_equal(info->abi_major, 1);
    assert_string_equal(info->version, "9.9.9");
    assert_string_equal(info->description, "a test fixture");
  } else if (strcmp(info->name, "fx_major") == 0) {
    l->major++;
    assert_false(info->loads);
    assert_int_equal(info->abi_major, 2); /* read, then refused */
    assert_non_null(strstr(info->error.message, "major version 2"));
  } else if (strncmp(info->name, "fx_", 3) == 0) {
    assert_false(info->loads);
    assert_true(info->error.message[0] != '\0');
  }
  return 0;
}

static void test_list(void **state) {
  (void)state;
  dq_config *cfg;
  dq_error err;
  assert_int_equal(dq_config_load(NULL, &cfg, &err), 0);
  listing l = {0};
  assert_int_equal(dq_plugin_list(cfg, collect, &l, &err), 0);
  assert_int_equal(l.good, 1);
  assert_int_equal(l.major, 1);
  assert_true(l.total >= 10);
  dq_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_good, setup),
      cmocka_unit_test_setup(test_options_reach_plugin, setup),
      cmocka_unit_test_setup(test_no_entry, setup),
      cmocka_unit_test_setup(test_wrong_major, setup),
      cmocka_unit_test_setup(test_newer_minor, setup),
      cmocka_unit_test_setup(test_short_descriptor, setup),
      cmocka_unit_test_setup(test_short_ops, setup),
      cmocka_unit_test_setup(test_missing_op, setup),
      cmocka_unit_test_setup(test_name_mismatch, setup),
      cmocka_unit_test_setup(test_init_failure, setup),
      cmocka_unit_test_setup(test_undefined_symbol, setup),
      cmocka_unit_test_setup(test_unknown_name, setup),
      cmocka_unit_test_setup(test_writable_dir_refused, setup),
      cmocka_unit_test_setup(test_trust_la_libdir, setup),
      cmocka_unit_test_setup(test_trust_la_dotlibs, setup),
      cmocka_unit_test_setup(test_trust_symlink, setup),
      cmocka_unit_test_setup(test_trust_parent, setup),
      cmocka_unit_test_setup(test_trust_owner, setup),
      cmocka_unit_test_setup(test_list, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
