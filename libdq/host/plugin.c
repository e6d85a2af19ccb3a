/* plugin.c — the transport plugin loader: search, load, check, share.
 *
 * The checks follow the order in which a descriptor can be trusted: first
 * the entry symbol, then the two version numbers (the only fields every ABI
 * major keeps in place), then the sizes, and only then the pointers the sizes
 * vouch for.  Each failure is one line naming the file, what was found and
 * what was expected.  A directory or file that other users may write is
 * refused: loading code from it would let them run code as us.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dq/dq.h>
#include <dq/transport.h>

#include "host/dl.h"
#include "host/plugin.h"
#include "base/strlist.h"
#include "host/plugin_trust.h"

struct dq_plugin {
  char *name;
  char *path; /* the file found */
  dq_dl *dl;
  const dq_transport_plugin *desc;
  long refs; /* guarded by registry_lock */
  dq_plugin *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static dq_plugin *registry;

/* Mandatory ops of ABI 1.0, with their offsets, for the presence check. */
#define OP(n) {#n, offsetof(dq_transport_ops, n)}
static const struct {
  const char *name;
  size_t offset;
} mandatory_ops[] = {
    OP(init),          OP(fini),         OP(channel_open),
    OP(channel_close), OP(get_worker_info), OP(coord_open),
    OP(coord_send_work_unit), OP(coord_finish), OP(coord_close),
    OP(execute_task),  OP(stream_next),  OP(stream_cancel),
    OP(stream_close),  OP(serve),        OP(server_url),
    OP(stop),
};
#undef OP

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* dir/name.ext into buf; 0, or -1 when it does not fit (then buf is ""). */
static int path_join(char *buf, size_t len, const char *dir, const char *name,
                     const char *ext) {
  int n = snprintf(buf, len, "%s/%s%s", dir, name, ext);
  if (n < 0 || (size_t)n >= len) {
    buf[0] = '\0';
    return -1;
  }
  return 0;
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Refuses a directory or file that users other than the owner may write. */
static int check_writable_by_others(const char *path, const char *what,
                                    dq_error *err) {
  struct stat st;
  if (stat(path, &st) != 0)
    return 0; /* existence is checked elsewhere */
  if ((st.st_mode & S_IWOTH) ||
      ((st.st_mode & S_IWGRP) && st.st_gid != getgid() && st.st_gid != 0))
    return dq_error_set(err, DQ_EPLUGIN,
                        "refusing to load plugins from %s %s: it is writable "
                        "by other users (mode %04o); run 'chmod go-w %s'",
                        what, path, (unsigned)(st.st_mode & 07777), path);
  return 0;
}

/* Validates a loaded module's descriptor; name is the name asked for. */
static int check_descriptor(dq_dl *dl, const char *path, const char *name,
                            const dq_transport_plugin **out, uint32_t *seen,
                            dq_error *err) {
  dq_transport_entry_fn entry =
      (dq_transport_entry_fn)dq_dl_sym(dl, DQ_TRANSPORT_ENTRY);
  if (entry == NULL)
    return dq_error_set(err, DQ_EPLUGIN,
                        "%s: not a dq transport: it exports neither "
                        "%s_LTX_%s nor %s (define it with DQ_TRANSPORT_PLUGIN)",
                        path, name, DQ_TRANSPORT_ENTRY, DQ_TRANSPORT_ENTRY);
  const dq_transport_plugin *d = entry();
  if (d == NULL)
    return dq_error_set(err, DQ_EPLUGIN,
                        "%s: entry point %s returned no descriptor", path,
                        DQ_TRANSPORT_ENTRY);
  if (seen != NULL) { /* the version fields never move: safe to report */
    seen[0] = d->abi_major;
    seen[1] = d->abi_minor;
  }
  if (d->abi_major != DQ_TRANSPORT_ABI_MAJOR)
    return dq_error_set(err, DQ_EABI,
                        "%s: transport ABI major version %u, expected %u "
                        "(rebuild the plugin against this dq's "
                        "<dq/transport.h>)",
                        path, d->abi_major, DQ_TRANSPORT_ABI_MAJOR);
  if (d->abi_minor > DQ_TRANSPORT_ABI_MINOR)
    return dq_error_set(err, DQ_EABI,
                        "%s: transport ABI %u.%u is newer than this dq "
                        "supports (%u.%u or older); upgrade dq",
                        path, d->abi_major, d->abi_minor,
                        DQ_TRANSPORT_ABI_MAJOR, DQ_TRANSPORT_ABI_MINOR);
  if (d->struct_size < DQ_TRANSPORT_PLUGIN_V1_0_SIZE)
    return dq_error_set(err, DQ_EABI,
                        "%s: descriptor is %zu bytes, expected at least %zu "
                        "(ABI 1.0)",
                        path, d->struct_size,
                        (size_t)DQ_TRANSPORT_PLUGIN_V1_0_SIZE);
  if (d->ops == NULL)
    return dq_error_set(err, DQ_EABI, "%s: descriptor has no ops table", path);
  if (d->ops->size < DQ_TRANSPORT_OPS_V1_0_SIZE)
    return dq_error_set(err, DQ_EABI,
                        "%s: ops table is %zu bytes, expected at least %zu "
                        "(ABI 1.0)",
                        path, d->ops->size, (size_t)DQ_TRANSPORT_OPS_V1_0_SIZE);
  for (size_t i = 0; i < sizeof mandatory_ops / sizeof mandatory_ops[0]; i++) {
    void *const *slot =
        (void *const *)((const char *)d->ops + mandatory_ops[i].offset);
    if (*slot == NULL)
      return dq_error_set(err, DQ_EABI,
                          "%s: mandatory op '%s' is NULL (every op of ABI "
                          "1.0 is required)",
                          path, mandatory_ops[i].name);
  }
  if (d->name == NULL || strcmp(d->name, name) != 0)
    return dq_error_set(err, DQ_EPLUGIN,
                        "%s: descriptor names the transport '%s', expected "
                        "'%s' (the name it was loaded by)",
                        path, d->name ? d->name : "(null)", name);
  *out = d;
  return 0;
}

/* Opens and checks the module at dir/name.  On success *dl_out is open. */
static int open_checked(const char *dir, const char *name, char *path,
                        size_t path_len, dq_dl **dl_out,
                        const dq_transport_plugin **desc, uint32_t *seen,
                        dq_error *err) {
  char base[4096];
  if (path_join(base, sizeof base, dir, name, "") < 0 ||
      path_join(path, path_len, dir, name, ".la") < 0)
    return dq_error_set(err, DQ_EINVAL, "plugin path %s/%s is too long", dir,
                        name);
  if (!file_exists(path))
    path_join(path, path_len, dir, name, ".so");
  int rc = check_writable_by_others(dir, "directory", err);
  /* The file actually mapped and every directory above it (a .la's
   * libdir or .libs/, symlinks): plugin_trust.c. */
  dq_plugin_trust trust;
  if (rc == 0)
    rc = dq_plugin_trust_check(dir, name, &trust, err);
  if (rc < 0)
    return rc;
  char why[512];
  dq_dl *dl = dq_dl_open(base, why, sizeof why);
  if (dl == NULL)
    return dq_error_set(err, DQ_EPLUGIN, "%s: cannot be loaded: %s", path,
                        why);
  rc = dq_plugin_trust_loaded(&trust, dq_dl_sym(dl, DQ_TRANSPORT_ENTRY), path,
                              err);
  if (rc == 0)
    rc = check_descriptor(dl, path, name, desc, seen, err);
  if (rc < 0) {
    dq_dl_close(dl);
    return rc;
  }
  *dl_out = dl;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Module names found in dir: NAME.la, or NAME.so without a NAME.la. */
static int scan_dir(const char *dir, dq_strlist *names) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return 0;
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (len < 4 || e->d_name[0] == '.')
      continue;
    const char *ext = e->d_name + len - 3;
    if (strcmp(ext, ".la") != 0 && strcmp(ext, ".so") != 0)
      continue;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(len - 3), e->d_name);
    if (dq_strlist_find(names, name) < 0)
      rc = dq_strlist_push(names, name, (size_t)-1);
  }
  closedir(d);
  /* readdir order is arbitrary: list in a stable order. */
  if (names->n > 1)
    qsort(names->items, names->n, sizeof *names->items, cmp_str);
  return rc;
}

