/* dl.c — see dl.h.  libltdl keeps global state (its handle list, error
 * string, init count) and is not thread-safe, so every call here holds one
 * process-wide lock.  lt_dlinit/lt_dlexit are reference-counted by ltdl; we
 * pair one lt_dlinit with every successful open. */
#include <config.h>

#include <dlfcn.h>
#include <ltdl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/dl.h"

struct dq_dl {
  lt_dlhandle handle;
};

static pthread_mutex_t dl_lock = PTHREAD_MUTEX_INITIALIZER;

/* libltdl reports most dlopen failures as "file not found"; ask the system
 * loader directly for the real reason (a missing dependency, an undefined
 * symbol, a non-ELF file). */
static void system_reason(const char *base, char *why, size_t why_len) {
  char path[4096];
  const char *slash = strrchr(base, '/');
  /* An uninstalled libtool module keeps its .so in .libs/ beside the .la. */
  if (slash != NULL)
    snprintf(path, sizeof path, "%.*s/.libs/%s.so", (int)(slash - base), base,
             slash + 1);
  else
    snprintf(path, sizeof path, ".libs/%s.so", base);
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    snprintf(path, sizeof path, "%s.so", base);
  else
    fclose(f);
  dlerror();
  void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
  if (h != NULL) {
    dlclose(h);
    return; /* keep libltdl's reason */
  }
  const char *e = dlerror();
  if (e != NULL)
    snprintf(why, why_len, "%s", e);
}

dq_dl *dq_dl_open(const char *base, char *why, size_t why_len) {
  dq_dl *dl = calloc(1, sizeof *dl);
  if (dl == NULL) {
    snprintf(why, why_len, "out of memory");
    return NULL;
  }
  pthread_mutex_lock(&dl_lock);
  if (lt_dlinit() != 0) {
    snprintf(why, why_len, "libltdl failed to initialise: %s", lt_dlerror());
    pthread_mutex_unlock(&dl_lock);
    free(dl);
    return NULL;
  }
  lt_dladvise advise;
  lt_dladvise_init(&advise);
  lt_dladvise_ext(&advise);
  lt_dladvise_local(&advise);
  dl->handle = lt_dlopenadvise(base, advise);
  lt_dladvise_destroy(&advise);
  if (dl->handle == NULL) {
    const char *e = lt_dlerror();
    snprintf(why, why_len, "%s", e ? e : "unknown libltdl error");
    system_reason(base, why, why_len);
    lt_dlexit();
    pthread_mutex_unlock(&dl_lock);
    free(dl);
    return NULL;
  }
  pthread_mutex_unlock(&dl_lock);
  return dl;
}

void *dq_dl_sym(dq_dl *dl, const char *symbol) {
  pthread_mutex_lock(&dl_lock);
  void *p = lt_dlsym(dl->handle, symbol);
  pthread_mutex_unlock(&dl_lock);
  return p;
}

int dq_dl_make_resident(dq_dl *dl) {
  pthread_mutex_lock(&dl_lock);
  /* lt_dlclose then leaves the module alone, and so does lt_dlexit (it
   * skips resident handles). */
  int rc = lt_dlmakeresident(dl->handle) == 0 ? 0 : -1;
  pthread_mutex_unlock(&dl_lock);
  return rc;
}

void dq_dl_close(dq_dl *dl) {
  if (dl == NULL)
    return;
  pthread_mutex_lock(&dl_lock);
  lt_dlclose(dl->handle);
  lt_dlexit();
  pthread_mutex_unlock(&dl_lock);
  free(dl);
}
