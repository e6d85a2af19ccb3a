/* error.c — dq_error: filling, formatting and naming errors.
 *
 * dq_error is a fixed-size struct so that it can be filled on any path,
 * including after an allocation failed; messages longer than the buffer are
 * truncated, never dropped. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <dq/dq.h>

int dq_error_set(dq_error *err, int code, const char *fmt, ...) {
  if (err == NULL)
    return code;
  /* A new error starts with no origin: callers may pass an uninitialised
   * struct, and an origin must never leak from an older error.  Errors that
   * travel keep theirs because they are copied whole, not re-set. */
  err->code = code;
  err->has_task = 0;
  memset(&err->task, 0, sizeof err->task);
  err->worker_url[0] = '\0';
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  if (n <= 0)
    snprintf(err->message, sizeof err->message, "%s", dq_strerror(code));
  return code;
}

void dq_error_set_origin(dq_error *err, const char *worker_url,
                         const dq_task_key *task) {
  if (err == NULL)
    return;
  if (worker_url != NULL)
    snprintf(err->worker_url, sizeof err->worker_url, "%s", worker_url);
  if (task != NULL) {
    err->task = *task;
    err->has_task = 1;
  }
}

void dq_error_clear(dq_error *err) {
  if (err != NULL)
    memset(err, 0, sizeof *err);
}

const char *dq_strerror(int code) {
  switch (code) {
  case DQ_OK: return "DQ_OK";
  case DQ_EINVAL: return "DQ_EINVAL";
  case DQ_ENOMEM: return "DQ_ENOMEM";
  case DQ_ENOENT: return "DQ_ENOENT";
  case DQ_EIO: return "DQ_EIO";
  case DQ_ECONFIG: return "DQ_ECONFIG";
  case DQ_EPLUGIN: return "DQ_EPLUGIN";
  case DQ_EABI: return "DQ_EABI";
  case DQ_ECANCELED: return "DQ_ECANCELED";
  case DQ_ETIMEDOUT: return "DQ_ETIMEDOUT";
  case DQ_EPROTO: return "DQ_EPROTO";
  case DQ_EUNAVAILABLE: return "DQ_EUNAVAILABLE";
  case DQ_EEXEC: return "DQ_EEXEC";
  case DQ_ETOOBIG: return "DQ_ETOOBIG";
  case DQ_EUNSUPPORTED: return "DQ_EUNSUPPORTED";
  case DQ_EINTERNAL: return "DQ_EINTERNAL";
  case DQ_EPERM: return "DQ_EPERM";
  default: return "DQ_E?";
  }
}

const char *dq_task_key_format(const dq_task_key *key, char *buf, size_t len) {
  const uint8_t *u = key->query_id;
  snprintf(buf, len,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x/%u/%u",
           u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10],
           u[11], u[12], u[13], u[14], u[15], key->stage_id,
           key->task_number);
  return buf;
}

const char *dq_error_format(const dq_error *err, char *buf, size_t len) {
  char task[80] = "";
  if (err->has_task)
    dq_task_key_format(&err->task, task, sizeof task);
  const char *msg = err->message[0] ? err->message : dq_strerror(err->code);
  if (err->worker_url[0] && err->has_task)
    snprintf(buf, len, "%s (worker %s, task %s)", msg, err->worker_url, task);
  else if (err->worker_url[0])
    snprintf(buf, len, "%s (worker %s)", msg, err->worker_url);
  else if (err->has_task)
    snprintf(buf, len, "%s (task %s)", msg, task);
  else
    snprintf(buf, len, "%s", msg);
  return buf;
}
