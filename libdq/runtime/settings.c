/* settings.c — a query's executor settings on the wire (settings.h). */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/settings.h"

/* The same bounds as [executor] batch_rows in the config file. */
#define BATCH_ROWS_MAX (1 << 24)

void dq_query_settings_from_config(const dq_config *cfg,
                                   dq_query_settings *out) {
  out->batch_rows = dq_config_executor(cfg, "batch_rows");
}

size_t dq_query_settings_to_kv(const dq_query_settings *s, dq_kv *kv,
                               char *buf) {
  snprintf(buf, DQ_QUERY_SETTINGS_BUF, "%" PRId64, s->batch_rows);
  kv[0].key = "batch_rows";
  kv[0].value = buf;
  return 1;
}

static int parse_int(const char *key, const char *v, int64_t min, int64_t max,
                     int64_t *out, dq_error *err) {
  char *end;
  errno = 0;
  long long x = v != NULL && *v >= '0' && *v <= '9' ? strtoll(v, &end, 10) : 0;
  if (v == NULL || *v < '0' || *v > '9' || errno != 0 || *end != '\0' ||
      x < min || x > max)
    return dq_error_set(err, DQ_EINVAL,
                        "SetPlan setting %s = '%s' is not an integer from "
                        "%" PRId64 " to %" PRId64,
                        key, v ? v : "(null)", min, max);
  *out = (int64_t)x;
  return 0;
}

int dq_query_settings_apply(dq_query_settings *s, const dq_kv *kv, size_t n,
                            dq_error *err) {
  for (size_t i = 0; i < n; i++) {
    const char *key = kv[i].key ? kv[i].key : "(null)";
    int rc;
    if (strcmp(key, "batch_rows") == 0)
      rc = parse_int(key, kv[i].value, 1, BATCH_ROWS_MAX, &s->batch_rows,
                     err);
    else
      rc = dq_error_set(err, DQ_EINVAL,
                        "SetPlan carries the setting '%s', which this worker "
                        "does not know (known: batch_rows)",
                        key);
    if (rc < 0)
      return rc;
  }
  return 0;
}
