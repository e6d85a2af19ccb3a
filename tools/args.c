/* args.c — strict number parsing for the dq subcommands (args.h). */
#include <errno.h>
#include <stdlib.h>

#include "args.h"

bool dq_args_plain_decimal(const char *s) {
  const char *p = s;
  size_t digits = 0;
  while (*p >= '0' && *p <= '9')
    p++, digits++;
  if (*p == '.')
    for (p++; *p >= '0' && *p <= '9'; p++)
      digits++;
  if (digits == 0)
    return false;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-')
      p++;
    if (*p < '0' || *p > '9')
      return false;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  return *p == '\0';
}

bool dq_args_u64(const char *s, uint64_t max, uint64_t *out) {
  if (s[0] < '0' || s[0] > '9') /* strtoull would take "-1" and " 1" */
    return false;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max)
    return false;
  *out = v;
  return true;
}
