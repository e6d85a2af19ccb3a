/* plan_codec.c — plans and producer heads to and from dq.v1 protobuf bytes
 * (proto/plan.proto).
 *
 * Decoding trusts nothing.  Before protobuf-c sees the bytes, a walk of the
 * wire format bounds message nesting (protobuf-c recurses once per level,
 * so unbounded nesting could exhaust the stack).  Then every enum value,
 * count and index is checked, and the nodes are rebuilt through the same
 * constructors the builder uses, which re-derive and type-check every
 * schema.  Errors: DQ_EPROTO for bytes that are not a well-formed message,
 * DQ_EINVAL for a well-formed message that is not a valid plan. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "plan.pb-c.h"
#include "plan/plan_internal.h"

#define PLAN_VERSION 1
#define MAX_PLAN_BYTES (64u << 20)
#define MAX_WIRE_DEPTH 600 /* messages; an expression level is two */

/* --- Arena for the messages built while encoding -------------------------- */

typedef struct arena_block {
  struct arena_block *next;
  max_align_t data[];
} arena_block;

typedef struct arena {
  arena_block *head;
  bool failed;
} arena;

static void *anew(arena *a, size_t size) {
  arena_block *b = calloc(1, sizeof *b + (size ? size : 1));
  if (b == NULL) {
    a->failed = true;
    return NULL;
  }
  b->next = a->head;
  a->head = b;
  return b->data;
}

static void arena_free(arena *a) {
  while (a->head) {
    arena_block *n = a->head->next;
    free(a->head);
    a->head = n;
  }
}

/* --- Encoding ------------------------------------------------------------- */

static Dq__V1__Type *enc_type(arena *a, dq_type t) {
  Dq__V1__Type *m = anew(a, sizeof *m);
  if (m == NULL)
    return NULL;
  dq__v1__type__init(m);
  m->id = (Dq__V1__TypeId)t.id;
  if (t.id == DQ_TYPE_DECIMAL) {
    m->precision = t.precision;
    m->scale = t.scale;
  }
  return m;
}

static Dq__V1__Literal *enc_literal(arena *a, const dq_scalar *s) {
  Dq__V1__Literal *l = anew(a, sizeof *l);
  if (l == NULL)
    return NULL;
  dq__v1__literal__init(l);
  l->type = enc_type(a, s->type);
  l->is_null = s->is_null;
  if (!s->is_null)
    switch (s->type.id) {
    case DQ_TYPE_BOOL: l->bool_value = s->v.b; break;
    case DQ_TYPE_INT32:
    case DQ_TYPE_DATE32: l->int_value = s->v.i32; break;
    case DQ_TYPE_INT64: l->int_value = s->v.i64; break;
    case DQ_TYPE_FLOAT64: l->float64_value = s->v.f64; break;
    case DQ_TYPE_UTF8: l->utf8_value = s->str; break;
    case DQ_TYPE_DECIMAL: {
      uint8_t *d = anew(a, 16);
      if (d == NULL)
        return NULL;
      memcpy(d, &s->v.dec, 16); /* little-endian host (batch.c checks) */
      l->decimal_value.data = d;
      l->decimal_value.len = 16;
      break;
    }
    }
  return l;
}

static Dq__V1__Expr *enc_expr(arena *a, const dq_expr *e) {
  Dq__V1__Expr *m = anew(a, sizeof *m);
  if (m == NULL)
    return NULL;
  dq__v1__expr__init(m);
  switch (e->kind) {
  case DQ_EXPR_COLUMN:
    m->kind_case = DQ__V1__EXPR__KIND_COLUMN;
    m->column = e->column;
    break;
  case DQ_EXPR_LITERAL: {
    Dq__V1__Literal *l = enc_literal(a, &e->lit);
    if (l == NULL)
      return NULL;
    m->kind_case = DQ__V1__EXPR__KIND_LITERAL;
    m->literal = l;
    break;
  }
  case DQ_EXPR_CALL: {
    Dq__V1__Call *c = anew(a, sizeof *c);
    if (c == NULL)
      return NULL;
    dq__v1__call__init(c);
    c->op = (Dq__V1__ExprOp)e->op;
    c->n_args = e->n_args;
    c->args = anew(a, 3 * sizeof *c->args);
    if (c->args == NULL)
      return NULL;
    for (size_t i = 0; i < e->n_args; i++)
      c->args[i] = enc_expr(a, e->args[i]);
    if (e->op == DQ_OP_CAST)
      c->cast_type = enc_type(a, e->cast_type);
    if (e->n_list > 0) {
      c->n_in_list = e->n_list;
      c->in_list = anew(a, e->n_list * sizeof *c->in_list);
      for (size_t i = 0; c->in_list != NULL && i < e->n_list; i++)
        c->in_list[i] = enc_literal(a, &e->list[i]);
    }
    m->kind_case = DQ__V1__EXPR__KIND_CALL;
    m->call = c;
    break;
  }
  }
  return m;
}

static Dq__V1__Expr **enc_exprs(arena *a, dq_expr *const *v, size_t n) {
  Dq__V1__Expr **r = anew(a, (n ? n : 1) * sizeof *r);
  for (size_t i = 0; r != NULL && i < n; i++)
    r[i] = enc_expr(a, v[i]);
  return r;
}

