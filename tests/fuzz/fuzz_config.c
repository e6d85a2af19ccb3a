/* fuzz_config.c — libFuzzer target for the config parser (libdq/host/config.c,
 * dq_config_parse over libinih).
 *
 * The input is the file's text (cut at its first NUL, as a C string would
 * be).  Oracles: a rejected config says why; an accepted one answers every
 * accessor, and its transport's options, workers and plugin directories are
 * all readable strings.
 */
#include <stdlib.h>
#include <string.h>

#include <dq/dq.h>

#include "fuzz.h"

static volatile size_t sink;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  /* Overrides from the environment would hide what the text says. */
  unsetenv("DQ_CONFIG");
  unsetenv("DQ_TRANSPORT");
  unsetenv("DQ_PLUGIN_PATH");
  return 0;
}

static void walk(const dq_config *cfg) {
  size_t acc = strlen(dq_config_transport(cfg));
  for (size_t i = 0; i < dq_config_n_plugin_dirs(cfg); i++)
    acc += strlen(dq_config_plugin_dir(cfg, i));
  for (size_t i = 0; i < dq_config_n_workers(cfg); i++)
    acc += strlen(dq_config_worker(cfg, i));
  static const char *const names[] = {"inmem", "shm", "grpc", "fx", ""};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
    size_t n = 0;
    const dq_kv *kv = dq_config_transport_options(cfg, names[k], &n);
    for (size_t i = 0; i < n; i++)
      acc += strlen(kv[i].key) + strlen(kv[i].value);
  }
  size_t n = 0;
  const dq_kv *kv =
      dq_config_transport_options(cfg, dq_config_transport(cfg), &n);
  for (size_t i = 0; i < n; i++)
    acc += strlen(kv[i].key) + strlen(kv[i].value);
  static const char *const exec[] = {"threads", "batch_rows", "task_ttl_ms",
                                     "plan_wait_ms", "nope"};
  for (size_t k = 0; k < sizeof exec / sizeof exec[0]; k++)
    acc += (size_t)dq_config_executor(cfg, exec[k]);
  if (dq_config_path(cfg) != NULL)
    acc += strlen(dq_config_path(cfg));
  sink += acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (text == NULL)
    return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  dq_config *cfg = NULL;
  dq_error err;
  dq_error_clear(&err);
  if (dq_config_parse(text, "fuzz.conf", &cfg, &err) == 0) {
    fuzz_require(cfg != NULL, "parse returned 0 without a config");
    walk(cfg);
    /* The API setter must take any name it is given or refuse it cleanly. */
    dq_config_set_transport(cfg, "grpc", &err);
    dq_config_free(cfg);
  } else {
    fuzz_require(err.code < 0 && err.message[0] != '\0',
                 "a rejected config without a reason");
  }
  free(text);
  return 0;
}
