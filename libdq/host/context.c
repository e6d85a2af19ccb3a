/* context.c — a context: a configuration plus one started instance of the
 * transport it names.  The plugin module is shared between contexts through
 * the loader's registry; each context has its own transport instance. */
#include <config.h>

#include <stdlib.h>

#include <dq/dq.h>
#include <dq/transport.h>

#include "host/context.h"
#include "host/plugin.h"

struct dq_context {
  dq_config *owned_cfg; /* loaded here when the caller passed none */
  const dq_config *cfg;
  dq_plugin *plugin;
  const dq_transport_ops *ops;
  dq_transport *transport;
};

int dq_context_new(const dq_config *cfg, dq_context **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_context_new: NULL argument");
  *out = NULL;
  dq_context *ctx = calloc(1, sizeof *ctx);
  if (ctx == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  int rc = 0;
  if (cfg == NULL) {
    rc = dq_config_load(NULL, &ctx->owned_cfg, err);
    cfg = ctx->owned_cfg;
  }
  ctx->cfg = cfg;
  const char *name = rc == 0 ? dq_config_transport(cfg) : NULL;
  if (rc == 0)
    rc = dq_plugin_acquire(cfg, name, &ctx->plugin, err);
  if (rc == 0) {
    ctx->ops = dq_plugin_descriptor(ctx->plugin)->ops;
    size_t n_opts;
    const dq_kv *opts = dq_config_transport_options(cfg, name, &n_opts);
    dq_error ierr;
    dq_error_clear(&ierr);
    rc = ctx->ops->init(opts, n_opts, &ctx->transport, &ierr);
    if (rc < 0) {
      dq_error_set(err, DQ_EPLUGIN, "%s: transport '%s' failed to start: %s",
                   dq_plugin_path(ctx->plugin), name,
                   ierr.message[0] ? ierr.message : dq_strerror(rc));
      rc = DQ_EPLUGIN;
      ctx->transport = NULL;
    }
  }
  if (rc < 0) {
    dq_context_free(ctx);
    return rc;
  }
  *out = ctx;
  return 0;
}

void dq_context_free(dq_context *ctx) {
  if (ctx == NULL)
    return;
  if (ctx->transport != NULL)
    ctx->ops->fini(ctx->transport);
  dq_plugin_release(ctx->plugin);
  dq_config_free(ctx->owned_cfg);
  free(ctx);
}

const dq_config *dq_context_config(const dq_context *ctx) { return ctx->cfg; }

const char *dq_context_transport_name(const dq_context *ctx) {
  return dq_plugin_descriptor(ctx->plugin)->name;
}

const char *dq_context_transport_version(const dq_context *ctx) {
  return dq_plugin_descriptor(ctx->plugin)->version;
}

const dq_transport_ops *dq_context_ops(const dq_context *ctx) {
  return ctx->ops;
}

dq_transport *dq_context_transport(const dq_context *ctx) {
  return ctx->transport;
}
