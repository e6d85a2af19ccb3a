/* standalone.c — a plain main() for the fuzz targets, linked instead of
 * libFuzzer when FUZZ_STANDALONE is defined: replays each file named on the
 * command line (directories: every regular file in them), or stdin when
 * there is none, through LLVMFuzzerTestOneInput.  This is what lets AFL++
 * (afl-clang-fast, stdin or @@ mode) or any compiler replay a corpus
 * without libFuzzer.  Any failure crashes, as it would under the fuzzer.
 * Compiled only with -DFUZZ_STANDALONE (the replay_* programs).
 */
#ifdef FUZZ_STANDALONE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Targets without setup do not define LLVMFuzzerInitialize. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static long replayed;

static int run_stream(FILE *f, const char *name) {
  size_t cap = 4096, len = 0;
  uint8_t *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      fprintf(stderr, "%s: out of memory\n", name);
      return -1;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
    if (len == cap) {
      uint8_t *grown = realloc(buf, cap * 2);
      if (grown == NULL)
        free(buf);
      buf = grown;
      cap *= 2;
    }
  }
  if (ferror(f)) {
    fprintf(stderr, "%s: read error\n", name);
    free(buf);
    return -1;
  }
  /* An exact-size copy, so a read past the input is seen by ASan. */
  uint8_t *exact = malloc(len ? len : 1);
  if (exact == NULL) {
    free(buf);
    return -1;
  }
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  replayed++;
  return 0;
}

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return -1;
  }
  int rc = run_stream(f, path);
  fclose(f);
  return rc;
}

static int run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    return -1;
  }
  if (!S_ISDIR(st.st_mode))
    return run_file(path);
  DIR *d = opendir(path);
  if (d == NULL) {
    perror(path);
    return -1;
  }
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    size_t n = strlen(path) + strlen(e->d_name) + 2;
    char *full = malloc(n);
    if (full == NULL) {
      rc = -1;
      break;
    }
    snprintf(full, n, "%s/%s", path, e->d_name);
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode) && run_file(full) < 0)
      rc = -1;
    free(full);
  }
  closedir(d);
  return rc;
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize(&argc, &argv);
  int rc = 0;
  if (argc < 2)
    rc = run_stream(stdin, "<stdin>");
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-' && run_path(argv[i]) < 0) /* skip fuzzer flags */
      rc = 1;
  fprintf(stderr, "%s: %ld inputs replayed\n", argv[0], replayed);
  return rc;
}
#endif /* FUZZ_STANDALONE */
