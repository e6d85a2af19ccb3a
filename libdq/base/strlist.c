/* strlist.c — see strlist.h. */
#include <stdlib.h>
#include <string.h>

#include <dq/dq.h>

#include "base/strlist.h"

int dq_strlist_push(dq_strlist *l, const char *s, size_t len) {
  if (len == (size_t)-1)
    len = strlen(s);
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 8;
    char **items = realloc(l->items, cap * sizeof *items);
    if (items == NULL)
      return DQ_ENOMEM;
    l->items = items;
    l->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (copy == NULL)
    return DQ_ENOMEM;
  memcpy(copy, s, len);
  copy[len] = '\0';
  l->items[l->n++] = copy;
  return 0;
}

int dq_strlist_push_path(dq_strlist *l, const char *colon_list) {
  const char *p = colon_list;
  while (p != NULL && *p != '\0') {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    if (len > 0) {
      int rc = dq_strlist_push(l, p, len);
      if (rc < 0)
        return rc;
    }
    p = colon ? colon + 1 : NULL;
  }
  return 0;
}

long dq_strlist_find(const dq_strlist *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->items[i], s) == 0)
      return (long)i;
  return -1;
}

void dq_strlist_free(dq_strlist *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->items[i]);
  free(l->items);
  l->items = NULL;
  l->n = l->cap = 0;
}
