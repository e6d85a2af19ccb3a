/* binder.h — the binder's own forms, shared by binder.c (names, types and
 * expressions from the parse tree) and planner.c (query blocks to plan
 * nodes): columns with their unique plan names, scopes, bound expressions
 * (sx) and the per-statement context whose errors unwind with longjmp.
 *
 * Every allocation during a statement comes from the context's arena and
 * goes with it, so an error anywhere can unwind to sql_plan_select()
 * without leaking: that is why errors longjmp (as PostgreSQL's own
 * parser does) instead of threading return codes through every call. */
#ifndef DQ_SQL_BINDER_H
#define DQ_SQL_BINDER_H

#include <setjmp.h>

#include "sql_internal.h"

typedef struct sql_col {
  const char *qual;  /* table alias it is visible under, or NULL */
  const char *name;  /* SQL name (lower case) */
  const char *iname; /* the plan's column name: unique in the statement */
  dq_type type;
  bool nullable;
  bool used;         /* referenced: scans keep only used columns */
  int item;          /* FROM item index in its block, -1 above joins */
  bool ranged;       /* a base table's column with a sampled range */
  double lo, hi;
} sql_col;

typedef struct scope {
  sql_col **cols;
  size_t n;
  struct scope *outer;
} scope;

typedef enum sx_kind {
  SX_COL = 1, SX_CONST, SX_BIN, SX_NEG, SX_AND, SX_OR, SX_NOT, SX_ISNULL,
  SX_NOTNULL, SX_CASE, SX_CAST, SX_IN, SX_LIKE, SX_YEAR, SX_SUBSTR, SX_AGG,
  SX_SUBQ
} sx_kind;

typedef enum sx_op {
  OP_ADD = 1, OP_SUB, OP_MUL, OP_DIV, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT,
  OP_GE
} sx_op;

typedef enum cv_kind {
  CV_NULL = 1, CV_BOOL, CV_INT, CV_DEC, CV_FLOAT, CV_STR, CV_DATE,
  CV_INTERVAL
} cv_kind;

typedef struct cval {
  cv_kind kind;
  bool b;
  int64_t i;          /* INT; DATE: days since 1970-01-01 */
  double f;
  const char *s;      /* DEC text, STR */
  int32_t months, days; /* INTERVAL */
} cval;

struct subq;

typedef struct sx {
  sx_kind kind;
  int op;          /* BIN: sx_op; AGG: dq_agg_func; LIKE/IN: negated */
  dq_type type;
  int loc;
  struct sx **args;
  size_t n_args;
  sql_col *col;    /* COL */
  int outer;       /* COL: scopes up (0: this block) */
  cval v;          /* CONST */
  const char *pattern; /* LIKE */
  bool distinct;   /* AGG */
  bool has_else;   /* CASE: args are when,then pairs then the else */
  struct subq *sub; /* SUBQ */
  uint64_t rels;   /* FROM items of this block referenced */
  bool has_outer, has_agg, has_subq;
} sx;

typedef struct sctx {
  dq_sql *s;
  const char *src;
  dq_plan_builder *b;
  jmp_buf jb;
  dq_error *err;
  void **blocks;  /* the arena */
  size_t n_blocks, cap_blocks;
  const char **inames;
  size_t n_inames, cap_inames;
  /* WITH queries visible now, innermost last. */
  const PgQuery__CommonTableExpr **ctes;
  const char **cte_src;
  size_t n_ctes, cap_ctes;
  int depth; /* nesting, against runaway recursion */
} sctx;

/* Arena and errors (binder.c). */
void *sa_alloc(sctx *c, size_t n);
char *sa_strdup(sctx *c, const char *s);
char *sa_lower(sctx *c, const char *s);
_Noreturn void sfail(sctx *c, int loc, int code, const char *fmt, ...)
    DQ_PRINTF(4, 5);
/* Fails with the builder's first error when node is NULL. */
dq_node *scheck(sctx *c, dq_node *n, int loc);
const char *unique_iname(sctx *c, const char *name);
void *sa_grow(sctx *c, void *old, size_t n_old, size_t elem);

/* Expressions (binder.c).  An expression bound in `sc` (items numbered
 * within the block) may call back into the planner for subqueries. */
sx *bind_expr(sctx *c, scope *sc, const pgnode *n, bool allow_agg);
sx *sx_new(sctx *c, sx_kind k, int loc);
sx *sx_col(sctx *c, sql_col *col, int loc);
bool sx_equal(const sx *a, const sx *b);
dq_expr *sx_emit(sctx *c, const sx *e);
const char *sx_name(const pgnode *n); /* PostgreSQL's output column name */
void sx_add_arg(sctx *c, sx *e, sx *a);
dq_type sx_type_meet(dq_type a, dq_type b);

/* Blocks (planner.c). */
typedef struct rel {
  dq_node *node;
  sql_col **cols; /* output columns, named by their inames in node */
  size_t n;
  double rows;
} rel;

typedef enum sub_kind { SUB_EXISTS = 1, SUB_IN, SUB_SCALAR, SUB_FROM } sub_kind;

typedef struct subq {
  sub_kind kind;
  bool negated;          /* NOT EXISTS / NOT IN */
  rel r;                 /* the subquery's plan */
  sx *test;              /* IN: the left operand */
  sql_col *value;        /* IN, SCALAR: the output column */
  /* Correlation: outer_keys[i] (bound in the outer block) equals the
   * column inner_keys[i] of r; residual (may be NULL) references both. */
  sx **outer_keys;
  sql_col **inner_keys;
  size_t n_keys;
  sx *residual;
  const pgnode *select; /* to plan it again (NOT IN's null check) */
  scope *outer_scope;
} subq;

/* Plans a SELECT (possibly a set operation) in the scope `outer` (for
 * correlated references).  kind says how its result is used; for
 * SUB_EXISTS / SUB_IN / SUB_SCALAR the correlation is filled into sq. */
void plan_query(sctx *c, const pgnode *n, scope *outer, sub_kind kind,
                subq *sq, rel *out);

#endif /* DQ_SQL_BINDER_H */
