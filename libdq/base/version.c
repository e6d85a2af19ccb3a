/* version.c — dq_version(): the version of the libdq loaded at run time, as
 * opposed to DQ_VERSION_STRING, the one a caller was compiled against.  It
 * is configure.ac's version; tests/test_version checks that <dq/dq.h>'s
 * macros say the same, so a release cannot bump one and forget the other. */
#include <config.h>

#include <dq/dq.h>

const char *dq_version(void) { return PACKAGE_VERSION; }

uint32_t dq_version_number(void) { return DQ_VERSION_NUMBER; }
