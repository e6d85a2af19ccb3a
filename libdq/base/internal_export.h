/* internal_export.h — DQ_INTERNAL: a libdq function that is not public
 * API but that libdq.so exports anyway, for this tree's own tests and
 * dq-transport-check, so that a process holds one libdq (the one its
 * plugins link) instead of the shared one plus a static copy.  Never
 * installed, never in <dq/...>: what it marks may change at any time.
 * Keep the set small (a test that can use the public API or the harness in
 * tests/harness/ should); a linker version script puts these in a private
 * version node, apart from the DQ_EXPORT ones. */
#ifndef DQ_BASE_INTERNAL_EXPORT_H
#define DQ_BASE_INTERNAL_EXPORT_H

#if defined(__GNUC__)
#define DQ_INTERNAL __attribute__((visibility("default")))
#else
#define DQ_INTERNAL
#endif

#endif /* DQ_BASE_INTERNAL_EXPORT_H */