static Dq__V1__Schema *enc_schema(arena *a, const dq_schema *s) {
  Dq__V1__Schema *m = anew(a, sizeof *m);
  if (m == NULL)
    return NULL;
  dq__v1__schema__init(m);
  size_t n = dq_schema_n_fields(s);
  m->n_fields = n;
  m->fields = anew(a, (n ? n : 1) * sizeof *m->fields);
  for (size_t i = 0; m->fields != NULL && i < n; i++) {
    Dq__V1__Field *f = anew(a, sizeof *f);
    if (f == NULL)
      return NULL;
    dq__v1__field__init(f);
    f->name = (char *)dq_schema_field_name(s, i);
    f->type = enc_type(a, dq_schema_field_type(s, i));
    f->nullable = dq_schema_field_nullable(s, i);
    m->fields[i] = f;
  }
  return m;
}

static Dq__V1__SortKey **enc_sort_keys(arena *a, const dq_node *n) {
  Dq__V1__SortKey **keys = anew(a, (n->n_keys ? n->n_keys : 1) *
                                       sizeof *keys);
  for (size_t i = 0; keys != NULL && i < n->n_keys; i++) {
    Dq__V1__SortKey *k = anew(a, sizeof *k);
    if (k == NULL)
      return NULL;
    dq__v1__sort_key__init(k);
    k->expr = enc_expr(a, n->keys[i].expr);
    k->descending = n->keys[i].descending;
    k->nulls_first = n->keys[i].nulls_first;
    keys[i] = k;
  }
  return keys;
}

static Dq__V1__Node *enc_node(arena *a, const dq_node *n) {
  Dq__V1__Node *m = anew(a, sizeof *m);
  if (m == NULL)
    return NULL;
  dq__v1__node__init(m);
  switch (n->kind) {
  case DQ_NODE_SCAN: {
    Dq__V1__Scan *s = anew(a, sizeof *s);
    if (s == NULL)
      return NULL;
    dq__v1__scan__init(s);
    s->source = (char *)n->source->name;
    s->n_columns = n->n_columns;
    s->columns = n->columns;
    /* The source's own bytes, moved into the arena. */
    uint8_t *params = NULL;
    size_t len = 0;
    if (n->source->encode(n->source_state, &params, &len, NULL) != 0) {
      a->failed = true;
      return NULL;
    }
    s->params.data = anew(a, len);
    if (s->params.data != NULL)
      memcpy(s->params.data, params, len);
    s->params.len = len;
    free(params);
    m->kind_case = DQ__V1__NODE__KIND_SCAN;
    m->scan = s;
    break;
  }
  case DQ_NODE_FILTER: {
    Dq__V1__Filter *f = anew(a, sizeof *f);
    if (f == NULL)
      return NULL;
    dq__v1__filter__init(f);
    f->input = enc_node(a, n->input);
    f->predicate = enc_expr(a, n->predicate);
    m->kind_case = DQ__V1__NODE__KIND_FILTER;
    m->filter = f;
    break;
  }
  case DQ_NODE_PROJECT: {
    Dq__V1__Project *p = anew(a, sizeof *p);
    if (p == NULL)
      return NULL;
    dq__v1__project__init(p);
    p->input = enc_node(a, n->input);
    p->n_exprs = p->n_names = n->n_exprs;
    p->exprs = enc_exprs(a, n->exprs, n->n_exprs);
    p->names = n->names;
    m->kind_case = DQ__V1__NODE__KIND_PROJECT;
    m->project = p;
    break;
  }
  case DQ_NODE_AGGREGATE: {
    Dq__V1__Aggregate *g = anew(a, sizeof *g);
    if (g == NULL)
      return NULL;
    dq__v1__aggregate__init(g);
    g->input = enc_node(a, n->input);
    g->mode = (Dq__V1__AggMode)n->mode;
    g->n_group_names = n->n_exprs;
    g->group_names = n->names;
    if (n->mode != DQ_AGG_FINAL) {
      g->n_group_exprs = n->n_exprs;
      g->group_exprs = enc_exprs(a, n->exprs, n->n_exprs);
    }
    g->n_calls = n->n_aggs;
    g->calls = anew(a, (n->n_aggs ? n->n_aggs : 1) * sizeof *g->calls);
    for (size_t i = 0; g->calls != NULL && i < n->n_aggs; i++) {
      const dq_agg_call *c = &n->aggs[i];
      Dq__V1__AggCall *mc = anew(a, sizeof *mc);
      if (mc == NULL)
        return NULL;
      dq__v1__agg_call__init(mc);
      mc->func = (Dq__V1__AggFunc)c->func;
      mc->name = c->name;
      if (n->mode == DQ_AGG_FINAL) {
        if (c->func != DQ_AGG_COUNT_STAR)
          mc->arg_type = enc_type(a, c->arg_type);
      } else if (c->arg != NULL) {
        mc->arg = enc_expr(a, c->arg);
      }
      g->calls[i] = mc;
    }
    m->kind_case = DQ__V1__NODE__KIND_AGGREGATE;
    m->aggregate = g;
    break;
  }
  case DQ_NODE_SORT: {
    Dq__V1__Sort *s = anew(a, sizeof *s);
    if (s == NULL)
      return NULL;
    dq__v1__sort__init(s);
    s->input = enc_node(a, n->input);
    s->n_keys = n->n_keys;
    s->keys = enc_sort_keys(a, n);
    m->kind_case = DQ__V1__NODE__KIND_SORT;
    m->sort = s;
    break;
  }
  case DQ_NODE_LIMIT: {
    Dq__V1__Limit *l = anew(a, sizeof *l);
    if (l == NULL)
      return NULL;
    dq__v1__limit__init(l);
    l->input = enc_node(a, n->input);
    l->count = n->count;
    l->offset = n->offset;
    m->kind_case = DQ__V1__NODE__KIND_LIMIT;
    m->limit = l;
    break;
  }
  case DQ_NODE_HASH_JOIN: {
    Dq__V1__HashJoin *j = anew(a, sizeof *j);
    if (j == NULL)
      return NULL;
    dq__v1__hash_join__init(j);
    j->probe = enc_node(a, n->input);
    j->build = enc_node(a, n->more[0]);
    j->kind = (Dq__V1__JoinKind)n->join_kind;
    j->n_probe_keys = j->n_build_keys = n->n_join_keys;
    j->probe_keys = enc_exprs(a, n->probe_keys, n->n_join_keys);
    j->build_keys = enc_exprs(a, n->build_keys, n->n_join_keys);
    if (n->residual != NULL)
      j->residual = enc_expr(a, n->residual);
    size_t nf = dq_schema_n_fields(n->join_schema);
    j->n_names = nf;
    j->names = anew(a, (nf ? nf : 1) * sizeof *j->names);
    for (size_t i = 0; j->names != NULL && i < nf; i++)
      j->names[i] = (char *)dq_schema_field_name(n->join_schema, i);
    m->kind_case = DQ__V1__NODE__KIND_HASH_JOIN;
    m->hash_join = j;
    break;
  }
  case DQ_NODE_TOPN: {
    Dq__V1__TopN *t = anew(a, sizeof *t);
    if (t == NULL)
      return NULL;
    dq__v1__top_n__init(t);
    t->input = enc_node(a, n->input);
    t->n_keys = n->n_keys;
    t->keys = enc_sort_keys(a, n);
    t->count = n->count;
    t->offset = n->offset;
    m->kind_case = DQ__V1__NODE__KIND_TOP_N;
    m->top_n = t;
    break;
  }
  case DQ_NODE_UNION: {
    Dq__V1__UnionAll *u = anew(a, sizeof *u);
    if (u == NULL)
      return NULL;
    dq__v1__union_all__init(u);
    size_t ni = dq_node_n_inputs(n);
    u->n_inputs = ni;
    u->inputs = anew(a, (ni ? ni : 1) * sizeof *u->inputs);
    for (size_t i = 0; u->inputs != NULL && i < ni; i++)
      u->inputs[i] = enc_node(a, dq_node_input_at(n, i));
    m->kind_case = DQ__V1__NODE__KIND_UNION_ALL;
    m->union_all = u;
    break;
  }
  case DQ_NODE_READ: {
    Dq__V1__Read *r = anew(a, sizeof *r);
    if (r == NULL)
      return NULL;
    dq__v1__read__init(r);
    r->producer_stage_id = n->producer;
    r->schema = enc_schema(a, n->schema);
    m->kind_case = DQ__V1__NODE__KIND_READ;
    m->read = r;
    break;
  }
  }
  return m;
}

