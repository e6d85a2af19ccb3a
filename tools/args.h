/* args.h — number parsing shared by the dq subcommands: strict, so that a
 * value strtod/strtoull would bend into something (" 1", "0x1p-3", "-1",
 * "inf") is refused as the typo it is. */
#ifndef DQ_TOOLS_ARGS_H
#define DQ_TOOLS_ARGS_H

#include <stdbool.h>
#include <stdint.h>

/* Digits with an optional fraction and exponent, nothing else. */
bool dq_args_plain_decimal(const char *s);
/* A decimal integer from 0 to max, digits only; true with *out set. */
bool dq_args_u64(const char *s, uint64_t max, uint64_t *out);

#endif /* DQ_TOOLS_ARGS_H */
