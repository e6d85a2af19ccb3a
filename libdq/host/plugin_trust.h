/* plugin_trust.h — whether a plugin file is safe to load: the file that
 * will actually be mapped (through a .la's libdir or .libs/, through
 * symlinks) and every directory above it, as OpenSSH checks its key files.
 * Loading code that another user could have written would run their code
 * as us. */
#ifndef DQ_PLUGIN_TRUST_H
#define DQ_PLUGIN_TRUST_H

#include <stddef.h>
#include <sys/types.h>

#include <dq/dq.h>

/* What was checked: the real path of the module file and its identity, so
 * that the file the loader mapped can be compared with it afterwards. */
typedef struct dq_plugin_trust {
  char real[4096]; /* "" when the module file could not be found */
  dev_t dev;
  ino_t ino;
} dq_plugin_trust;

/* Checks dir/name.la (if present) and the shared object libltdl will open
 * for it (in libltdl's order: libdir/dlname when installed, .libs/dlname
 * when not, then dir/dlname; else dir/name.so), each after realpath, and
 * every ancestor directory of each.  Refused: a file or directory writable
 * by other users (world, or a group not ours or root's), or owned by a
 * user other than us or root; a world-writable ancestor is accepted only
 * with the sticky bit (like /tmp), where others cannot rename our entries.
 * DQ_EPLUGIN naming the path and its mode or owner. */
int dq_plugin_trust_check(const char *dir, const char *name,
                          dq_plugin_trust *out, dq_error *err);
/* After loading: the object that holds `addr` (a symbol of the module)
 * must be the file checked.  shown names the plugin in the message. */
int dq_plugin_trust_loaded(const dq_plugin_trust *checked, const void *addr,
                           const char *shown, dq_error *err);

#endif /* DQ_PLUGIN_TRUST_H */
