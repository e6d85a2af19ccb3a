/* binder.c — from parse-tree expressions to bound expressions (sx): names
 * resolved against the scopes (with the closest names offered when one is
 * unknown), literals typed (a string compared with a date is a date, date
 * +/- interval folded when both are constants), aggregates and subqueries
 * marked; and from bound expressions to plan expressions (<dq/plan.h>).
 * Also the statement's arena and its errors (see binder.h). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "binder.h"

/* --- Arena and errors -------------------------------------------------------*/

void *sa_alloc(sctx *c, size_t n) {
  if (c->n_blocks == c->cap_blocks) {
    size_t cap = c->cap_blocks ? 2 * c->cap_blocks : 64;
    void **g = realloc(c->blocks, cap * sizeof *g);
    if (g == NULL)
      sfail(c, -1, DQ_ENOMEM, "out of memory");
    c->blocks = g;
    c->cap_blocks = cap;
  }
  void *p = calloc(1, n ? n : 1);
  if (p == NULL)
    sfail(c, -1, DQ_ENOMEM, "out of memory");
  c->blocks[c->n_blocks++] = p;
  return p;
}

void *sa_grow(sctx *c, void *old, size_t n_old, size_t elem) {
  /* Doubling on powers of two: callers grow one element at a time. */
  if (n_old != 0 && (n_old & (n_old - 1)) != 0)
    return old;
  void *p = sa_alloc(c, (n_old ? 2 * n_old : 4) * elem);
  if (old != NULL)
    memcpy(p, old, n_old * elem);
  return p;
}

char *sa_strdup(sctx *c, const char *s) {
  size_t n = strlen(s) + 1;
  char *d = sa_alloc(c, n);
  memcpy(d, s, n);
  return d;
}

char *sa_lower(sctx *c, const char *s) {
  char *d = sa_strdup(c, s);
  for (char *p = d; *p; p++)
    *p = (char)tolower((unsigned char)*p);
  return d;
}

void sfail(sctx *c, int loc, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sql_error_atv(c->err, code, c->src, loc, fmt, ap);
  va_end(ap);
  longjmp(c->jb, 1);
}

dq_node *scheck(sctx *c, dq_node *n, int loc) {
  if (n == NULL) {
    dq_error e;
    dq_error_clear(&e);
    int code = dq_plan_builder_error(c->b, &e);
    sfail(c, loc, code < 0 ? code : DQ_EINTERNAL, "%s",
          code < 0 ? e.message : "the plan builder failed");
  }
  return n;
}

const char *unique_iname(sctx *c, const char *name) {
  char buf[200];
  snprintf(buf, sizeof buf, "%s", name);
  for (int k = 2;; k++) {
    bool taken = false;
    for (size_t i = 0; i < c->n_inames && !taken; i++)
      taken = strcmp(c->inames[i], buf) == 0;
    if (!taken)
      break;
    snprintf(buf, sizeof buf, "%s_%d", name, k);
  }
  c->inames = sa_grow(c, c->inames, c->n_inames, sizeof *c->inames);
  const char *d = sa_strdup(c, buf);
  c->inames[c->n_inames++] = d;
  return d;
}

/* --- sx helpers -------------------------------------------------------------*/

sx *sx_new(sctx *c, sx_kind k, int loc) {
  sx *e = sa_alloc(c, sizeof *e);
  e->kind = k;
  e->loc = loc;
  return e;
}

void sx_add_arg(sctx *c, sx *e, sx *a) {
  e->args = sa_grow(c, e->args, e->n_args, sizeof *e->args);
  e->args[e->n_args++] = a;
  e->rels |= a->rels;
  e->has_outer |= a->has_outer;
  e->has_agg |= a->has_agg;
  e->has_subq |= a->has_subq;
}

sx *sx_col(sctx *c, sql_col *col, int loc) {
  sx *e = sx_new(c, SX_COL, loc);
  e->col = col;
  e->type = col->type;
  if (col->item >= 0 && col->item < 64)
    e->rels = UINT64_C(1) << col->item;
  return e;
}

static bool is_int(dq_type t) {
  return t.id == DQ_TYPE_INT32 || t.id == DQ_TYPE_INT64;
}
static bool is_num(dq_type t) {
  return is_int(t) || t.id == DQ_TYPE_DECIMAL || t.id == DQ_TYPE_FLOAT64;
}

/* Where two types meet (a rough model of the executor's rules, enough for
 * the binder's choices: the executor decides the exact type). */
dq_type sx_type_meet(dq_type a, dq_type b) {
  if (a.id == 0)
    return b;
  if (b.id == 0)
    return a;
  if (a.id == DQ_TYPE_FLOAT64 || b.id == DQ_TYPE_FLOAT64)
    return (dq_type){DQ_TYPE_FLOAT64, 0, 0};
  if (a.id == DQ_TYPE_DECIMAL || b.id == DQ_TYPE_DECIMAL) {
    int sa = a.id == DQ_TYPE_DECIMAL ? a.scale : 0;
    int sb = b.id == DQ_TYPE_DECIMAL ? b.scale : 0;
    return (dq_type){DQ_TYPE_DECIMAL, 38, (int8_t)(sa > sb ? sa : sb)};
  }
  if (a.id == DQ_TYPE_INT64 || b.id == DQ_TYPE_INT64)
    return (dq_type){DQ_TYPE_INT64, 0, 0};
  return a;
}

bool sx_equal(const sx *a, const sx *b) {
  if (a == b)
    return true;
  if (a->kind != b->kind || a->op != b->op || a->n_args != b->n_args ||
      a->distinct != b->distinct || a->has_else != b->has_else)
    return false;
  switch (a->kind) {
  case SX_COL:
    return a->col == b->col;
  case SX_CONST:
    if (a->v.kind != b->v.kind)
      return false;
    switch (a->v.kind) {
    case CV_DEC:
    case CV_STR:
      return strcmp(a->v.s, b->v.s) == 0;
    case CV_FLOAT:
      return a->v.f == b->v.f;
    case CV_INTERVAL:
      return a->v.months == b->v.months && a->v.days == b->v.days;
    default:
      return a->v.i == b->v.i && a->v.b == b->v.b;
    }
  case SX_LIKE:
    if (strcmp(a->pattern, b->pattern) != 0)
      return false;
    break;
  case SX_CAST:
    if (a->type.id != b->type.id || a->type.precision != b->type.precision ||
        a->type.scale != b->type.scale)
      return false;
    break;
  case SX_SUBQ:
    return false;
  default:
    break;
  }
  for (size_t i = 0; i < a->n_args; i++)
    if (!sx_equal(a->args[i], b->args[i]))
      return false;
  return true;
}

