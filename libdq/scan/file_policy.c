/* file_policy.c — see file_policy.h. */
#define _GNU_SOURCE /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scan/file_policy.h"

#define DEFAULT_DIR "data"

static int add_dir(dq_file_policy *p, const char *dir) {
  char real[PATH_MAX];
  struct stat st;
  if (realpath(dir, real) == NULL || stat(real, &st) != 0 ||
      !S_ISDIR(st.st_mode))
    return 0; /* nothing there: nothing to read from it */
  char **grown = realloc(p->dirs, (p->n + 1) * sizeof *grown);
  if (grown == NULL)
    return DQ_ENOMEM;
  p->dirs = grown;
  if ((p->dirs[p->n] = strdup(real)) == NULL)
    return DQ_ENOMEM;
  p->n++;
  return 0;
}

int dq_file_policy_init(dq_file_policy *p, bool given, size_t n,
                        const char *const *dirs, dq_error *err) {
  memset(p, 0, sizeof *p);
  int rc = 0;
  if (given) {
    size_t off = (size_t)snprintf(p->setting, sizeof p->setting,
                                  "[worker] data_dirs = ");
    for (size_t i = 0; i < n && rc == 0; i++) {
      if (off < sizeof p->setting)
        off += (size_t)snprintf(p->setting + off, sizeof p->setting - off,
                                "%s%s", i ? ":" : "", dirs[i]);
      rc = add_dir(p, dirs[i]);
    }
  } else {
    char cwd[400];
    if (getcwd(cwd, sizeof cwd) == NULL)
      snprintf(cwd, sizeof cwd, ".");
    snprintf(p->setting, sizeof p->setting,
             "[worker] data_dirs, unset: the default is %.400s/" DEFAULT_DIR,
             cwd);
    rc = add_dir(p, DEFAULT_DIR);
  }
  if (rc < 0) {
    dq_file_policy_clear(p);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  return 0;
}

void dq_file_policy_clear(dq_file_policy *p) {
  for (size_t i = 0; i < p->n; i++)
    free(p->dirs[i]);
  free(p->dirs);
  p->dirs = NULL;
  p->n = 0;
}

static int inside(const dq_file_policy *p, const char *real) {
  for (size_t i = 0; i < p->n; i++) {
    size_t l = strlen(p->dirs[i]);
    if (strncmp(real, p->dirs[i], l) == 0 &&
        (real[l] == '/' || real[l] == '\0' || strcmp(p->dirs[i], "/") == 0))
      return 1;
  }
  return 0;
}

int dq_file_policy_check(const dq_file_policy *p, const char *path,
                         char *real, size_t len, dq_error *err) {
  char buf[PATH_MAX];
  if (p == NULL) {
    if ((size_t)snprintf(real, len, "%s", path) >= len)
      return dq_error_set(err, DQ_EINVAL, "path %s is too long", path);
    return 0;
  }
  if (realpath(path, buf) != NULL) {
    if (!inside(p, buf))
      return dq_error_set(err, DQ_EPERM,
                          "this worker may not read %s: it is outside the "
                          "directories it serves files from (%s)",
                          path, p->setting);
    if ((size_t)snprintf(real, len, "%s", buf) >= len)
      return dq_error_set(err, DQ_EINVAL, "path %s is too long", path);
    return 0;
  }
  /* A path that does not resolve: say it is missing only when it would be
   * inside an allowed directory, so that the answer tells nothing about
   * files elsewhere. */
  int e = errno;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash == dir)
    slash[1] = '\0';
  else if (slash != NULL)
    *slash = '\0';
  else
    snprintf(dir, sizeof dir, ".");
  if (realpath(dir, buf) != NULL && inside(p, buf))
    return dq_error_set(err, DQ_ENOENT, "cannot open %s: %s", path,
                        strerror(e));
  return dq_error_set(err, DQ_EPERM,
                      "this worker may not read %s: it is outside the "
                      "directories it serves files from (%s)",
                      path, p->setting);
}
