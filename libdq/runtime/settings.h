/* settings.h — a query's executor settings as SetPlan carries them.
 *
 * The coordinator's [executor] settings that must hold for every task of
 * a query, whichever worker runs it, travel in dq_set_plan.config as
 * key/value pairs; the worker applies them to that task alone.  Both ends
 * are here so the pairs have one definition.  A worker refuses a key it
 * does not know or a value out of range (naming both), rather than run
 * the task with settings other than the ones asked for.
 */
#ifndef DQ_RUNTIME_SETTINGS_H
#define DQ_RUNTIME_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include <dq/dq.h>

typedef struct dq_query_settings {
  int64_t batch_rows; /* target rows per batch */
} dq_query_settings;

/* The settings from a config's [executor] section. */
void dq_query_settings_from_config(const dq_config *cfg,
                                   dq_query_settings *out);

/* As key/value pairs: kv[] (at least DQ_QUERY_SETTINGS_MAX entries) points
 * into buf (at least DQ_QUERY_SETTINGS_BUF bytes); returns the count. */
#define DQ_QUERY_SETTINGS_MAX 1
#define DQ_QUERY_SETTINGS_BUF 32
size_t dq_query_settings_to_kv(const dq_query_settings *s, dq_kv *kv,
                               char *buf);

/* Applies pairs over *s (which holds the worker's own defaults). */
int dq_query_settings_apply(dq_query_settings *s, const dq_kv *kv, size_t n,
                            dq_error *err);

#endif /* DQ_RUNTIME_SETTINGS_H */