/* --- Names ------------------------------------------------------------------*/

static const char *str_of(const pgnode *n) {
  return n != NULL && n->node_case == PG_QUERY__NODE__NODE_STRING
             ? n->string->sval
             : NULL;
}

const char *sx_name(const pgnode *n) {
  switch (n->node_case) {
  case PG_QUERY__NODE__NODE_COLUMN_REF: {
    const PgQuery__ColumnRef *r = n->column_ref;
    const char *s = r->n_fields ? str_of(r->fields[r->n_fields - 1]) : NULL;
    return s ? s : "?column?";
  }
  case PG_QUERY__NODE__NODE_FUNC_CALL: {
    const PgQuery__FuncCall *f = n->func_call;
    const char *s = str_of(f->funcname[f->n_funcname - 1]);
    if (s && strcmp(s, "date_part") == 0)
      return "extract";
    return s ? s : "?column?";
  }
  case PG_QUERY__NODE__NODE_TYPE_CAST:
    if (n->type_cast->arg->node_case == PG_QUERY__NODE__NODE_A_CONST) {
      const PgQuery__TypeName *t = n->type_cast->type_name;
      const char *s = t->n_names ? str_of(t->names[t->n_names - 1]) : NULL;
      return s ? s : "?column?";
    }
    return sx_name(n->type_cast->arg);
  case PG_QUERY__NODE__NODE_CASE_EXPR:
    return "case";
  case PG_QUERY__NODE__NODE_SUB_LINK:
    return n->sub_link->sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK
               ? "exists"
               : "?column?";
  default:
    return "?column?";
  }
}

static int node_loc(const pgnode *n) {
  switch (n->node_case) {
  case PG_QUERY__NODE__NODE_COLUMN_REF:
    return n->column_ref->location;
  case PG_QUERY__NODE__NODE_A_EXPR:
    return n->a_expr->location;
  case PG_QUERY__NODE__NODE_A_CONST:
    return n->a_const->location;
  case PG_QUERY__NODE__NODE_FUNC_CALL:
    return n->func_call->location;
  case PG_QUERY__NODE__NODE_BOOL_EXPR:
    return n->bool_expr->location;
  case PG_QUERY__NODE__NODE_SUB_LINK:
    return n->sub_link->location;
  case PG_QUERY__NODE__NODE_TYPE_CAST:
    return n->type_cast->location;
  case PG_QUERY__NODE__NODE_CASE_EXPR:
    return n->case_expr->location;
  case PG_QUERY__NODE__NODE_NULL_TEST:
    return n->null_test->location;
  default:
    return -1;
  }
}

/* Resolves [qual.]name in the scopes, innermost first. */
static sx *bind_column(sctx *c, scope *sc, const PgQuery__ColumnRef *r) {
  const char *qual = NULL, *name = NULL;
  if (r->n_fields == 1) {
    name = str_of(r->fields[0]);
  } else if (r->n_fields == 2) {
    qual = str_of(r->fields[0]);
    name = str_of(r->fields[1]);
    if (r->fields[1]->node_case == PG_QUERY__NODE__NODE_A_STAR)
      sfail(c, r->location, DQ_EUNSUPPORTED,
            "%s.* is allowed only in the select list", qual ? qual : "");
  }
  if (name == NULL)
    sfail(c, r->location, DQ_EUNSUPPORTED,
          "this column reference form is not supported (use name or "
          "table.name)");
  int up = 0;
  bool qual_seen = false;
  for (scope *s = sc; s != NULL; s = s->outer, up++) {
    sql_col *found = NULL;
    for (size_t i = 0; i < s->n; i++) {
      sql_col *col = s->cols[i];
      if (qual != NULL) {
        if (col->qual == NULL || strcasecmp(col->qual, qual) != 0)
          continue;
        qual_seen = true;
      }
      if (strcasecmp(col->name, name) != 0)
        continue;
      if (found != NULL && found != col)
        sfail(c, r->location, DQ_EINVAL,
              "column reference \"%s\" is ambiguous (qualify it: %s.%s or "
              "%s.%s)",
              name, found->qual ? found->qual : "?", name,
              col->qual ? col->qual : "?", name);
      found = col;
    }
    if (found != NULL) {
      found->used = true;
      sx *e = sx_col(c, found, r->location);
      e->outer = up;
      if (up > 0) {
        e->rels = 0;
        e->has_outer = true;
      }
      return e;
    }
  }
  /* Unknown: offer the closest names in reach. */
  size_t n = 0;
  for (scope *s = sc; s != NULL; s = s->outer)
    n += s->n;
  const char **cands = sa_alloc(c, (n + 1) * sizeof *cands);
  size_t k = 0;
  for (scope *s = sc; s != NULL; s = s->outer)
    for (size_t i = 0; i < s->n; i++)
      if (qual == NULL || (s->cols[i]->qual != NULL &&
                           strcasecmp(s->cols[i]->qual, qual) == 0))
        cands[k++] = s->cols[i]->name;
  if (qual != NULL && !qual_seen) {
    size_t nq = 0;
    const char **quals = sa_alloc(c, (n + 1) * sizeof *quals);
    for (scope *s = sc; s != NULL; s = s->outer)
      for (size_t i = 0; i < s->n; i++)
        if (s->cols[i]->qual != NULL)
          quals[nq++] = s->cols[i]->qual;
    const char *close = sql_closest(qual, quals, nq);
    if (close)
      sfail(c, r->location, DQ_ENOENT,
            "missing FROM-clause entry for table \"%s\" (did you mean "
            "\"%s\"?)",
            qual, close);
    sfail(c, r->location, DQ_ENOENT, "missing FROM-clause entry for table "
                                     "\"%s\"", qual);
  }
  const char *close = sql_closest(name, cands, k);
  if (close)
    sfail(c, r->location, DQ_ENOENT,
          "column \"%s\" does not exist (did you mean \"%s\"?)", name, close);
  sfail(c, r->location, DQ_ENOENT, "column \"%s\" does not exist", name);
}

/* --- Literals ---------------------------------------------------------------*/

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool parse_date(const char *s, int64_t *days) {
  int y, m, d;
  char tail;
  if (sscanf(s, "%d-%d-%d%c", &y, &m, &d, &tail) != 3)
    return false;
  if (m < 1 || m > 12 || d < 1 || d > 31 || y < 1 || y > 9999)
    return false;
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
    return false;
  *days = days_from_civil(y, (unsigned)m, (unsigned)d);
  return true;
}

/* date + interval, PostgreSQL's way: months first (the day clamped to the
 * month's end), then days. */
