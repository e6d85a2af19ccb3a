/* explain.c — EXPLAIN text: each stage with its tasks, partitions and
 * output boundary, then its node tree, one node a line, indented by depth
 * (a scan's line is its source's, scan/source.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "plan/plan_internal.h"

typedef struct xbuf {
  char *buf;
  size_t len, pos;
} xbuf;

static void xput(xbuf *x, const char *fmt, ...) DQ_PRINTF(2, 3);
static void xput(xbuf *x, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = x->pos < x->len ? x->len - x->pos : 0;
  int n = vsnprintf(room ? x->buf + x->pos : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0)
    x->pos += (size_t)n;
}

static void xexpr(xbuf *x, const dq_expr *e, const dq_schema *in) {
  char tmp[512];
  xput(x, "%s", dq_expr_format(e, in, tmp, sizeof tmp));
}

static const char *kind_name(dq_boundary_kind k) {
  switch (k) {
  case DQ_BOUNDARY_SHUFFLE: return "SHUFFLE";
  case DQ_BOUNDARY_COALESCE: return "COALESCE";
  case DQ_BOUNDARY_BROADCAST: return "BROADCAST";
  default: return "NONE";
  }
}

static const char *join_kind_name(dq_join_kind k) {
  switch (k) {
  case DQ_JOIN_INNER: return "INNER";
  case DQ_JOIN_LEFT: return "LEFT";
  case DQ_JOIN_LEFT_SEMI: return "LEFT SEMI";
  case DQ_JOIN_LEFT_ANTI: return "LEFT ANTI";
  }
  return "?";
}

static void explain_keys(xbuf *x, const dq_node *n, const dq_schema *in) {
  for (size_t i = 0; i < n->n_keys; i++) {
    xput(x, "%s", i ? ", " : "");
    xexpr(x, n->keys[i].expr, in);
    xput(x, " %s NULLS %s", n->keys[i].descending ? "DESC" : "ASC",
         n->keys[i].nulls_first ? "FIRST" : "LAST");
  }
}

static void explain_node(xbuf *x, const dq_node *n, int depth) {
  for (; n != NULL; n = n->input, depth++) {
    const dq_schema *in = n->input ? n->input->schema : NULL;
    xput(x, "%*s", 2 + 2 * depth, "");
    switch (n->kind) {
    case DQ_NODE_HASH_JOIN: {
      const dq_schema *bs = n->more[0]->schema;
      xput(x, "HashJoin %s ON ", join_kind_name(n->join_kind));
      for (size_t i = 0; i < n->n_join_keys; i++) {
        xput(x, "%s", i ? " AND " : "");
        xexpr(x, n->probe_keys[i], in);
        xput(x, " = ");
        xexpr(x, n->build_keys[i], bs);
      }
      if (n->residual != NULL) {
        xput(x, " WHERE ");
        xexpr(x, n->residual, n->join_schema);
      }
      xput(x, "\n%*sProbe:\n", 4 + 2 * depth, "");
      explain_node(x, n->input, depth + 2);
      xput(x, "%*sBuild:\n", 4 + 2 * depth, "");
      explain_node(x, n->more[0], depth + 2);
      return;
    }
    case DQ_NODE_UNION:
      xput(x, "UnionAll %zu inputs\n", 1 + n->n_more);
      for (size_t i = 0; i < dq_node_n_inputs(n); i++)
        explain_node(x, dq_node_input_at(n, i), depth + 1);
      return;
    case DQ_NODE_TOPN:
      xput(x, "TopN %" PRId64 " OFFSET %" PRId64 " BY ", n->count, n->offset);
      explain_keys(x, n, in);
      xput(x, "\n");
      break;
    case DQ_NODE_SCAN: {
      /* The source's own line; xput copes with a full buffer the same. */
      dq_source_projection p = dq_node_scan_projection(n);
      size_t need = n->source->explain(n->source_state, &p, NULL, 0) + 1;
      char *line = malloc(need);
      if (line != NULL) {
        n->source->explain(n->source_state, &p, line, need);
        xput(x, "%s\n", line);
      }
      free(line);
      break;
    }
    case DQ_NODE_FILTER:
      xput(x, "Filter ");
      xexpr(x, n->predicate, in);
      xput(x, "\n");
      break;
    case DQ_NODE_PROJECT:
      xput(x, "Project ");
      for (size_t i = 0; i < n->n_exprs; i++) {
        xput(x, "%s", i ? ", " : "");
        xexpr(x, n->exprs[i], in);
        xput(x, " AS %s", n->names[i]);
      }
      xput(x, "\n");
      break;
    case DQ_NODE_AGGREGATE:
      xput(x, "Aggregate %s",
           n->mode == DQ_AGG_SINGLE ? "SINGLE"
           : n->mode == DQ_AGG_PARTIAL ? "PARTIAL" : "FINAL");
      if (n->n_exprs) {
        xput(x, " BY ");
        for (size_t i = 0; i < n->n_exprs; i++) {
          xput(x, "%s", i ? ", " : "");
          xexpr(x, n->exprs[i], in);
          xput(x, " AS %s", n->names[i]);
        }
      }
      xput(x, ":");
      for (size_t i = 0; i < n->n_aggs; i++) {
        const dq_agg_call *a = &n->aggs[i];
        xput(x, "%s %s", i ? "," : "", dq_agg_func_name(a->func));
        if (a->func != DQ_AGG_COUNT_STAR) {
          xput(x, "(");
          xexpr(x, a->arg, in);
          xput(x, ")");
        }
        xput(x, " AS %s", a->name);
      }
      xput(x, "\n");
      break;
    case DQ_NODE_SORT:
      xput(x, "Sort ");
      explain_keys(x, n, in);
      xput(x, "\n");
      break;
    case DQ_NODE_LIMIT:
      xput(x, "Limit %" PRId64 " OFFSET %" PRId64 "\n", n->count, n->offset);
      break;
    case DQ_NODE_READ:
      xput(x, "Read stage %" PRIu32 "\n", n->producer);
      break;
    }
  }
}

size_t dq_plan_explain(const dq_plan *p, char *buf, size_t len) {
  xbuf x = {buf, len, 0};
  if (len > 0)
    buf[0] = '\0';
  for (size_t i = 0; p != NULL && i < p->n_stages; i++) {
    const dq_stage *s = &p->stages[i];
    xput(&x, "Stage %" PRIu32 " (%" PRIu32 " task%s x %" PRIu32
         " partition%s)", s->id, s->task_count, s->task_count == 1 ? "" : "s",
         s->partitions, s->partitions == 1 ? "" : "s");
    if (s->out_kind == DQ_BOUNDARY_NONE) {
      xput(&x, " head\n");
    } else {
      xput(&x, " -> %s", kind_name(s->out_kind));
      if (s->n_keys) {
        xput(&x, " [");
        for (size_t k = 0; k < s->n_keys; k++)
          xput(&x, "%s%s", k ? ", " : "",
               dq_schema_field_name(s->root->schema, s->keys[k]));
        xput(&x, "]");
      }
      xput(&x, " to stage %" PRIu32 "\n", s->consumer);
    }
    explain_node(&x, s->root, 0);
  }
  if (len > 0 && x.pos >= len)
    buf[len - 1] = '\0';
  return x.pos + 1;
}