/* Names every search directory, for "not found" messages. */
static void describe_search(const dq_config *cfg, const char *name,
                            dq_error *err) {
  dq_strlist avail = {0};
  size_t n = dq_config_n_plugin_dirs(cfg);
  for (size_t i = 0; i < n; i++)
    scan_dir(dq_config_plugin_dir(cfg, i), &avail);
  char list[512] = "", dirs[1024] = "";
  for (size_t i = 0; i < avail.n; i++) {
    if (i)
      strncat(list, ", ", sizeof list - strlen(list) - 1);
    strncat(list, avail.items[i], sizeof list - strlen(list) - 1);
  }
  for (size_t i = 0; i < n; i++) {
    if (i)
      strncat(dirs, ":", sizeof dirs - strlen(dirs) - 1);
    strncat(dirs, dq_config_plugin_dir(cfg, i), sizeof dirs - strlen(dirs) - 1);
  }
  dq_error_set(err, DQ_ENOENT,
               "transport '%s' not found; available: %s (searched %s; set "
               "DQ_PLUGIN_PATH or [dq] plugin_path to add directories)",
               name, avail.n ? list : "none", dirs);
  dq_strlist_free(&avail);
}

int dq_plugin_acquire(const dq_config *cfg, const char *name,
                      dq_plugin **out, dq_error *err) {
  *out = NULL;
  /* Find the first directory that has the module. */
  const char *dir = NULL;
  char path[4096];
  for (size_t i = 0; i < dq_config_n_plugin_dirs(cfg) && dir == NULL; i++) {
    const char *d = dq_config_plugin_dir(cfg, i);
    if ((path_join(path, sizeof path, d, name, ".la") == 0 &&
         file_exists(path)) ||
        (path_join(path, sizeof path, d, name, ".so") == 0 &&
         file_exists(path)))
      dir = d;
  }
  if (dir == NULL) {
    describe_search(cfg, name, err);
    return DQ_ENOENT;
  }

  pthread_mutex_lock(&registry_lock);
  char found[4096];
  if (path_join(found, sizeof found, dir, name, ".la") < 0 ||
      !file_exists(found))
    path_join(found, sizeof found, dir, name, ".so");
  for (dq_plugin *p = registry; p != NULL; p = p->next)
    if (strcmp(p->path, found) == 0 && strcmp(p->name, name) == 0) {
      /* Idle since its last release: the directory, the file and what it
       * leads to are checked again, as for a first load (their modes may
       * have changed since). */
      int rc = 0;
      if (p->refs == 0) {
        dq_plugin_trust trust;
        rc = check_writable_by_others(dir, "directory", err);
        if (rc == 0)
          rc = check_writable_by_others(p->path, "file", err);
        if (rc == 0)
          rc = dq_plugin_trust_check(dir, name, &trust, err);
      }
      if (rc == 0)
        p->refs++;
      pthread_mutex_unlock(&registry_lock);
      if (rc < 0)
        return rc;
      *out = p;
      return 0;
    }
  dq_plugin *p = calloc(1, sizeof *p);
  int rc = p ? 0 : dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (rc == 0)
    rc = open_checked(dir, name, path, sizeof path, &p->dl, &p->desc, NULL,
                      err);
  /* Loaded for use: resident from now on, and kept in the registry after
   * its last release (dq_plugin_release).  Batches a transport lent (ring
   * memory, received buffers) carry release callbacks in the module, and a
   * caller may keep them past dq_context_free; unloading is never safe
   * while one lives, and counting them all would tax every batch.  Only
   * modules that passed every check get here: rejected ones and `dq
   * plugins` probes are still unloaded.  (So a plugin file replaced on
   * disk is picked up by the next process, not by the next context.) */
  if (rc == 0 && dq_dl_make_resident(p->dl) < 0)
    rc = dq_error_set(err, DQ_EPLUGIN,
                      "%s: libltdl cannot keep the module loaded", path);
  if (rc == 0) {
    p->name = dup_str(name);
    p->path = dup_str(path);
    if (p->name == NULL || p->path == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  if (rc < 0) {
    if (p) {
      dq_dl_close(p->dl);
      free(p->name);
      free(p->path);
      free(p);
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
  }
  p->refs = 1;
  p->next = registry;
  registry = p;
  pthread_mutex_unlock(&registry_lock);
  *out = p;
  return 0;
}

void dq_plugin_release(dq_plugin *p) {
  if (p == NULL)
    return;
  /* The last release keeps the entry (and its open module) in the
   * registry: the module is resident (see dq_plugin_acquire), and the next
   * acquire of the same file reuses the entry instead of opening the file
   * again, so a process that creates and frees contexts in a loop holds
   * one libltdl handle per plugin, not one per cycle, and every handle
   * stays reachable until exit. */
  pthread_mutex_lock(&registry_lock);
  p->refs--;
  pthread_mutex_unlock(&registry_lock);
}

const dq_transport_plugin *dq_plugin_descriptor(const dq_plugin *p) {
  return p->desc;
}

const char *dq_plugin_path(const dq_plugin *p) { return p->path; }

/* Fills info for dir/name: loads, checks, and starts an instance. */
static void probe(const dq_config *cfg, const char *dir, const char *name,
                  dq_plugin_info *info) {
  dq_dl *dl = NULL;
  const dq_transport_plugin *d = NULL;
  char path[4096];
  uint32_t seen[2] = {0, 0};
  int rc = open_checked(dir, name, path, sizeof path, &dl, &d, seen,
                        &info->error);
  if (snprintf(info->path, sizeof info->path, "%s", path) >=
      (int)sizeof info->path)
    info->path[sizeof info->path - 2] = '~'; /* shown truncated */
  info->abi_major = seen[0];
  info->abi_minor = seen[1];
  if (rc < 0)
    return;
  snprintf(info->version, sizeof info->version, "%s",
           d->version ? d->version : "");
  snprintf(info->description, sizeof info->description, "%s",
           d->description ? d->description : "");
  size_t n_opts;
  const dq_kv *opts = dq_config_transport_options(cfg, name, &n_opts);
  dq_transport *t = NULL;
  dq_error ierr;
  dq_error_clear(&ierr);
  rc = d->ops->init(opts, n_opts, &t, &ierr);
  if (rc < 0) {
    dq_error_set(&info->error, DQ_EPLUGIN, "%s: transport '%s' failed to "
                 "start: %s", path, name,
                 ierr.message[0] ? ierr.message : dq_strerror(rc));
  } else {
    d->ops->fini(t);
    info->loads = 1;
  }
  dq_dl_close(dl);
}

int dq_plugin_list(const dq_config *cfg,
                   int (*cb)(const dq_plugin_info *info, void *user),
                   void *user, dq_error *err) {
  dq_strlist seen = {0};
  int rc = 0;
  dq_plugin_info *info = malloc(sizeof *info);
  if (info == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  for (size_t i = 0; rc == 0 && i < dq_config_n_plugin_dirs(cfg); i++) {
    const char *dir = dq_config_plugin_dir(cfg, i);
    dq_strlist names = {0};
    if (scan_dir(dir, &names) < 0) {
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
      break;
    }
    for (size_t k = 0; rc == 0 && k < names.n; k++) {
      memset(info, 0, sizeof *info);
      snprintf(info->name, sizeof info->name, "%s", names.items[k]);
      info->shadowed = dq_strlist_find(&seen, names.items[k]) >= 0;
      probe(cfg, dir, names.items[k], info);
      if (!info->shadowed)
        dq_strlist_push(&seen, names.items[k], (size_t)-1);
      rc = cb(info, user);
    }
    dq_strlist_free(&names);
  }
  free(info);
  dq_strlist_free(&seen);
  return rc;
}