static int64_t add_interval(int64_t days, int32_t months, int32_t ddays) {
  if (months != 0) {
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    int64_t total = y * 12 + (m - 1) + months;
    y = total >= 0 ? total / 12 : (total - 11) / 12;
    m = (unsigned)(total - y * 12) + 1;
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
    unsigned last = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
      last = 29;
    if (d > last)
      d = last;
    days = days_from_civil(y, m, d);
  }
  return days + ddays;
}

static sx *const_sx(sctx *c, cval v, int loc) {
  sx *e = sx_new(c, SX_CONST, loc);
  e->v = v;
  switch (v.kind) {
  case CV_BOOL:
    e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
    break;
  case CV_INT:
    e->type = (dq_type){v.i >= INT32_MIN && v.i <= INT32_MAX ? DQ_TYPE_INT32
                                                             : DQ_TYPE_INT64,
                        0, 0};
    break;
  case CV_DEC: {
    const char *dot = strchr(v.s, '.');
    int sc = dot ? (int)strlen(dot + 1) : 0;
    e->type = (dq_type){DQ_TYPE_DECIMAL, 38, (int8_t)sc};
    break;
  }
  case CV_FLOAT:
    e->type = (dq_type){DQ_TYPE_FLOAT64, 0, 0};
    break;
  case CV_STR:
    e->type = (dq_type){DQ_TYPE_UTF8, 0, 0};
    break;
  case CV_DATE:
    e->type = (dq_type){DQ_TYPE_DATE32, 0, 0};
    break;
  default:
    break; /* NULL and INTERVAL have no plan type of their own */
  }
  return e;
}

static sx *bind_aconst(sctx *c, const PgQuery__AConst *k) {
  cval v = {0};
  if (k->isnull) {
    v.kind = CV_NULL;
    return const_sx(c, v, k->location);
  }
  switch (k->val_case) {
  case PG_QUERY__A__CONST__VAL_IVAL:
    v.kind = CV_INT;
    v.i = k->ival->ival;
    break;
  case PG_QUERY__A__CONST__VAL_FVAL: {
    /* PostgreSQL's numeric literals: exact decimals unless an exponent
     * makes them floating point; big integers arrive here too. */
    const char *t = k->fval->fval;
    if (strpbrk(t, "eE") != NULL) {
      v.kind = CV_FLOAT;
      v.f = strtod(t, NULL);
    } else if (strchr(t, '.') == NULL) {
      errno = 0;
      long long i = strtoll(t, NULL, 10);
      if (errno != 0)
        sfail(c, k->location, DQ_EINVAL, "integer literal %s is out of range",
              t);
      v.kind = CV_INT;
      v.i = i;
    } else {
      /* ".06" -> "0.06" for dq_expr_decimal. */
      v.kind = CV_DEC;
      if (t[0] == '.') {
        char *d = sa_alloc(c, strlen(t) + 2);
        d[0] = '0';
        strcpy(d + 1, t);
        v.s = d;
      } else {
        v.s = sa_strdup(c, t);
      }
      size_t digits = 0;
      for (const char *p = v.s; *p; p++)
        digits += isdigit((unsigned char)*p) != 0;
      if (digits > 38)
        sfail(c, k->location, DQ_EINVAL,
              "numeric literal %s has more than 38 digits", t);
    }
    break;
  }
  case PG_QUERY__A__CONST__VAL_BOOLVAL:
    v.kind = CV_BOOL;
    v.b = k->boolval->boolval;
    break;
  case PG_QUERY__A__CONST__VAL_SVAL:
    v.kind = CV_STR;
    v.s = sa_strdup(c, k->sval->sval);
    break;
  default:
    sfail(c, k->location, DQ_EUNSUPPORTED, "bit-string literals are not "
                                           "supported");
  }
  return const_sx(c, v, k->location);
}

