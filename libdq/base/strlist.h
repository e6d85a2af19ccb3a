/* strlist.h — a growable list of owned strings (search paths, worker URLs,
 * key/value options), used wherever libdq collects names in order. */
#ifndef DQ_STRLIST_H
#define DQ_STRLIST_H

#include <stddef.h>

typedef struct dq_strlist {
  char **items;
  size_t n;
  size_t cap;
} dq_strlist;

/* Appends a copy of s (len bytes, or strlen(s) when len is (size_t)-1).
 * 0 or DQ_ENOMEM. */
int dq_strlist_push(dq_strlist *l, const char *s, size_t len);
/* Appends each non-empty element of a colon-separated list. */
int dq_strlist_push_path(dq_strlist *l, const char *colon_list);
/* Index of s in l, or -1. */
long dq_strlist_find(const dq_strlist *l, const char *s);
void dq_strlist_free(dq_strlist *l);

#endif /* DQ_STRLIST_H */
