/* dl.h — the shim over libltdl: open, symbol, close, and a real reason.
 *
 * The rest of libdq loads modules only through these calls, so the loader
 * reads as four steps and a different loading library would change one file.
 * Modules are opened with local symbol visibility (RTLD_LOCAL): a plugin's
 * symbols never satisfy another plugin's references. */
#ifndef DQ_DL_H
#define DQ_DL_H

#include <stddef.h>

typedef struct dq_dl dq_dl;

/* Opens the module at `base` (a path without extension: libltdl tries
 * base.la, then base.so).  On failure writes the reason into why and
 * returns NULL. */
dq_dl *dq_dl_open(const char *base, char *why, size_t why_len);
/* Looks up `symbol`, trying libtool's MODULE_LTX_symbol first. */
void *dq_dl_sym(dq_dl *dl, const char *symbol);
/* Keeps the module mapped until the process exits, whatever dq_dl_close
 * does later: memory a plugin lent (batches whose release callbacks are its
 * code) may outlive every handle on it.  0, or -1 when libltdl refuses. */
int dq_dl_make_resident(dq_dl *dl);
void dq_dl_close(dq_dl *dl);

#endif /* DQ_DL_H */