/* interval 'N' unit, interval 'N unit', interval 'N' day (3). */
static sx *bind_interval(sctx *c, const PgQuery__TypeCast *tc, const char *text) {
  const PgQuery__TypeName *t = tc->type_name;
  char *end;
  errno = 0;
  long n = strtol(text, &end, 10);
  if (end == text || errno != 0 || n > 1000000 || n < -1000000)
    sfail(c, tc->location, DQ_EINVAL, "invalid interval '%s'", text);
  while (isspace((unsigned char)*end))
    end++;
  /* The unit: from the text, else from the typmod mask (PostgreSQL's
   * INTERVAL_MASK: MONTH 2, YEAR 4, DAY 8). */
  int mask = 0;
  if (t->n_typmods > 0 &&
      t->typmods[0]->node_case == PG_QUERY__NODE__NODE_A_CONST &&
      t->typmods[0]->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
    mask = t->typmods[0]->a_const->ival->ival;
  cval v = {.kind = CV_INTERVAL};
  if (*end != '\0') {
    if (strncasecmp(end, "year", 4) == 0)
      mask = 4;
    else if (strncasecmp(end, "mon", 3) == 0)
      mask = 2;
    else if (strncasecmp(end, "day", 3) == 0)
      mask = 8;
    else
      sfail(c, tc->location, DQ_EUNSUPPORTED,
            "interval unit in '%s' is not supported (year, month, day)", text);
  }
  if (mask == 4)
    v.months = (int32_t)n * 12;
  else if (mask == 2)
    v.months = (int32_t)n;
  else if (mask == 8 || mask == 0)
    v.days = (int32_t)n;
  else
    sfail(c, tc->location, DQ_EUNSUPPORTED,
          "only year, month and day intervals are supported");
  return const_sx(c, v, tc->location);
}

static sx *cast_to(sctx *c, sx *e, dq_type to, int loc) {
  if (e->kind == SX_CONST && e->v.kind == CV_STR) {
    cval v = {0};
    if (to.id == DQ_TYPE_DATE32) {
      v.kind = CV_DATE;
      if (!parse_date(e->v.s, &v.i))
        sfail(c, e->loc, DQ_EINVAL, "invalid date '%s' (expected YYYY-MM-DD)",
              e->v.s);
      return const_sx(c, v, e->loc);
    }
    if (to.id == DQ_TYPE_UTF8)
      return e;
  }
  if (e->kind == SX_CONST && e->v.kind == CV_NULL) {
    sx *n = sx_new(c, SX_CONST, e->loc);
    n->v = e->v;
    n->type = to;
    return n;
  }
  if (e->type.id == to.id && to.id != DQ_TYPE_DECIMAL)
    return e;
  sx *r = sx_new(c, SX_CAST, loc);
  r->type = to;
  sx_add_arg(c, r, e);
  return r;
}

static sx *bind_cast(sctx *c, scope *sc, const PgQuery__TypeCast *tc,
                     bool allow_agg) {
  const PgQuery__TypeName *t = tc->type_name;
  const char *tn = t->n_names ? str_of(t->names[t->n_names - 1]) : NULL;
  if (tn != NULL && strcmp(tn, "interval") == 0) {
    const pgnode *a = tc->arg;
    if (a->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        a->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL)
      return bind_interval(c, tc, a->a_const->sval->sval);
    sfail(c, tc->location, DQ_EUNSUPPORTED,
          "only interval literals are supported (interval '3' month)");
  }
  dq_type to;
  if (sql_type_from_name(t, &to) < 0)
    sfail(c, tc->location, DQ_EUNSUPPORTED,
          "type %s is not supported (dq has boolean, integer, bigint, double "
          "precision, decimal(p,s), date, varchar/text)",
          tn ? tn : "?");
  sx *e = bind_expr(c, sc, tc->arg, allow_agg);
  return cast_to(c, e, to, tc->location);
}

/* --- Operators --------------------------------------------------------------*/

/* A string constant meets a date as a date (o_orderdate < '1995-03-15'). */
static void coerce_pair(sctx *c, sx **a, sx **b) {
  if ((*a)->type.id == DQ_TYPE_DATE32 && (*b)->kind == SX_CONST &&
      (*b)->v.kind == CV_STR)
    *b = cast_to(c, *b, (*a)->type, (*b)->loc);
  else if ((*b)->type.id == DQ_TYPE_DATE32 && (*a)->kind == SX_CONST &&
           (*a)->v.kind == CV_STR)
    *a = cast_to(c, *a, (*b)->type, (*a)->loc);
}

static const char *type_word(dq_type t) {
  switch (t.id) {
  case DQ_TYPE_BOOL:
    return "boolean";
  case DQ_TYPE_INT32:
  case DQ_TYPE_INT64:
    return "integer";
  case DQ_TYPE_FLOAT64:
    return "double";
  case DQ_TYPE_DECIMAL:
    return "decimal";
  case DQ_TYPE_UTF8:
    return "text";
  case DQ_TYPE_DATE32:
    return "date";
  default:
    return "unknown";
  }
}

static sx *make_bin(sctx *c, int op, sx *l, sx *r, int loc, const char *opname) {
  coerce_pair(c, &l, &r);
  /* Interval arithmetic: folded on constants, days on columns. */
  if (l->kind == SX_CONST && l->v.kind == CV_INTERVAL) {
    if (op == OP_ADD) {
      sx *t = l;
      l = r;
      r = t;
    } else {
      sfail(c, loc, DQ_EUNSUPPORTED, "an interval can only be added to or "
                                     "subtracted from a date");
    }
  }
  if (r->kind == SX_CONST && r->v.kind == CV_INTERVAL) {
    if ((op != OP_ADD && op != OP_SUB) || l->type.id != DQ_TYPE_DATE32)
      sfail(c, loc, DQ_EUNSUPPORTED, "an interval can only be added to or "
                                     "subtracted from a date");
    int sign = op == OP_ADD ? 1 : -1;
    if (l->kind == SX_CONST && l->v.kind == CV_DATE) {
      cval v = {.kind = CV_DATE};
      v.i = add_interval(l->v.i, sign * r->v.months, sign * r->v.days);
      return const_sx(c, v, l->loc);
    }
    if (r->v.months != 0)
      sfail(c, loc, DQ_EUNSUPPORTED,
            "adding months or years to a date column is not supported (only "
            "days; constant dates are folded)");
    cval d = {.kind = CV_INT, .i = r->v.days};
    r = const_sx(c, d, r->loc);
  }
  sx *e = sx_new(c, SX_BIN, loc);
  e->op = op;
  sx_add_arg(c, e, l);
  sx_add_arg(c, e, r);
  dq_type lt = l->type, rt = r->type;
  bool lnull = l->kind == SX_CONST && l->v.kind == CV_NULL;
  bool rnull = r->kind == SX_CONST && r->v.kind == CV_NULL;
  if (op >= OP_EQ) {
    bool ok = lnull || rnull || (is_num(lt) && is_num(rt)) || lt.id == rt.id;
    if (!ok)
      sfail(c, loc, DQ_EINVAL, "cannot compare %s with %s (operator %s)",
            type_word(lt), type_word(rt), opname);
    e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
    return e;
  }
  if (lt.id == DQ_TYPE_DATE32 && is_int(rt) && (op == OP_ADD || op == OP_SUB))
    e->type = lt;
  else if (lt.id == DQ_TYPE_DATE32 && rt.id == DQ_TYPE_DATE32 && op == OP_SUB)
    e->type = (dq_type){DQ_TYPE_INT32, 0, 0};
  else if (is_int(lt) && rt.id == DQ_TYPE_DATE32 && op == OP_ADD)
    e->type = rt;
  else if ((is_num(lt) || lnull) && (is_num(rt) || rnull))
    e->type = sx_type_meet(lt, rt);
  else
    sfail(c, loc, DQ_EINVAL, "operator %s does not apply to %s and %s",
          opname, type_word(lt), type_word(rt));
  return e;
}

static int op_of(const char *name) {
  static const struct {
    const char *n;
    int op;
  } ops[] = {{"+", OP_ADD}, {"-", OP_SUB}, {"*", OP_MUL}, {"/", OP_DIV},
             {"=", OP_EQ},  {"<>", OP_NE}, {"!=", OP_NE}, {"<", OP_LT},
             {"<=", OP_LE}, {">", OP_GT},  {">=", OP_GE}};
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (strcmp(ops[i].n, name) == 0)
      return ops[i].op;
  return 0;
}

static sx *make_bool(sctx *c, sx_kind k, sx *a, sx *b, int loc) {
  sx *e = sx_new(c, k, loc);
  e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
  sx_add_arg(c, e, a);
  if (b)
    sx_add_arg(c, e, b);
  return e;
}

static void want_bool(sctx *c, const sx *e, const char *what) {
  if (e->type.id != DQ_TYPE_BOOL &&
      !(e->kind == SX_CONST && e->v.kind == CV_NULL))
    sfail(c, e->loc, DQ_EINVAL, "argument of %s must be boolean, not %s", what,
          type_word(e->type));
}

static sx *bind_list_in(sctx *c, scope *sc, const PgQuery__AExpr *a, sx *x,
                        bool negated, bool allow_agg) {
  const pgnode *r = a->rexpr;
  if (r == NULL || r->node_case != PG_QUERY__NODE__NODE_LIST)
    sfail(c, a->location, DQ_EUNSUPPORTED, "IN needs a list of values");
  sx *e = sx_new(c, SX_IN, a->location);
  e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
  sx_add_arg(c, e, x);
  for (size_t i = 0; i < r->list->n_items; i++) {
    sx *v = bind_expr(c, sc, r->list->items[i], allow_agg);
    sx *xx = x;
    coerce_pair(c, &xx, &v);
    if (v->kind != SX_CONST)
      sfail(c, v->loc, DQ_EUNSUPPORTED,
            "IN lists take constants only (write the comparisons with OR)");
    if (!(v->v.kind == CV_NULL || (is_num(x->type) && is_num(v->type)) ||
          x->type.id == v->type.id))
      sfail(c, v->loc, DQ_EINVAL, "IN: cannot compare %s with %s",
            type_word(x->type), type_word(v->type));
    sx_add_arg(c, e, v);
  }
  return negated ? make_bool(c, SX_NOT, e, NULL, a->location) : e;
}

static sx *bind_aexpr(sctx *c, scope *sc, const PgQuery__AExpr *a,
                      bool allow_agg) {
  const char *opname = a->n_name ? str_of(a->name[a->n_name - 1]) : "";
  if (opname == NULL)
    opname = "";
  switch (a->kind) {
  case PG_QUERY__A__EXPR__KIND__AEXPR_OP: {
    int op = op_of(opname);
    if (op == 0)
      sfail(c, a->location, DQ_EUNSUPPORTED, "operator %s is not supported",
            opname);
    if (a->lexpr == NULL) { /* unary */
      sx *x = bind_expr(c, sc, a->rexpr, allow_agg);
      if (op == OP_ADD)
        return x;
      if (op != OP_SUB)
        sfail(c, a->location, DQ_EUNSUPPORTED, "unary %s is not supported",
              opname);
      if (x->kind == SX_CONST && (x->v.kind == CV_INT || x->v.kind == CV_FLOAT ||
                                  x->v.kind == CV_DEC)) {
        cval v = x->v;
        if (v.kind == CV_INT)
          v.i = -v.i;
        else if (v.kind == CV_FLOAT)
          v.f = -v.f;
        else {
          char *d = sa_alloc(c, strlen(v.s) + 2);
          if (v.s[0] == '-')
            strcpy(d, v.s + 1);
          else {
            d[0] = '-';
            strcpy(d + 1, v.s);
          }
          v.s = d;
        }
        return const_sx(c, v, a->location);
      }
      if (!is_num(x->type))
        sfail(c, a->location, DQ_EINVAL, "cannot negate %s", type_word(x->type));
      sx *e = sx_new(c, SX_NEG, a->location);
      e->type = x->type;
      sx_add_arg(c, e, x);
      return e;
    }
    sx *l = bind_expr(c, sc, a->lexpr, allow_agg);
    sx *r = bind_expr(c, sc, a->rexpr, allow_agg);
    return make_bin(c, op, l, r, a->location, opname);
  }
  case PG_QUERY__A__EXPR__KIND__AEXPR_IN: {
    sx *x = bind_expr(c, sc, a->lexpr, allow_agg);
    return bind_list_in(c, sc, a, x, strcmp(opname, "<>") == 0, allow_agg);
  }
  case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE: {
    sx *x = bind_expr(c, sc, a->lexpr, allow_agg);
    sx *p = bind_expr(c, sc, a->rexpr, allow_agg);
    if (p->kind != SX_CONST || p->v.kind != CV_STR)
      sfail(c, node_loc(a->rexpr), DQ_EUNSUPPORTED,
            "LIKE takes a constant pattern");
    if (x->type.id != DQ_TYPE_UTF8)
      sfail(c, a->location, DQ_EINVAL, "LIKE needs text, not %s",
            type_word(x->type));
    if (strchr(p->v.s, '\\') != NULL)
      sfail(c, node_loc(a->rexpr), DQ_EUNSUPPORTED,
            "LIKE patterns with escapes ('\\') are not supported");
    sx *e = sx_new(c, SX_LIKE, a->location);
    e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
    e->pattern = p->v.s;
    sx_add_arg(c, e, x);
    return strcmp(opname, "!~~") == 0 ? make_bool(c, SX_NOT, e, NULL, a->location)
                                      : e;
  }
  case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
  case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN: {
    const pgnode *r = a->rexpr;
    if (r == NULL || r->node_case != PG_QUERY__NODE__NODE_LIST ||
        r->list->n_items != 2)
      sfail(c, a->location, DQ_EINVAL, "BETWEEN needs two bounds");
    sx *x = bind_expr(c, sc, a->lexpr, allow_agg);
    sx *lo = bind_expr(c, sc, r->list->items[0], allow_agg);
    sx *hi = bind_expr(c, sc, r->list->items[1], allow_agg);
    sx *e = make_bool(c, SX_AND, make_bin(c, OP_GE, x, lo, a->location, ">="),
                      make_bin(c, OP_LE, x, hi, a->location, "<="),
                      a->location);
    return a->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN
               ? make_bool(c, SX_NOT, e, NULL, a->location)
               : e;
  }
  case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF: {
    /* NULLIF(a, b) = CASE WHEN a = b THEN NULL ELSE a END */
    sx *l = bind_expr(c, sc, a->lexpr, allow_agg);
    sx *r = bind_expr(c, sc, a->rexpr, allow_agg);
    sx *e = sx_new(c, SX_CASE, a->location);
    e->has_else = true;
    sx_add_arg(c, e, make_bin(c, OP_EQ, l, r, a->location, "="));
    cval nv = {.kind = CV_NULL};
    sx *n = const_sx(c, nv, a->location);
    n->type = l->type;
    sx_add_arg(c, e, n);
    sx_add_arg(c, e, l);
    e->type = l->type;
    return e;
  }
  default:
    sfail(c, a->location, DQ_EUNSUPPORTED,
          "this operator form (%s) is not supported", opname);
  }
}

static const struct {
  const char *name;
  dq_agg_func f;
} agg_names[] = {{"sum", DQ_AGG_SUM}, {"count", DQ_AGG_COUNT},
                 {"min", DQ_AGG_MIN}, {"max", DQ_AGG_MAX},
                 {"avg", DQ_AGG_AVG}};

static sx *bind_func(sctx *c, scope *sc, const PgQuery__FuncCall *f,
                     bool allow_agg) {
  const char *name = str_of(f->funcname[f->n_funcname - 1]);
  if (name == NULL)
    sfail(c, f->location, DQ_EUNSUPPORTED, "this function call is not "
                                           "supported");
  if (f->over != NULL)
    sfail(c, f->location, DQ_EUNSUPPORTED, "window functions (%s OVER ...) "
                                           "are not supported", name);
  for (size_t i = 0; i < sizeof agg_names / sizeof agg_names[0]; i++) {
    if (strcasecmp(name, agg_names[i].name) != 0)
      continue;
    if (!allow_agg)
      sfail(c, f->location, DQ_EINVAL,
            "aggregate function %s is not allowed here", name);
    if (f->agg_filter != NULL || f->n_agg_order > 0)
      sfail(c, f->location, DQ_EUNSUPPORTED,
            "FILTER and ORDER BY inside aggregates are not supported");
    sx *e = sx_new(c, SX_AGG, f->location);
    e->op = agg_names[i].f;
    e->distinct = f->agg_distinct;
    if (f->agg_star) {
      if (e->op != DQ_AGG_COUNT)
        sfail(c, f->location, DQ_EINVAL, "%s(*) is not a function", name);
      e->op = DQ_AGG_COUNT_STAR;
      e->type = (dq_type){DQ_TYPE_INT64, 0, 0};
    } else {
      if (f->n_args != 1)
        sfail(c, f->location, DQ_EINVAL, "%s takes one argument", name);
      sx *a = bind_expr(c, sc, f->args[0], false);
      if (a->has_subq)
        sfail(c, f->location, DQ_EUNSUPPORTED,
              "subqueries inside aggregates are not supported");
      if ((e->op == DQ_AGG_SUM || e->op == DQ_AGG_AVG) && !is_num(a->type))
        sfail(c, f->location, DQ_EINVAL, "%s(%s) does not exist: %s needs "
              "a number", name, type_word(a->type), name);
      sx_add_arg(c, e, a);
      switch (e->op) {
      case DQ_AGG_COUNT:
        e->type = (dq_type){DQ_TYPE_INT64, 0, 0};
        break;
      case DQ_AGG_SUM:
        e->type = is_int(a->type) ? (dq_type){DQ_TYPE_INT64, 0, 0}
                  : a->type.id == DQ_TYPE_DECIMAL
                      ? (dq_type){DQ_TYPE_DECIMAL, 38, a->type.scale}
                      : a->type;
        break;
      case DQ_AGG_AVG:
        e->type = a->type.id == DQ_TYPE_DECIMAL
                      ? (dq_type){DQ_TYPE_DECIMAL, 38,
                                  (int8_t)(a->type.scale + 4)}
                      : (dq_type){DQ_TYPE_FLOAT64, 0, 0};
        break;
      default:
        e->type = a->type;
      }
    }
    e->has_agg = true;
    return e;
  }
  if (f->agg_star || f->agg_distinct)
    sfail(c, f->location, DQ_EINVAL, "%s is not an aggregate function", name);
  if (strcmp(name, "extract") == 0 || strcmp(name, "date_part") == 0) {
    if (f->n_args != 2)
      sfail(c, f->location, DQ_EINVAL, "EXTRACT takes a field and a date");
    sx *field = bind_expr(c, sc, f->args[0], false);
    if (field->kind != SX_CONST || field->v.kind != CV_STR ||
        strcasecmp(field->v.s, "year") != 0)
      sfail(c, f->location, DQ_EUNSUPPORTED,
            "EXTRACT supports YEAR only");
    sx *d = bind_expr(c, sc, f->args[1], allow_agg);
    if (d->type.id != DQ_TYPE_DATE32)
      sfail(c, f->location, DQ_EINVAL, "EXTRACT(YEAR FROM ...) needs a date, "
                                       "not %s", type_word(d->type));
    sx *e = sx_new(c, SX_YEAR, f->location);
    e->type = (dq_type){DQ_TYPE_INT32, 0, 0};
    sx_add_arg(c, e, d);
    return e;
  }
  if (strcmp(name, "substring") == 0 || strcmp(name, "substr") == 0) {
    if (f->n_args != 2 && f->n_args != 3)
      sfail(c, f->location, DQ_EINVAL, "SUBSTRING takes a string, a start and "
                                       "a length");
    sx *s = bind_expr(c, sc, f->args[0], allow_agg);
    sx *st = bind_expr(c, sc, f->args[1], allow_agg);
    sx *len;
    if (f->n_args == 3) {
      len = bind_expr(c, sc, f->args[2], allow_agg);
    } else {
      cval big = {.kind = CV_INT, .i = INT32_MAX};
      len = const_sx(c, big, f->location);
    }
    if (s->type.id != DQ_TYPE_UTF8 || !is_int(st->type) || !is_int(len->type))
      sfail(c, f->location, DQ_EINVAL,
            "SUBSTRING needs text, an integer start and an integer length");
    sx *e = sx_new(c, SX_SUBSTR, f->location);
    e->type = (dq_type){DQ_TYPE_UTF8, 0, 0};
    sx_add_arg(c, e, s);
    sx_add_arg(c, e, st);
    sx_add_arg(c, e, len);
    return e;
  }
  if (strcmp(name, "coalesce") == 0) {
    /* COALESCE(a, b, ...) = CASE WHEN a IS NOT NULL THEN a ... END */
    sx *e = sx_new(c, SX_CASE, f->location);
    dq_type t = {0};
    for (size_t i = 0; i < f->n_args; i++) {
      sx *a = bind_expr(c, sc, f->args[i], allow_agg);
      t = sx_type_meet(t, a->type);
      if (i + 1 < f->n_args) {
        sx_add_arg(c, e, make_bool(c, SX_NOTNULL, a, NULL, f->location));
        sx_add_arg(c, e, a);
      } else {
        sx_add_arg(c, e, a);
        e->has_else = true;
      }
    }
    e->type = t;
    return e;
  }
  sfail(c, f->location, DQ_EUNSUPPORTED,
        "function %s is not supported (dq has sum, count, min, max, avg, "
        "extract, substring, coalesce)",
        name);
}

static sx *bind_case(sctx *c, scope *sc, const PgQuery__CaseExpr *k,
                     bool allow_agg) {
  sx *e = sx_new(c, SX_CASE, k->location);
  sx *arg = k->arg ? bind_expr(c, sc, k->arg, allow_agg) : NULL;
  dq_type t = {0};
  for (size_t i = 0; i < k->n_args; i++) {
    const pgnode *w = k->args[i];
    if (w->node_case != PG_QUERY__NODE__NODE_CASE_WHEN)
      sfail(c, k->location, DQ_EINVAL, "malformed CASE");
    sx *cond = bind_expr(c, sc, w->case_when->expr, allow_agg);
    if (arg != NULL)
      cond = make_bin(c, OP_EQ, arg, cond, w->case_when->location, "=");
    want_bool(c, cond, "CASE WHEN");
    sx *then = bind_expr(c, sc, w->case_when->result, allow_agg);
    sx_add_arg(c, e, cond);
    sx_add_arg(c, e, then);
    t = sx_type_meet(t, then->type);
  }
  if (k->defresult != NULL) {
    sx *d = bind_expr(c, sc, k->defresult, allow_agg);
    sx_add_arg(c, e, d);
    e->has_else = true;
    t = sx_type_meet(t, d->type);
  }
  if (t.id == 0)
    sfail(c, k->location, DQ_EINVAL, "CASE has no typed result");
  /* Branches must meet: numbers with numbers, else one type. */
  for (size_t i = 1; i < e->n_args; i += 2) {
    sx *r = e->args[i];
    if (r->kind == SX_CONST && r->v.kind == CV_NULL)
      r->type = t;
    else if (!(is_num(r->type) && is_num(t)) && r->type.id != t.id)
      sfail(c, r->loc, DQ_EINVAL, "CASE branches mix %s and %s",
            type_word(r->type), type_word(t));
  }
  if (e->has_else) {
    sx *d = e->args[e->n_args - 1];
    if (d->kind == SX_CONST && d->v.kind == CV_NULL)
      d->type = t;
    else if (!(is_num(d->type) && is_num(t)) && d->type.id != t.id)
      sfail(c, d->loc, DQ_EINVAL, "CASE branches mix %s and %s",
            type_word(d->type), type_word(t));
  }
  e->type = t;
  return e;
}

/* A subquery's correlation, seen from the block that holds the subquery:
 * references one level out become this block's own columns; the
 * subquery's own columns are neither this block's items nor outer. */
static sx *lift(sctx *c, const sx *e) {
  sx *x = sa_alloc(c, sizeof *x);
  *x = *e;
  x->args = NULL;
  x->n_args = 0;
  x->rels = 0;
  x->has_outer = false;
  if (e->kind == SX_COL) {
    if (e->outer >= 1) {
      x->outer = e->outer - 1;
      if (x->outer == 0 && e->col->item >= 0 && e->col->item < 64)
        x->rels = UINT64_C(1) << e->col->item;
      x->has_outer = x->outer > 0;
    } else {
      x->outer = -1; /* the subquery's column: joined in with it */
    }
    return x;
  }
  for (size_t i = 0; i < e->n_args; i++)
    sx_add_arg(c, x, lift(c, e->args[i]));
  return x;
}

static sx *bind_sublink(sctx *c, scope *sc, const PgQuery__SubLink *l,
                        bool allow_agg) {
  subq *q = sa_alloc(c, sizeof *q);
  q->select = l->subselect;
  q->outer_scope = sc;
  sx *e = sx_new(c, SX_SUBQ, l->location);
  e->sub = q;
  switch (l->sub_link_type) {
  case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK:
    q->kind = SUB_EXISTS;
    e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
    break;
  case PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK: {
    const char *op = l->n_oper_name ? str_of(l->oper_name[0]) : "=";
    if (op != NULL && strcmp(op, "=") != 0)
      sfail(c, l->location, DQ_EUNSUPPORTED,
            "only IN (subquery) / = ANY (subquery) is supported");
    q->kind = SUB_IN;
    q->test = bind_expr(c, sc, l->testexpr, allow_agg);
    e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
    break;
  }
  case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK:
    q->kind = SUB_SCALAR;
    break;
  default:
    sfail(c, l->location, DQ_EUNSUPPORTED,
          "this kind of subquery (ALL, ARRAY, row comparison) is not "
          "supported");
  }
  plan_query(c, l->subselect, sc, q->kind, q, &q->r);
  if (q->kind == SUB_IN) {
    sx *t = q->test;
    if (!(is_num(t->type) && is_num(q->value->type)) &&
        t->type.id != q->value->type.id)
      sfail(c, l->location, DQ_EINVAL, "IN: cannot compare %s with %s",
            type_word(t->type), type_word(q->value->type));
    e->rels |= t->rels;
    e->has_agg |= t->has_agg;
  }
  if (q->kind == SUB_SCALAR)
    e->type = q->value->type;
  /* The outer columns the correlation uses count as this block's. */
  for (size_t i = 0; i < q->n_keys; i++) {
    q->outer_keys[i] = lift(c, q->outer_keys[i]);
    e->rels |= q->outer_keys[i]->rels;
    e->has_outer |= q->outer_keys[i]->has_outer;
  }
  if (q->residual != NULL) {
    q->residual = lift(c, q->residual);
    e->rels |= q->residual->rels;
    e->has_outer |= q->residual->has_outer;
  }
  e->has_subq = true;
  return e;
}

sx *bind_expr(sctx *c, scope *sc, const pgnode *n, bool allow_agg) {
  if (++c->depth > 200)
    sfail(c, node_loc(n), DQ_EUNSUPPORTED, "expression nested too deeply");
  sx *e = NULL;
  switch (n->node_case) {
  case PG_QUERY__NODE__NODE_COLUMN_REF:
    e = bind_column(c, sc, n->column_ref);
    break;
  case PG_QUERY__NODE__NODE_A_CONST:
    e = bind_aconst(c, n->a_const);
    break;
  case PG_QUERY__NODE__NODE_TYPE_CAST:
    e = bind_cast(c, sc, n->type_cast, allow_agg);
    break;
  case PG_QUERY__NODE__NODE_A_EXPR:
    e = bind_aexpr(c, sc, n->a_expr, allow_agg);
    break;
  case PG_QUERY__NODE__NODE_BOOL_EXPR: {
    const PgQuery__BoolExpr *b = n->bool_expr;
    if (b->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
      sx *a = bind_expr(c, sc, b->args[0], allow_agg);
      want_bool(c, a, "NOT");
      e = make_bool(c, SX_NOT, a, NULL, b->location);
      break;
    }
    sx_kind k = b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR ? SX_AND : SX_OR;
    e = sx_new(c, k, b->location);
    e->type = (dq_type){DQ_TYPE_BOOL, 0, 0};
    for (size_t i = 0; i < b->n_args; i++) {
      sx *a = bind_expr(c, sc, b->args[i], allow_agg);
      want_bool(c, a, k == SX_AND ? "AND" : "OR");
      sx_add_arg(c, e, a);
    }
    break;
  }
  case PG_QUERY__NODE__NODE_NULL_TEST: {
    const PgQuery__NullTest *t = n->null_test;
    sx *a = bind_expr(c, sc, t->arg, allow_agg);
    e = make_bool(c,
                  t->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NULL
                      ? SX_ISNULL
                      : SX_NOTNULL,
                  a, NULL, t->location);
    break;
  }
  case PG_QUERY__NODE__NODE_FUNC_CALL:
    e = bind_func(c, sc, n->func_call, allow_agg);
    break;
  case PG_QUERY__NODE__NODE_CASE_EXPR:
    e = bind_case(c, sc, n->case_expr, allow_agg);
    break;
  case PG_QUERY__NODE__NODE_SUB_LINK:
    e = bind_sublink(c, sc, n->sub_link, allow_agg);
    break;
  case PG_QUERY__NODE__NODE_COALESCE_EXPR: {
    const PgQuery__CoalesceExpr *k = n->coalesce_expr;
    e = sx_new(c, SX_CASE, k->location);
    dq_type t = {0};
    for (size_t i = 0; i < k->n_args; i++) {
      sx *a = bind_expr(c, sc, k->args[i], allow_agg);
      t = sx_type_meet(t, a->type);
      if (i + 1 < k->n_args) {
        sx_add_arg(c, e, make_bool(c, SX_NOTNULL, a, NULL, k->location));
        sx_add_arg(c, e, a);
      } else {
        sx_add_arg(c, e, a);
        e->has_else = true;
      }
    }
    e->type = t;
    break;
  }
  default:
    sfail(c, node_loc(n), DQ_EUNSUPPORTED,
          "this kind of expression is not supported (parse node %d)",
          (int)n->node_case);
  }
  c->depth--;
  return e;
}

/* --- Emission ----------------------------------------------------------------*/

static dq_expr *emit_const(sctx *c, const sx *e) {
  switch (e->v.kind) {
  case CV_NULL:
    return dq_expr_null(c->b, e->type.id ? e->type
                                         : (dq_type){DQ_TYPE_INT32, 0, 0});
  case CV_BOOL:
    return dq_expr_bool(c->b, e->v.b);
  case CV_INT:
    return e->v.i >= INT32_MIN && e->v.i <= INT32_MAX
               ? dq_expr_int32(c->b, (int32_t)e->v.i)
               : dq_expr_int64(c->b, e->v.i);
  case CV_DEC:
    return dq_expr_decimal(c->b, e->v.s);
  case CV_FLOAT:
    return dq_expr_float64(c->b, e->v.f);
  case CV_STR:
    return dq_expr_utf8(c->b, e->v.s);
  case CV_DATE:
    return dq_expr_date32(c->b, (int32_t)e->v.i);
  default:
    sfail(c, e->loc, DQ_EUNSUPPORTED, "an interval is not a value here");
  }
}

dq_expr *sx_emit(sctx *c, const sx *e) {
  dq_plan_builder *b = c->b;
  dq_expr *r = NULL;
  switch (e->kind) {
  case SX_COL:
    r = dq_expr_column(b, e->col->iname);
    break;
  case SX_CONST:
    r = emit_const(c, e);
    break;
  case SX_BIN: {
    dq_expr *l = sx_emit(c, e->args[0]), *x = sx_emit(c, e->args[1]);
    switch (e->op) {
    case OP_ADD: r = dq_expr_add(b, l, x); break;
    case OP_SUB: r = dq_expr_sub(b, l, x); break;
    case OP_MUL: r = dq_expr_mul(b, l, x); break;
    case OP_DIV: r = dq_expr_div(b, l, x); break;
    case OP_EQ: r = dq_expr_eq(b, l, x); break;
    case OP_NE: r = dq_expr_ne(b, l, x); break;
    case OP_LT: r = dq_expr_lt(b, l, x); break;
    case OP_LE: r = dq_expr_le(b, l, x); break;
    case OP_GT: r = dq_expr_gt(b, l, x); break;
    default: r = dq_expr_ge(b, l, x); break;
    }
    break;
  }
  case SX_NEG:
    r = dq_expr_neg(b, sx_emit(c, e->args[0]));
    break;
  case SX_AND:
  case SX_OR:
    r = sx_emit(c, e->args[0]);
    for (size_t i = 1; i < e->n_args; i++)
      r = e->kind == SX_AND ? dq_expr_and(b, r, sx_emit(c, e->args[i]))
                            : dq_expr_or(b, r, sx_emit(c, e->args[i]));
    break;
  case SX_NOT:
    r = dq_expr_not(b, sx_emit(c, e->args[0]));
    break;
  case SX_ISNULL:
    r = dq_expr_is_null(b, sx_emit(c, e->args[0]));
    break;
  case SX_NOTNULL:
    r = dq_expr_is_not_null(b, sx_emit(c, e->args[0]));
    break;
  case SX_CASE: {
    size_t n = e->n_args / 2;
    dq_expr **whens = sa_alloc(c, (n + 1) * sizeof *whens);
    dq_expr **thens = sa_alloc(c, (n + 1) * sizeof *thens);
    for (size_t i = 0; i < n; i++) {
      whens[i] = sx_emit(c, e->args[2 * i]);
      thens[i] = sx_emit(c, e->args[2 * i + 1]);
    }
    dq_expr *els = e->has_else ? sx_emit(c, e->args[e->n_args - 1]) : NULL;
    if (n == 0)
      r = els;
    else
      r = dq_expr_case(b, n, (dq_expr *const *)whens, (dq_expr *const *)thens,
                       els);
    break;
  }
  case SX_CAST:
    r = dq_expr_cast(b, sx_emit(c, e->args[0]), e->type);
    break;
  case SX_IN: {
    size_t n = e->n_args - 1;
    dq_expr **vals = sa_alloc(c, (n + 1) * sizeof *vals);
    for (size_t i = 0; i < n; i++)
      vals[i] = sx_emit(c, e->args[i + 1]);
    r = dq_expr_in(b, sx_emit(c, e->args[0]), n, (dq_expr *const *)vals);
    break;
  }
  case SX_LIKE:
    r = dq_expr_like(b, sx_emit(c, e->args[0]), e->pattern);
    break;
  case SX_YEAR:
    r = dq_expr_extract_year(b, sx_emit(c, e->args[0]));
    break;
  case SX_SUBSTR:
    r = dq_expr_substring(b, sx_emit(c, e->args[0]), sx_emit(c, e->args[1]),
                          sx_emit(c, e->args[2]));
    break;
  case SX_AGG:
    sfail(c, e->loc, DQ_EINVAL, "aggregate functions are not allowed here");
  case SX_SUBQ:
    sfail(c, e->loc, DQ_EUNSUPPORTED,
          "a subquery is supported only as a condition of WHERE or HAVING "
          "(EXISTS, IN, or compared with a scalar subquery), in an AND");
  }
  if (r == NULL) {
    dq_error x;
    dq_error_clear(&x);
    dq_plan_builder_error(b, &x);
    sfail(c, e->loc, x.code ? x.code : DQ_EINTERNAL, "%s",
          x.code ? x.message : "cannot build this expression");
  }
  return r;
}
