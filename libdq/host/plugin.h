/* plugin.h — finding, loading, checking and sharing transport plugins.
 *
 * A plugin is loaded by explicit name only: NAME.la or NAME.so in the first
 * directory of the search order that has one.  Loaded plugins are kept in a
 * process-wide registry and reference-counted, so several contexts share one
 * loaded copy; the last release unloads it. */
#ifndef DQ_PLUGIN_H
#define DQ_PLUGIN_H

#include <dq/dq.h>
#include <dq/transport.h>
#include "base/internal_export.h"

typedef struct dq_plugin dq_plugin;

/* Finds `name` on cfg's search path, loads it and checks it (in order: entry
 * symbol, ABI major, ABI minor, descriptor and ops sizes, mandatory ops,
 * name).  An unknown name lists the available ones and the directories
 * searched. */
DQ_INTERNAL
int dq_plugin_acquire(const dq_config *cfg, const char *name,
                      dq_plugin **out, dq_error *err);
DQ_INTERNAL
void dq_plugin_release(dq_plugin *p);

DQ_INTERNAL
const dq_transport_plugin *dq_plugin_descriptor(const dq_plugin *p);
DQ_INTERNAL
const char *dq_plugin_path(const dq_plugin *p);

#endif /* DQ_PLUGIN_H */