static Dq__V1__Stage *enc_stage(arena *a, const dq_stage *s) {
  Dq__V1__Stage *m = anew(a, sizeof *m);
  if (m == NULL)
    return NULL;
  dq__v1__stage__init(m);
  m->id = s->id;
  m->task_count = s->task_count;
  m->partitions = s->partitions;
  m->root = enc_node(a, s->root);
  if (s->out_kind != DQ_BOUNDARY_NONE) {
    Dq__V1__Boundary *b = anew(a, sizeof *b);
    if (b == NULL)
      return NULL;
    dq__v1__boundary__init(b);
    b->kind = (Dq__V1__BoundaryKind)s->out_kind;
    b->n_key_columns = s->n_keys;
    b->key_columns = s->keys;
    b->consumer_stage_id = s->consumer;
    b->consumer_task_count = s->consumer_tasks;
    b->consumer_partitions = s->consumer_partitions;
    m->output = b;
  }
  return m;
}

static int pack(const ProtobufCMessage *m, uint8_t **buf, size_t *len,
                dq_error *err) {
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *p = malloc(n ? n : 1);
  if (p == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding a plan");
  protobuf_c_message_pack(m, p);
  *buf = p;
  *len = n;
  return 0;
}

static int encode_stages(const dq_stage *const *stages, size_t n,
                         uint8_t **buf, size_t *len, dq_error *err) {
  if (buf == NULL || len == NULL)
    return dq_error_set(err, DQ_EINVAL, "encode: buf or len is NULL");
  *buf = NULL;
  *len = 0;
  arena a = {NULL, false};
  Dq__V1__Plan plan = DQ__V1__PLAN__INIT;
  plan.version = PLAN_VERSION;
  plan.n_stages = n;
  plan.stages = anew(&a, (n ? n : 1) * sizeof *plan.stages);
  for (size_t i = 0; plan.stages != NULL && i < n; i++)
    plan.stages[i] = enc_stage(&a, stages[i]);
  int rc = a.failed ? dq_error_set(err, DQ_ENOMEM, "out of memory encoding a "
                                   "plan")
                    : pack(&plan.base, buf, len, err);
  arena_free(&a);
  return rc;
}

int dq_plan_encode(const dq_plan *p, uint8_t **buf, size_t *len,
                   dq_error *err) {
  if (p == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_encode: the plan is NULL");
  const dq_stage **v = calloc(p->n_stages ? p->n_stages : 1, sizeof *v);
  if (v == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding a plan");
  for (size_t i = 0; i < p->n_stages; i++)
    v[i] = &p->stages[i];
  int rc = encode_stages(v, p->n_stages, buf, len, err);
  free(v);
  return rc;
}

int dq_stage_encode(const dq_stage *s, uint8_t **buf, size_t *len,
                    dq_error *err) {
  if (s == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_stage_encode: the stage is NULL");
  return encode_stages(&s, 1, buf, len, err);
}

int dq_producer_head_encode(const dq_producer_head *h, uint8_t **buf,
                            size_t *len, dq_error *err) {
  if (h == NULL || buf == NULL || len == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_producer_head_encode: an "
                        "argument is NULL");
  Dq__V1__ProducerHead m = DQ__V1__PRODUCER_HEAD__INIT;
  m.kind = (Dq__V1__BoundaryKind)h->kind;
  m.n_key_columns = h->n_keys;
  m.key_columns = h->keys;
  m.partition_count = h->partition_count;
  return pack(&m.base, buf, len, err);
}

/* --- Wire-format pre-check ------------------------------------------------ */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end)
      return false;
    uint8_t b = *(*p)++;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

/* Walks a message's fields; recurses into sub-messages, at most
 * MAX_WIRE_DEPTH deep.  Malformed framing fails here too. */
static int wire_check(const uint8_t *p, const uint8_t *end,
                      const ProtobufCMessageDescriptor *d, int depth,
                      dq_error *err) {
  if (depth > MAX_WIRE_DEPTH)
    return dq_error_set(err, DQ_EPROTO, "the plan nests messages more than "
                        "%d deep", MAX_WIRE_DEPTH);
  while (p < end) {
    uint64_t key, v;
    if (!read_varint(&p, end, &key))
      return dq_error_set(err, DQ_EPROTO, "the plan bytes are truncated or "
                          "malformed (a field key)");
    uint32_t number = (uint32_t)(key >> 3);
    switch (key & 7) {
    case 0:
      if (!read_varint(&p, end, &v))
        return dq_error_set(err, DQ_EPROTO, "the plan bytes are truncated "
                            "(a varint)");
      break;
    case 1:
      if (end - p < 8)
        return dq_error_set(err, DQ_EPROTO, "the plan bytes are truncated "
                            "(a fixed64)");
      p += 8;
      break;
    case 5:
      if (end - p < 4)
        return dq_error_set(err, DQ_EPROTO, "the plan bytes are truncated "
                            "(a fixed32)");
      p += 4;
      break;
    case 2: {
      if (!read_varint(&p, end, &v) || v > (uint64_t)(end - p))
        return dq_error_set(err, DQ_EPROTO, "the plan bytes are truncated "
                            "(a length-delimited field)");
      const ProtobufCFieldDescriptor *f =
          d ? protobuf_c_message_descriptor_get_field(d, number) : NULL;
      if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE) {
        int rc = wire_check(p, p + v, f->descriptor, depth + 1, err);
        if (rc != 0)
          return rc;
      }
      p += v;
      break;
    }
    default:
      return dq_error_set(err, DQ_EPROTO, "the plan bytes use wire type %u, "
                          "which dq does not use", (unsigned)(key & 7));
    }
  }
  return 0;
}

/* --- Decoding ------------------------------------------------------------- */

static int dec_type(const Dq__V1__Type *m, const char *what, dq_type *out,
                    dq_error *err) {
  if (m == NULL)
    return dq_error_set(err, DQ_EINVAL, "%s has no type", what);
  if (m->id < DQ__V1__TYPE_ID__TYPE_BOOL ||
      m->id > DQ__V1__TYPE_ID__TYPE_DECIMAL)
    return dq_error_set(err, DQ_EINVAL, "%s has an unknown type id %d", what,
                        (int)m->id);
  dq_type t = {(dq_type_id)m->id, 0, 0};
  if (t.id == DQ_TYPE_DECIMAL) {
    if (m->precision > 38 || m->scale < 0 || m->scale > 38)
      return dq_error_set(err, DQ_EINVAL, "%s has an invalid decimal(%" PRIu32
                          ",%" PRId32 ") type", what, m->precision, m->scale);
    t.precision = (uint8_t)m->precision;
    t.scale = (int8_t)m->scale;
    dq_error e2;
    if (dq_type_check(t, &e2) != 0)
      return dq_error_set(err, DQ_EINVAL, "%s: %s", what, e2.message);
  }
  *out = t;
  return 0;
}

/* Decoded trees own their children, so they are marked `resolved` for
 * dq_expr_free (they are resolved again, for real, by the node). */
static int dec_literal(const Dq__V1__Literal *l, dq_scalar *lit,
                       dq_error *err) {
  int rc;
  if ((rc = dec_type(l->type, "a literal", &lit->type, err)) != 0)
    return rc;
  lit->is_null = l->is_null;
  if (l->is_null)
    return 0;
  switch (lit->type.id) {
  case DQ_TYPE_BOOL: lit->v.b = l->bool_value; break;
  case DQ_TYPE_INT32:
  case DQ_TYPE_DATE32:
    if (l->int_value < INT32_MIN || l->int_value > INT32_MAX)
      return dq_error_set(err, DQ_EINVAL, "a 32-bit literal holds %" PRId64
                          ", which is out of range", l->int_value);
    lit->v.i32 = (int32_t)l->int_value;
    break;
  case DQ_TYPE_INT64: lit->v.i64 = l->int_value; break;
  case DQ_TYPE_FLOAT64: lit->v.f64 = l->float64_value; break;
  case DQ_TYPE_UTF8: {
    const char *s = l->utf8_value ? l->utf8_value : "";
    lit->len = strlen(s);
    if ((lit->str = strdup(s)) == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
    break;
  }
  case DQ_TYPE_DECIMAL:
    if (l->decimal_value.len != 16)
      return dq_error_set(err, DQ_EINVAL, "a decimal literal has %zu bytes, "
                          "not 16", l->decimal_value.len);
    memcpy(&lit->v.dec, l->decimal_value.data, 16);
    break;
  }
  return 0;
}

static int dec_expr(const Dq__V1__Expr *m, dq_expr **out, dq_error *err) {
  *out = NULL;
  if (m == NULL)
    return dq_error_set(err, DQ_EINVAL, "an expression is missing");
  dq_expr *e = NULL;
  int rc = 0;
  switch (m->kind_case) {
  case DQ__V1__EXPR__KIND_COLUMN:
    if ((e = dq_expr_alloc(DQ_EXPR_COLUMN)) == NULL)
      goto oom;
    e->column = m->column;
    break;
  case DQ__V1__EXPR__KIND_LITERAL:
    if ((e = dq_expr_alloc(DQ_EXPR_LITERAL)) == NULL)
      goto oom;
    rc = dec_literal(m->literal, &e->lit, err);
    break;
  case DQ__V1__EXPR__KIND_CALL: {
    const Dq__V1__Call *c = m->call;
    if ((e = dq_expr_alloc(DQ_EXPR_CALL)) == NULL)
      goto oom;
    e->resolved = true;
    if (!dq_expr_op_valid((int)c->op)) {
      rc = dq_error_set(err, DQ_EINVAL, "an expression has an unknown "
                        "operator %d", (int)c->op);
      break;
    }
    e->op = (dq_expr_op)c->op;
    size_t want = c->n_args;
    if (!dq_expr_op_n_args_ok(e->op, want)) {
      rc = dq_error_set(err, DQ_EINVAL, "operator %s does not take %zu "
                        "arguments", dq_expr_op_name(e->op), want);
      break;
    }
    if ((e->op == DQ_OP_IN) != (c->n_in_list > 0)) {
      rc = dq_error_set(err, DQ_EINVAL, "operator %s has %zu IN values",
                        dq_expr_op_name(e->op), c->n_in_list);
      break;
    }
    if (c->n_in_list > 0) {
      if ((e->list = calloc(c->n_in_list, sizeof *e->list)) == NULL)
        goto oom;
      for (size_t i = 0; i < c->n_in_list && rc == 0; i++) {
        e->n_list = i + 1;
        rc = dec_literal(c->in_list[i], &e->list[i], err);
      }
      if (rc != 0)
        break;
    }
    if (e->op == DQ_OP_CAST &&
        (rc = dec_type(c->cast_type, "a cast", &e->cast_type, err)) != 0)
      break;
    for (size_t i = 0; i < want && rc == 0; i++) {
      rc = dec_expr(c->args[i], &e->args[i], err);
      if (rc == 0)
        e->n_args = i + 1;
    }
    break;
  }
  default:
    rc = dq_error_set(err, DQ_EINVAL, "an expression has no kind");
    break;
  }
  if (e != NULL)
    e->resolved = true;
  if (rc != 0) {
    dq_expr_free(e);
    return rc;
  }
  *out = e;
  return 0;
oom:
  dq_expr_free(e);
  return dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
}

static void free_exprs(dq_expr **v, size_t n) {
  for (size_t i = 0; v != NULL && i < n; i++)
    dq_expr_free(v[i]);
  free(v);
}

static int dec_exprs(Dq__V1__Expr *const *m, size_t n, dq_expr ***out,
                     dq_error *err) {
  dq_expr **v = calloc(n ? n : 1, sizeof *v);
  if (v == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
  for (size_t i = 0; i < n; i++) {
    int rc = dec_expr(m[i], &v[i], err);
    if (rc != 0) {
      free_exprs(v, n);
      return rc;
    }
  }
  *out = v;
  return 0;
}

static int dec_schema(const Dq__V1__Schema *m, dq_schema **out,
                      dq_error *err) {
  if (m == NULL)
    return dq_error_set(err, DQ_EINVAL, "a read has no schema");
  size_t n = m->n_fields;
  const char **names = calloc(n ? n : 1, sizeof *names);
  dq_type *types = calloc(n ? n : 1, sizeof *types);
  bool *nullable = calloc(n ? n : 1, sizeof *nullable);
  int rc = 0;
  if (names == NULL || types == NULL || nullable == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const Dq__V1__Field *f = m->fields[i];
    names[i] = f->name;
    nullable[i] = f->nullable;
    rc = dec_type(f->type, "a schema field", &types[i], err);
  }
  if (rc == 0)
    rc = dq_schema_new(n, names, types, nullable, out, err);
  free(names);
  free(types);
  free(nullable);
  return rc;
}

static int dec_node(const Dq__V1__Node *m, dq_node **out, dq_error *err);

static int dec_input(const Dq__V1__Node *m, const char *what, dq_node **out,
                     dq_error *err) {
  if (m == NULL)
    return dq_error_set(err, DQ_EINVAL, "a %s node has no input", what);
  return dec_node(m, out, err);
}

static int dec_aggregate(const Dq__V1__Aggregate *g, dq_node *input,
                         dq_node **out, dq_error *err) {
  size_t na = g->n_calls;
  dq_agg_func *funcs = calloc(na ? na : 1, sizeof *funcs);
  dq_expr **args = calloc(na ? na : 1, sizeof *args);
  dq_type *types = calloc(na ? na : 1, sizeof *types);
  const char **names = calloc(na ? na : 1, sizeof *names);
  dq_expr **groups = NULL;
  int rc = 0;
  if (funcs == NULL || args == NULL || types == NULL || names == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
    goto done;
  }
  if (g->mode < DQ__V1__AGG_MODE__AGG_MODE_SINGLE ||
      g->mode > DQ__V1__AGG_MODE__AGG_MODE_FINAL) {
    rc = dq_error_set(err, DQ_EINVAL, "an aggregate has an unknown mode %d",
                      (int)g->mode);
    goto done;
  }
  bool final = g->mode == DQ__V1__AGG_MODE__AGG_MODE_FINAL;
  if (final ? g->n_group_exprs != 0 : g->n_group_exprs != g->n_group_names) {
    rc = dq_error_set(err, DQ_EINVAL, "an aggregate has %zu group "
                      "expressions for %zu group names", g->n_group_exprs,
                      g->n_group_names);
    goto done;
  }
  for (size_t i = 0; i < na; i++) {
    const Dq__V1__AggCall *c = g->calls[i];
    if (c->func < DQ__V1__AGG_FUNC__AGG_SUM ||
        c->func > DQ__V1__AGG_FUNC__AGG_AVG) {
      rc = dq_error_set(err, DQ_EINVAL, "aggregate %zu has an unknown "
                        "function %d", i, (int)c->func);
      goto done;
    }
    funcs[i] = (dq_agg_func)c->func;
    names[i] = c->name;
    if (final) {
      if (c->func != DQ__V1__AGG_FUNC__AGG_COUNT_STAR &&
          (rc = dec_type(c->arg_type, "a final aggregate's argument",
                         &types[i], err)) != 0)
        goto done;
    } else if (c->arg != NULL) {
      if ((rc = dec_expr(c->arg, &args[i], err)) != 0)
        goto done;
    }
  }
  if (final) {
    rc = dq_node_new_aggregate_final(input, g->n_group_names,
                                     (const char *const *)g->group_names, na,
                                     funcs, types, names, out, err);
  } else {
    if ((rc = dec_exprs(g->group_exprs, g->n_group_exprs, &groups, err)))
      goto done;
    rc = dq_node_new_aggregate(input, (dq_agg_mode)g->mode, g->n_group_exprs,
                               (const dq_expr *const *)groups,
                               (const char *const *)g->group_names, na, funcs,
                               (const dq_expr *const *)args, names, out, err);
  }
done:
  free_exprs(groups, g->n_group_exprs);
  free_exprs(args, na);
  free(funcs);
  free(types);
  free(names);
  return rc;
}

static int dec_hash_join(const Dq__V1__HashJoin *j, dq_node **out,
                         dq_error *err) {
  dq_node *probe = NULL, *build = NULL;
  dq_expr **pk = NULL, **bk = NULL, *res = NULL;
  int rc = 0;
  if (j->kind < DQ__V1__JOIN_KIND__JOIN_INNER ||
      j->kind > DQ__V1__JOIN_KIND__JOIN_LEFT_ANTI)
    return dq_error_set(err, DQ_EINVAL, "a hash join has an unknown kind %d",
                        (int)j->kind);
  if (j->n_probe_keys != j->n_build_keys)
    return dq_error_set(err, DQ_EINVAL, "a hash join has %zu probe keys and "
                        "%zu build keys", j->n_probe_keys, j->n_build_keys);
  if ((rc = dec_input(j->probe, "hash join", &probe, err)) != 0 ||
      (rc = dec_input(j->build, "hash join", &build, err)) != 0)
    goto done;
  if (j->n_names != dq_schema_n_fields(probe->schema) +
                        dq_schema_n_fields(build->schema)) {
    rc = dq_error_set(err, DQ_EINVAL, "a hash join has %zu names for %zu "
                      "columns", j->n_names,
                      dq_schema_n_fields(probe->schema) +
                          dq_schema_n_fields(build->schema));
    goto done;
  }
  if ((rc = dec_exprs(j->probe_keys, j->n_probe_keys, &pk, err)) != 0 ||
      (rc = dec_exprs(j->build_keys, j->n_build_keys, &bk, err)) != 0)
    goto done;
  if (j->residual != NULL && (rc = dec_expr(j->residual, &res, err)) != 0)
    goto done;
  rc = dq_node_new_hash_join((dq_join_kind)j->kind, probe, build,
                             j->n_probe_keys, (const dq_expr *const *)pk,
                             (const dq_expr *const *)bk, res,
                             (const char *const *)j->names, out, err);
done:
  free_exprs(pk, pk ? j->n_probe_keys : 0);
  free_exprs(bk, bk ? j->n_build_keys : 0);
  dq_expr_free(res);
  dq_node_unref(probe);
  dq_node_unref(build);
  return rc;
}

static int dec_node(const Dq__V1__Node *m, dq_node **out, dq_error *err) {
  *out = NULL;
  dq_node *input = NULL;
  int rc = 0;
  switch (m->kind_case) {
  case DQ__V1__NODE__KIND_SCAN: {
    const Dq__V1__Scan *s = m->scan;
    const dq_source_kind *kind = dq_source_find(s->source);
    if (kind == NULL)
      return dq_error_set(err, DQ_EINVAL, "a scan names data source \"%s\", "
                          "which this libdq does not have", s->source);
    void *state = NULL;
    if ((rc = kind->decode(s->params.data, s->params.len, &state, err)) != 0)
      return rc;
    static const char *const none[1] = {NULL};
    return dq_node_new_scan(kind, state,
                            s->n_columns ? (const char *const *)s->columns
                                         : none,
                            s->n_columns, out, err);
  }
  case DQ__V1__NODE__KIND_FILTER: {
    dq_expr *pred = NULL;
    if ((rc = dec_input(m->filter->input, "filter", &input, err)) == 0 &&
        (rc = dec_expr(m->filter->predicate, &pred, err)) == 0)
      rc = dq_node_new_filter(input, pred, out, err);
    dq_expr_free(pred);
    break;
  }
  case DQ__V1__NODE__KIND_PROJECT: {
    const Dq__V1__Project *p = m->project;
    dq_expr **exprs = NULL;
    if (p->n_exprs != p->n_names) {
      rc = dq_error_set(err, DQ_EINVAL, "a project has %zu expressions for "
                        "%zu names", p->n_exprs, p->n_names);
      break;
    }
    if ((rc = dec_input(p->input, "project", &input, err)) == 0 &&
        (rc = dec_exprs(p->exprs, p->n_exprs, &exprs, err)) == 0)
      rc = dq_node_new_project(input, p->n_exprs,
                               (const dq_expr *const *)exprs,
                               (const char *const *)p->names, out, err);
    free_exprs(exprs, p->n_exprs);
    break;
  }
  case DQ__V1__NODE__KIND_AGGREGATE:
    if ((rc = dec_input(m->aggregate->input, "aggregate", &input, err)) == 0)
      rc = dec_aggregate(m->aggregate, input, out, err);
    break;
  case DQ__V1__NODE__KIND_HASH_JOIN:
    rc = dec_hash_join(m->hash_join, out, err);
    break;
  case DQ__V1__NODE__KIND_UNION_ALL: {
    const Dq__V1__UnionAll *u = m->union_all;
    dq_node **ins = calloc(u->n_inputs ? u->n_inputs : 1, sizeof *ins);
    if (ins == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
    for (size_t i = 0; rc == 0 && i < u->n_inputs; i++)
      rc = dec_input(u->inputs[i], "union", &ins[i], err);
    if (rc == 0)
      rc = dq_node_new_union(u->n_inputs, ins, out, err);
    for (size_t i = 0; ins != NULL && i < u->n_inputs; i++)
      dq_node_unref(ins[i]);
    free(ins);
    break;
  }
  case DQ__V1__NODE__KIND_TOP_N:
  case DQ__V1__NODE__KIND_SORT: {
    bool topn = m->kind_case == DQ__V1__NODE__KIND_TOP_N;
    const Dq__V1__Sort *s = m->sort;
    Dq__V1__Sort as_sort = DQ__V1__SORT__INIT;
    if (topn) {
      as_sort.input = m->top_n->input;
      as_sort.n_keys = m->top_n->n_keys;
      as_sort.keys = m->top_n->keys;
      s = &as_sort;
    }
    size_t n = s->n_keys;
    dq_expr **exprs = calloc(n ? n : 1, sizeof *exprs);
    bool *desc = calloc(n ? n : 1, sizeof *desc);
    bool *nf = calloc(n ? n : 1, sizeof *nf);
    if (exprs == NULL || desc == NULL || nf == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
    for (size_t i = 0; rc == 0 && i < n; i++) {
      desc[i] = s->keys[i]->descending;
      nf[i] = s->keys[i]->nulls_first;
      rc = dec_expr(s->keys[i]->expr, &exprs[i], err);
    }
    if (rc == 0 && (rc = dec_input(s->input, "sort", &input, err)) == 0) {
      if (topn)
        rc = dq_node_new_topn(input, n, (const dq_expr *const *)exprs, desc,
                              nf, m->top_n->count, m->top_n->offset, out,
                              err);
      else
        rc = dq_node_new_sort(input, n, (const dq_expr *const *)exprs, desc,
                              nf, out, err);
    }
    free_exprs(exprs, exprs ? n : 0);
    free(desc);
    free(nf);
    break;
  }
  case DQ__V1__NODE__KIND_LIMIT:
    if ((rc = dec_input(m->limit->input, "limit", &input, err)) == 0)
      rc = dq_node_new_limit(input, m->limit->count, m->limit->offset, out,
                             err);
    break;
  case DQ__V1__NODE__KIND_READ: {
    dq_schema *s = NULL;
    if ((rc = dec_schema(m->read->schema, &s, err)) == 0)
      rc = dq_node_new_read(m->read->producer_stage_id, s, out, err);
    dq_schema_unref(s);
    break;
  }
  default:
    rc = dq_error_set(err, DQ_EINVAL, "a node has no kind");
    break;
  }
  dq_node_unref(input); /* the new node holds its own reference */
  return rc;
}

static int dec_stage(const Dq__V1__Stage *m, dq_stage *s, dq_error *err) {
  memset(s, 0, sizeof *s);
  s->id = m->id;
  s->task_count = m->task_count;
  s->partitions = m->partitions;
  if (m->root == NULL)
    return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has no root node",
                        m->id);
  dq_error e2;
  int rc = dec_node(m->root, &s->root, &e2);
  if (rc != 0)
    return dq_error_set(err, rc, "stage %" PRIu32 ": %s", m->id, e2.message);
  const Dq__V1__Boundary *b = m->output;
  if (b != NULL) {
    if (b->kind < DQ__V1__BOUNDARY_KIND__BOUNDARY_SHUFFLE ||
        b->kind > DQ__V1__BOUNDARY_KIND__BOUNDARY_BROADCAST)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 " has an unknown "
                          "boundary kind %d", m->id, (int)b->kind);
    s->out_kind = (dq_boundary_kind)b->kind;
    s->consumer = b->consumer_stage_id;
    s->consumer_tasks = b->consumer_task_count;
    s->consumer_partitions = b->consumer_partitions;
    if (b->n_key_columns > 0) {
      s->keys = malloc(b->n_key_columns * sizeof *s->keys);
      if (s->keys == NULL)
        return dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
      memcpy(s->keys, b->key_columns, b->n_key_columns * sizeof *s->keys);
      s->n_keys = b->n_key_columns;
    }
    if (s->consumer == 0)
      return dq_error_set(err, DQ_EINVAL, "stage %" PRIu32 "'s boundary "
                          "names no consumer stage", m->id);
  }
  return dq_stage_check(s, err);
}

int dq_plan_decode(const uint8_t *buf, size_t len, dq_plan **out,
                   dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_decode: out is NULL");
  *out = NULL;
  if (buf == NULL && len > 0)
    return dq_error_set(err, DQ_EINVAL, "dq_plan_decode: buf is NULL");
  if (len > MAX_PLAN_BYTES)
    return dq_error_set(err, DQ_ETOOBIG, "a plan of %zu bytes exceeds the "
                        "%u-byte limit", len, MAX_PLAN_BYTES);
  static const uint8_t empty[1];
  if (buf == NULL) /* len == 0: an empty message; keep buf + len defined */
    buf = empty;
  int rc = wire_check(buf, buf + len, &dq__v1__plan__descriptor, 0, err);
  if (rc != 0)
    return rc;
  Dq__V1__Plan *m = dq__v1__plan__unpack(NULL, len, buf);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "the plan bytes (%zu) are not a "
                        "dq.v1.Plan message", len);
  dq_plan *p = NULL;
  if (m->version != PLAN_VERSION) {
    rc = dq_error_set(err, DQ_EINVAL, "the plan has version %" PRIu32 "; "
                      "this build reads version %d", m->version,
                      PLAN_VERSION);
    goto done;
  }
  if (m->n_stages == 0) {
    rc = dq_error_set(err, DQ_EINVAL, "the plan has no stages");
    goto done;
  }
  p = calloc(1, sizeof *p);
  if (p == NULL || (p->stages = calloc(m->n_stages, sizeof *p->stages)) ==
                       NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding a plan");
    goto done;
  }
  bool complete = true;
  for (size_t i = 0; i < m->n_stages; i++) {
    p->n_stages = i + 1;
    if ((rc = dec_stage(m->stages[i], &p->stages[i], err)) != 0)
      goto done;
    complete &= p->stages[i].id == i + 1;
  }
  complete &= p->stages[m->n_stages - 1].out_kind == DQ_BOUNDARY_NONE;
  rc = dq_plan_check(p, complete, err);
done:
  dq__v1__plan__free_unpacked(m, NULL);
  if (rc != 0) {
    dq_plan_free(p);
    return rc;
  }
  *out = p;
  return 0;
}

int dq_producer_head_decode(const uint8_t *buf, size_t len,
                            dq_producer_head *out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_producer_head_decode: out is "
                        "NULL");
  memset(out, 0, sizeof *out);
  if (buf == NULL && len > 0)
    return dq_error_set(err, DQ_EINVAL, "dq_producer_head_decode: buf is "
                        "NULL");
  if (len > MAX_PLAN_BYTES)
    return dq_error_set(err, DQ_ETOOBIG, "a producer head of %zu bytes is "
                        "too large", len);
  static const uint8_t empty[1];
  if (buf == NULL) /* len == 0: keep buf + len defined */
    buf = empty;
  int rc = wire_check(buf, buf + len, &dq__v1__producer_head__descriptor, 0,
                      err);
  if (rc != 0)
    return rc;
  Dq__V1__ProducerHead *m = dq__v1__producer_head__unpack(NULL, len, buf);
  if (m == NULL)
    return dq_error_set(err, DQ_EPROTO, "the producer head bytes are not a "
                        "dq.v1.ProducerHead message");
  if (m->kind < DQ__V1__BOUNDARY_KIND__BOUNDARY_SHUFFLE ||
      m->kind > DQ__V1__BOUNDARY_KIND__BOUNDARY_BROADCAST)
    rc = dq_error_set(err, DQ_EINVAL, "the producer head has an unknown "
                      "kind %d", (int)m->kind);
  else if (m->kind == DQ__V1__BOUNDARY_KIND__BOUNDARY_SHUFFLE &&
           (m->n_key_columns == 0 || m->partition_count == 0))
    rc = dq_error_set(err, DQ_EINVAL, "a shuffle producer head needs key "
                      "columns and a partition count");
  else if (m->kind != DQ__V1__BOUNDARY_KIND__BOUNDARY_SHUFFLE &&
           m->n_key_columns != 0)
    rc = dq_error_set(err, DQ_EINVAL, "only a shuffle producer head has key "
                      "columns");
  if (rc == 0) {
    out->kind = (dq_boundary_kind)m->kind;
    out->partition_count = m->partition_count;
    if (m->n_key_columns > 0) {
      out->keys = malloc(m->n_key_columns * sizeof *out->keys);
      if (out->keys == NULL)
        rc = dq_error_set(err, DQ_ENOMEM, "out of memory decoding a producer "
                          "head");
      else {
        memcpy(out->keys, m->key_columns, m->n_key_columns * sizeof *out->keys);
        out->n_keys = m->n_key_columns;
      }
    }
  }
  dq__v1__producer_head__free_unpacked(m, NULL);
  return rc;
}
