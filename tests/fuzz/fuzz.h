/* fuzz.h — what every fuzz target in tests/fuzz shares: the libFuzzer entry
 * points, and fuzz_require(), the oracle check that turns a broken
 * invariant (not merely a rejected input) into a crash the fuzzer records.
 *
 * Each target is built two ways from the same source: with -fsanitize=fuzzer
 * (libFuzzer supplies main), or with -DFUZZ_STANDALONE and standalone.c,
 * a plain main that replays files, for AFL++ or a corpus replay anywhere.
 */
#ifndef DQ_FUZZ_H
#define DQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional: a target defines it when it needs one-time setup. */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* abort() is right here and only here: in a fuzz target an oracle failure
 * must stop the run with a stack trace and the input saved. */
#define fuzz_require(cond, ...)                                             \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: fuzz oracle failed: %s: ", __FILE__,          \
              __LINE__, #cond);                                             \
      fprintf(stderr, __VA_ARGS__);                                         \
      fputc('\n', stderr);                                                  \
      abort();                                                              \
    }                                                                       \
  } while (0)

#endif /* DQ_FUZZ_H */
