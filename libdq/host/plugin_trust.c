/* plugin_trust.c — see plugin_trust.h.  Checking only the search directory
 * and the file found in it let a .la point (libdir, .libs/) at a
 * world-writable .so, a symlink lead into a 0777 directory, or a safe
 * directory sit inside a world-writable, non-sticky parent (whose owner
 * could rename it away and put another in its place).  So the check
 * follows the loader: it resolves the file libltdl will open, takes its
 * real path, and walks every directory up to "/".  After loading, the
 * object that holds the entry symbol is compared with the checked file by
 * device and inode, so a swap between check and load is refused too. */
#define _GNU_SOURCE /* dladdr, realpath */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/plugin_trust.h"

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* One entry (file or directory) of a path being trusted. */
static int check_entry(const char *path, const struct stat *st,
                       const char *what, int ancestor, dq_error *err) {
  mode_t m = st->st_mode;
  int others = (m & S_IWOTH) ||
               ((m & S_IWGRP) && st->st_gid != getgid() && st->st_gid != 0);
  /* A sticky directory (like /tmp) lets others add entries, not replace
   * ours: fine above the plugin, never as the plugin's own directory. */
  if (others && !(ancestor && S_ISDIR(m) && (m & S_ISVTX)))
    return dq_error_set(err, DQ_EPLUGIN,
                        "refusing to load plugins from %s %s: it is "
                        "writable by other users (mode %04o); run 'chmod "
                        "go-w %s'",
                        what, path, (unsigned)(m & 07777), path);
  if (st->st_uid != 0 && st->st_uid != geteuid())
    return dq_error_set(err, DQ_EPLUGIN,
                        "refusing to load plugins from %s %s: it belongs to "
                        "uid %lu, neither us (uid %lu) nor root",
                        what, path, (unsigned long)st->st_uid,
                        (unsigned long)geteuid());
  return 0;
}

/* Checks the real path of path, and every directory above it. */
static int check_path(const char *path, const char *what,
                      dq_plugin_trust *id, dq_error *err) {
  char real[4096];
  if (realpath(path, real) == NULL)
    return dq_error_set(err, DQ_EPLUGIN, "%s: cannot resolve: %s", path,
                        strerror(errno));
  struct stat st;
  if (stat(real, &st) != 0)
    return dq_error_set(err, DQ_EPLUGIN, "%s: %s", real, strerror(errno));
  /* Name the real file when it is not where the search found it. */
  const char *shown = strcmp(real, path) == 0 ? path : real;
  int rc = check_entry(shown, &st, what, 0, err);
  if (rc < 0)
    return rc;
  if (id != NULL) {
    snprintf(id->real, sizeof id->real, "%s", real);
    id->dev = st.st_dev;
    id->ino = st.st_ino;
  }
  /* Up from the file's own directory to "/". */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", real);
  for (int first = 1;; first = 0) {
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
      break;
    if (slash == dir)
      slash[1] = '\0'; /* "/" itself */
    else
      *slash = '\0';
    if (stat(dir, &st) != 0)
      return dq_error_set(err, DQ_EPLUGIN, "%s: %s", dir, strerror(errno));
    rc = check_entry(dir, &st, "directory", !first, err);
    if (rc < 0)
      return rc;
    if (strcmp(dir, "/") == 0)
      break;
  }
  return 0;
}

/* The value of `key='...'` (or key=...) in a .la file, or "". */
static void la_value(const char *text, const char *key, char *out,
                     size_t len) {
  out[0] = '\0';
  size_t kl = strlen(key);
  for (const char *line = text; line && *line;) {
    if (strncmp(line, key, kl) == 0 && line[kl] == '=') {
      const char *v = line + kl + 1;
      char quote = *v == '\'' || *v == '"' ? *v++ : '\0';
      size_t n = 0;
      while (v[n] && v[n] != '\n' && v[n] != quote && n + 1 < len)
        n++;
      memcpy(out, v, n);
      out[n] = '\0';
      return;
    }
    line = strchr(line, '\n');
    if (line)
      line++;
  }
}

/* The shared object libltdl opens for the .la at la (find_module's
 * order), or "" if none exists. */
static void la_target(const char *la, const char *dir, char *out,
                      size_t len) {
  out[0] = '\0';
  FILE *f = fopen(la, "r");
  if (f == NULL)
    return;
  char text[16384];
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = '\0';
  char dlname[1024], libdir[2048], installed[16];
  la_value(text, "dlname", dlname, sizeof dlname);
  la_value(text, "libdir", libdir, sizeof libdir);
  la_value(text, "installed", installed, sizeof installed);
  if (dlname[0] == '\0')
    return;
  int inst = strcmp(installed, "yes") == 0;
  char cand[4096];
  if (inst && libdir[0] != '\0' &&
      snprintf(cand, sizeof cand, "%s/%s", libdir, dlname) <
          (int)sizeof cand &&
      is_file(cand)) {
    snprintf(out, len, "%s", cand);
    return;
  }
  if (!inst &&
      snprintf(cand, sizeof cand, "%s/.libs/%s", dir, dlname) <
          (int)sizeof cand &&
      is_file(cand)) {
    snprintf(out, len, "%s", cand);
    return;
  }
  if (snprintf(cand, sizeof cand, "%s/%s", dir, dlname) < (int)sizeof cand &&
      is_file(cand))
    snprintf(out, len, "%s", cand);
}

int dq_plugin_trust_check(const char *dir, const char *name,
                          dq_plugin_trust *out, dq_error *err) {
  memset(out, 0, sizeof *out);
  char la[4096], so[4096];
  if (snprintf(la, sizeof la, "%s/%s.la", dir, name) >= (int)sizeof la ||
      snprintf(so, sizeof so, "%s/%s.so", dir, name) >= (int)sizeof so)
    return dq_error_set(err, DQ_EINVAL, "plugin path %s/%s is too long", dir,
                        name);
  char target[4096] = "";
  if (is_file(la)) {
    /* The .la decides what is loaded: it is trusted like the code. */
    int rc = check_path(la, "file", NULL, err);
    if (rc < 0)
      return rc;
    la_target(la, dir, target, sizeof target);
  } else if (is_file(so)) {
    snprintf(target, sizeof target, "%s", so);
  }
  if (target[0] == '\0')
    return 0; /* nothing to map: the loader reports it */
  return check_path(target, "file", out, err);
}

int dq_plugin_trust_loaded(const dq_plugin_trust *checked, const void *addr,
                           const char *shown, dq_error *err) {
  Dl_info info;
  struct stat st;
  if (checked->real[0] == '\0' || addr == NULL ||
      dladdr(addr, &info) == 0 || info.dli_fname == NULL ||
      stat(info.dli_fname, &st) != 0)
    return 0; /* nothing to compare with (a preloaded module) */
  if (st.st_dev == checked->dev && st.st_ino == checked->ino)
    return 0;
  return dq_error_set(err, DQ_EPLUGIN,
                      "%s: refusing the loaded file %s: it is not %s, the "
                      "file whose permissions were checked",
                      shown, info.dli_fname, checked->real);
}
