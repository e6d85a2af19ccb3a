/* test_one_libdq.c — a test process holds one libdq: the functions this
 * test calls and the ones the inmem plugin it loads resolves are the same
 * code in the same shared object.  A test linked with a static copy of
 * libdq (libdqcore.la) besides a plugin linked with libdq.so would have two
 * of each global (buffer cache, kept tables, plugin registry); this test
 * fails for such a build, naming both copies. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dq/batch.h>
#include <dq/dq.h>
#include <dq/ipc.h>
#include <dq/runtime.h>

/* The loaded object whose path ends with suffix (first one), or NULL. */
typedef struct find {
  const char *suffix;
  char path[4096];
  int count;
} find;

static int match(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  find *f = arg;
  const char *name = info->dlpi_name;
  size_t n = strlen(name), k = strlen(f->suffix);
  if (n >= k && strstr(name, f->suffix) != NULL) {
    if (f->count++ == 0)
      snprintf(f->path, sizeof f->path, "%s", name);
  }
  return 0;
}

/* The file that holds the code at addr. */
static const char *object_of(const void *addr) {
  Dl_info info;
  if (dladdr(addr, &info) == 0 || info.dli_fname == NULL)
    return "(unknown)";
  return info.dli_fname;
}

static void test_plugin_and_test_share_libdq(void **state) {
  (void)state;
  dq_config *cfg;
  dq_context *ctx;
  dq_error err;
  assert_int_equal(dq_config_parse("[dq]\ntransport = inmem\n", "test", &cfg,
                                   &err), 0);
  if (dq_context_new(cfg, &ctx, &err) < 0)
    fail_msg("loading inmem: %s", err.message);

  /* Our own calls go to the shared libdq, not into this executable. */
  const char *ours = object_of((const void *)dq_context_new);
  if (strstr(ours, "libdq.so") == NULL)
    fail_msg("dq_context_new of this test lives in %s, not in libdq.so: the "
             "test holds a copy of libdq of its own",
             ours);

  /* The plugin is loaded, and resolves libdq's functions to ours. */
  find plugin = {.suffix = "/inmem.so"};
  dl_iterate_phdr(match, &plugin);
  if (plugin.count != 1)
    fail_msg("inmem.so is loaded %d times (want 1)", plugin.count);
  void *h = dlopen(plugin.path, RTLD_NOLOAD | RTLD_LAZY);
  if (h == NULL)
    fail_msg("%s is not loaded: %s", plugin.path, dlerror());
  static const char *const names[] = {"dq_error_set", "dq_batch_unref",
                                      "dq_ipc_decode_batch"};
  static void *const ours_fn[] = {(void *)dq_error_set, (void *)dq_batch_unref,
                                  (void *)dq_ipc_decode_batch};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    void *theirs = dlsym(h, names[i]);
    if (theirs != ours_fn[i])
      fail_msg("%s: the plugin resolves it in %s, this test calls the one "
               "in %s",
               names[i], theirs ? object_of(theirs) : "(nowhere)",
               object_of(ours_fn[i]));
  }
  dlclose(h);

  /* And exactly one libdq is mapped. */
  find lib = {.suffix = "/libdq.so"};
  dl_iterate_phdr(match, &lib);
  assert_int_equal(lib.count, 1);
  assert_string_equal(lib.path, ours);

  dq_context_free(ctx);
  dq_config_free(cfg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plugin_and_test_share_libdq),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
