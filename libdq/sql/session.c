/* session.c — a dq_sql session: parses text with libpg_query, reports
 * syntax errors with a caret, and carries out each statement: queries and
 * EXPLAIN are planned (planner.c) and handed to the caller; CREATE TABLE,
 * CREATE VIEW and DROP change the session's catalog (catalog.c). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pg_query.h>

#include "sql_internal.h"

int dq_sql_new(dq_sql **out, dq_error *err) {
  dq_sql *s = calloc(1, sizeof *s);
  if (s == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  s->tpch_scale = 1.0;
  *out = s;
  return 0;
}

void dq_sql_free(dq_sql *s) {
  if (s == NULL)
    return;
  for (size_t i = 0; i < s->n_tables; i++)
    sql_table_free(s->tables[i]);
  free(s->tables);
  for (size_t i = 0; i < s->n_views; i++) {
    free(s->views[i].name);
    for (size_t c = 0; c < s->views[i].n_colnames; c++)
      free(s->views[i].colnames[c]);
    free(s->views[i].colnames);
  }
  free(s->views);
  while (s->parses != NULL) {
    sql_parse *p = s->parses;
    s->parses = p->next;
    pg_query__parse_result__free_unpacked(p->tree, NULL);
    free(p->src);
    free(p);
  }
  free(s);
}

void dq_sql_set_tpch(dq_sql *s, double scale, uint64_t seed) {
  s->tpch_scale = scale;
  s->tpch_seed = seed;
}

/* --- Errors ---------------------------------------------------------------*/

int sql_error_atv(dq_error *err, int code, const char *src, int loc,
                  const char *fmt, va_list ap) {
  char msg[300];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (src == NULL || loc < 0 || (size_t)loc > strlen(src))
    return dq_error_set(err, code, "%s", msg);
  int line = 1;
  const char *ls = src;
  for (const char *p = src; p < src + loc; p++)
    if (*p == '\n') {
      line++;
      ls = p + 1;
    }
  const char *le = strchr(ls, '\n');
  if (le == NULL)
    le = ls + strlen(ls);
  int col = (int)(src + loc - ls);
  /* Long lines are cut to a window around the column, so the caret stays
   * within the message. */
  const int width = 100;
  const char *ws = ls;
  if (col > width - 20)
    ws = ls + col - (width - 20);
  const char *we = le - ws > width ? ws + width : le;
  char text[128];
  size_t n = (size_t)(we - ws);
  memcpy(text, ws, n);
  text[n] = '\0';
  for (size_t i = 0; i < n; i++)
    if (text[i] == '\t' || text[i] == '\r')
      text[i] = ' ';
  int caret = (int)(src + loc - ws);
  return dq_error_set(err, code, "line %d, column %d: %s\n  %s\n  %*s^", line,
                      col + 1, msg, text, caret, "");
}

int sql_error_at(dq_error *err, int code, const char *src, int loc,
                 const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = sql_error_atv(err, code, src, loc, fmt, ap);
  va_end(ap);
  return rc;
}

static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return 64;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t sub = prev + (tolower((unsigned char)a[i - 1]) !=
                           tolower((unsigned char)b[j - 1]));
      size_t best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
      row[j] = sub < best ? sub : best;
      prev = cur;
    }
  }
  return row[lb];
}

const char *sql_closest(const char *name, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(name, cands[i]);
    if (d < best_d) {
      best_d = d;
      best = cands[i];
    }
  }
  /* A typo is a few edits; anything further is another name altogether. */
  size_t len = strlen(name);
  size_t limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
  return best_d <= limit ? best : NULL;
}

/* --- Statements -----------------------------------------------------------*/

static const char *node_string(const pgnode *n) {
  return n != NULL && n->node_case == PG_QUERY__NODE__NODE_STRING
             ? n->string->sval
             : NULL;
}

static char *lower_dup(const char *s) {
  char *d = strdup(s);
  if (d != NULL)
    for (char *p = d; *p; p++)
      *p = (char)tolower((unsigned char)*p);
  return d;
}

/* CREATE TABLE name (cols) WITH (location = '...', format = 'csv', header =
 * true).  Without columns the schema is inferred as for --table. */
static int create_table(dq_sql *s, const char *src, int loc,
                        const PgQuery__CreateStmt *c, char *msg, size_t msg_len,
                        dq_error *err);

static int drop(dq_sql *s, const char *src, int loc,
                const PgQuery__DropStmt *d, char *msg, size_t msg_len,
                dq_error *err) {
  if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_VIEW &&
      d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE)
    return sql_error_at(err, DQ_EUNSUPPORTED, src, loc,
                        "only DROP TABLE and DROP VIEW are supported");
  bool view = d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW;
  for (size_t i = 0; i < d->n_objects; i++) {
    const pgnode *o = d->objects[i];
    const char *name = NULL;
    if (o->node_case == PG_QUERY__NODE__NODE_LIST && o->list->n_items > 0)
      name = node_string(o->list->items[o->list->n_items - 1]);
    if (name == NULL)
      return sql_error_at(err, DQ_EUNSUPPORTED, src, loc,
                          "DROP: cannot read the object's name");
    bool found = false;
    if (view) {
      for (size_t v = 0; v < s->n_views; v++)
        if (strcasecmp(s->views[v].name, name) == 0) {
          free(s->views[v].name);
          for (size_t c = 0; c < s->views[v].n_colnames; c++)
            free(s->views[v].colnames[c]);
          free(s->views[v].colnames);
          s->views[v] = s->views[--s->n_views];
          found = true;
          break;
        }
    } else {
      for (size_t t = 0; t < s->n_tables; t++)
        if (strcasecmp(s->tables[t]->name, name) == 0) {
          sql_table_free(s->tables[t]);
          s->tables[t] = s->tables[--s->n_tables];
          found = true;
          break;
        }
    }
    if (!found && !d->missing_ok)
      return sql_error_at(err, DQ_ENOENT, src, loc, "%s \"%s\" does not exist",
                          view ? "view" : "table", name);
    snprintf(msg, msg_len, "DROP %s", view ? "VIEW" : "TABLE");
  }
  return 0;
}

static int create_view(dq_sql *s, const char *src, const PgQuery__ViewStmt *v,
                       char *msg, size_t msg_len, dq_error *err) {
  const char *name = v->view->relname;
  if (sql_catalog_view(s, name) != NULL && !v->replace)
    return sql_error_at(err, DQ_EINVAL, src, v->view->location,
                        "view \"%s\" already exists", name);
  if (sql_catalog_find(s, name) != NULL)
    return sql_error_at(err, DQ_EINVAL, src, v->view->location,
                        "a table named \"%s\" already exists", name);
  /* Plan it once now, so a bad view fails at CREATE, not at first use. */
  dq_plan *p = NULL;
  int rc = sql_plan_select(s, src, v->query, &p, err);
  dq_plan_free(p);
  if (rc < 0)
    return rc;
  sql_view *slot = sql_catalog_view(s, name);
  if (slot == NULL) {
    sql_view *grown = realloc(s->views, (s->n_views + 1) * sizeof *grown);
    if (grown == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    s->views = grown;
    slot = &s->views[s->n_views++];
    memset(slot, 0, sizeof *slot);
    slot->name = lower_dup(name);
  } else {
    for (size_t c = 0; c < slot->n_colnames; c++)
      free(slot->colnames[c]);
    free(slot->colnames);
    slot->colnames = NULL;
    slot->n_colnames = 0;
  }
  if (slot->name == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (v->n_aliases > 0) {
    slot->colnames = calloc(v->n_aliases, sizeof *slot->colnames);
    if (slot->colnames == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    for (size_t i = 0; i < v->n_aliases; i++) {
      const char *a = node_string(v->aliases[i]);
      slot->colnames[i] = lower_dup(a ? a : "?column?");
      if (slot->colnames[i] == NULL)
        return dq_error_set(err, DQ_ENOMEM, "out of memory");
      slot->n_colnames++;
    }
  }
  slot->query = v->query;
  slot->src = src;
  snprintf(msg, msg_len, "CREATE VIEW");
  return 0;
}

static bool has_option(const PgQuery__ExplainStmt *e, const char *name) {
  for (size_t i = 0; i < e->n_options; i++) {
    const pgnode *o = e->options[i];
    if (o->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
        strcasecmp(o->def_elem->defname, name) == 0)
      return true;
  }
  return false;
}

static int run_stmt(dq_sql *s, const char *src, const PgQuery__RawStmt *raw,
                    dq_sql_stmt_fn fn, void *ctx, dq_error *err) {
  const pgnode *st = raw->stmt;
  int loc = raw->stmt_location;
  char msg[128] = "";
  dq_plan *plan = NULL;
  int rc;
  switch (st->node_case) {
  case PG_QUERY__NODE__NODE_SELECT_STMT:
    rc = sql_plan_select(s, src, st, &plan, err);
    if (rc == 0)
      rc = fn(ctx, DQ_SQL_QUERY, plan, NULL, err);
    break;
  case PG_QUERY__NODE__NODE_EXPLAIN_STMT: {
    const PgQuery__ExplainStmt *e = st->explain_stmt;
    if (e->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
      return sql_error_at(err, DQ_EUNSUPPORTED, src, loc,
                          "EXPLAIN takes a SELECT");
    rc = sql_plan_select(s, src, e->query, &plan, err);
    if (rc == 0)
      rc = fn(ctx,
              has_option(e, "analyze") ? DQ_SQL_EXPLAIN_ANALYZE
                                       : DQ_SQL_EXPLAIN,
              plan, NULL, err);
    break;
  }
  case PG_QUERY__NODE__NODE_CREATE_STMT:
    rc = create_table(s, src, loc, st->create_stmt, msg, sizeof msg, err);
    if (rc == 0)
      rc = fn(ctx, DQ_SQL_DONE, NULL, msg, err);
    break;
  case PG_QUERY__NODE__NODE_VIEW_STMT:
    rc = create_view(s, src, st->view_stmt, msg, sizeof msg, err);
    if (rc == 0)
      rc = fn(ctx, DQ_SQL_DONE, NULL, msg, err);
    break;
  case PG_QUERY__NODE__NODE_DROP_STMT:
    rc = drop(s, src, loc, st->drop_stmt, msg, sizeof msg, err);
    if (rc == 0)
      rc = fn(ctx, DQ_SQL_DONE, NULL, msg, err);
    break;
  default: {
    /* Name the statement by its first word. */
    const char *w = src + loc;
    while (isspace((unsigned char)*w))
      w++;
    char word[32];
    int n = 0;
    while (isalpha((unsigned char)w[n]) && n < 30) {
      word[n] = (char)toupper((unsigned char)w[n]);
      n++;
    }
    word[n] = '\0';
    return sql_error_at(err, DQ_EUNSUPPORTED, src, (int)(w - src),
                        "%s statements are not supported (dq sql runs "
                        "SELECT, EXPLAIN, CREATE TABLE, CREATE VIEW and "
                        "DROP)",
                        word);
  }
  }
  dq_plan_free(plan);
  return rc;
}

int dq_sql_exec(dq_sql *s, const char *text, dq_sql_stmt_fn fn, void *ctx,
                dq_error *err) {
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(text);
  if (r.error != NULL) {
    /* cursorpos is 1-based, 0 when unknown. */
    int rc = sql_error_at(err, DQ_EINVAL, text, r.error->cursorpos - 1,
                          "syntax error: %s", r.error->message);
    pg_query_free_protobuf_parse_result(r);
    return rc;
  }
  sql_parse *p = calloc(1, sizeof *p);
  if (p != NULL)
    p->src = strdup(text);
  if (p != NULL && p->src != NULL)
    p->tree = pg_query__parse_result__unpack(
        NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);
  pg_query_free_protobuf_parse_result(r);
  if (p == NULL || p->src == NULL || p->tree == NULL) {
    if (p != NULL)
      free(p->src);
    free(p);
    return dq_error_set(err, DQ_ENOMEM,
                        "out of memory (unpacking the parse tree)");
  }
  /* Kept for the session's life: views point into it. */
  p->next = s->parses;
  s->parses = p;
  for (size_t i = 0; i < p->tree->n_stmts; i++) {
    int rc = run_stmt(s, p->src, p->tree->stmts[i], fn, ctx, err);
    if (rc < 0)
      return rc;
  }
  return 0;
}

bool dq_sql_complete(const char *text) {
  /* A ';' outside quotes and comments ends a statement. */
  bool any = false;
  for (const char *p = text; *p; p++) {
    if (*p == '\'' || *p == '"') {
      char q = *p++;
      while (*p && *p != q)
        p++;
      if (!*p)
        return false;
    } else if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n')
        p++;
      if (!*p)
        break;
    } else if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      if (e == NULL)
        return false;
      p = e + 1;
    } else if (*p == ';') {
      any = true;
    } else if (!isspace((unsigned char)*p)) {
      any = false;
    }
  }
  return any;
}

/* --- CREATE TABLE -----------------------------------------------------------*/

static const char *def_string(const pgnode *arg, char *buf, size_t len) {
  if (arg == NULL)
    return NULL;
  switch (arg->node_case) {
  case PG_QUERY__NODE__NODE_STRING:
    return arg->string->sval;
  case PG_QUERY__NODE__NODE_TYPE_NAME:
    if (arg->type_name->n_names > 0)
      return node_string(arg->type_name->names[arg->type_name->n_names - 1]);
    return NULL;
  case PG_QUERY__NODE__NODE_INTEGER:
    snprintf(buf, len, "%d", arg->integer->ival);
    return buf;
  case PG_QUERY__NODE__NODE_BOOLEAN:
    return arg->boolean->boolval ? "true" : "false";
  case PG_QUERY__NODE__NODE_A_CONST: {
    const PgQuery__AConst *c = arg->a_const;
    if (c->val_case == PG_QUERY__A__CONST__VAL_SVAL)
      return c->sval->sval;
    if (c->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL)
      return c->boolval->boolval ? "true" : "false";
    if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
      snprintf(buf, len, "%d", c->ival->ival);
      return buf;
    }
    return NULL;
  }
  default:
    return NULL;
  }
}

static int create_table(dq_sql *s, const char *src, int loc,
                        const PgQuery__CreateStmt *c, char *msg, size_t msg_len,
                        dq_error *err) {
  const char *name = c->relation->relname;
  const char *location = NULL, *format = NULL;
  bool header = true;
  char b1[32], b2[32], b3[32];
  for (size_t i = 0; i < c->n_options; i++) {
    const pgnode *o = c->options[i];
    if (o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM)
      continue;
    const PgQuery__DefElem *d = o->def_elem;
    if (strcasecmp(d->defname, "location") == 0)
      location = def_string(d->arg, b1, sizeof b1);
    else if (strcasecmp(d->defname, "format") == 0)
      format = def_string(d->arg, b2, sizeof b2);
    else if (strcasecmp(d->defname, "header") == 0) {
      const char *h = def_string(d->arg, b3, sizeof b3);
      header = h == NULL || strcasecmp(h, "true") == 0 ||
               strcasecmp(h, "on") == 0 || strcmp(h, "1") == 0;
    } else
      return sql_error_at(err, DQ_EINVAL, src, d->location,
                          "unknown table option '%s' (known: location, "
                          "format, header)",
                          d->defname);
  }
  if (location == NULL || format == NULL)
    return sql_error_at(err, DQ_EINVAL, src, loc,
                        "CREATE TABLE needs WITH (location = '...', format = "
                        "'csv' | 'arrow' | 'tpch')");
  if (sql_catalog_find(s, name) != NULL && !c->if_not_exists)
    return sql_error_at(err, DQ_EINVAL, src, c->relation->location,
                        "table \"%s\" already exists", name);
  if (sql_catalog_find(s, name) != NULL) {
    snprintf(msg, msg_len, "CREATE TABLE (it existed)");
    return 0;
  }
  dq_schema *declared = NULL;
  size_t n = 0;
  for (size_t i = 0; i < c->n_table_elts; i++)
    if (c->table_elts[i]->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
      n++;
  int rc = 0;
  if (n > 0) {
    const char **names = calloc(n, sizeof *names);
    dq_type *types = calloc(n, sizeof *types);
    bool *nullable = calloc(n, sizeof *nullable);
    if (names == NULL || types == NULL || nullable == NULL)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < c->n_table_elts; i++) {
      const pgnode *e = c->table_elts[i];
      if (e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF)
        continue;
      const PgQuery__ColumnDef *cd = e->column_def;
      names[k] = cd->colname;
      nullable[k] = !cd->is_not_null;
      if (sql_type_from_name(cd->type_name, &types[k]) < 0)
        rc = sql_error_at(err, DQ_EUNSUPPORTED, src, cd->location,
                          "column \"%s\": unsupported type (dq has boolean, "
                          "integer, bigint, double precision, decimal(p,s), "
                          "date, varchar/text)",
                          cd->colname);
      k++;
    }
    if (rc == 0)
      rc = dq_schema_new(n, names, types, nullable, &declared, err);
    free(names);
    free(types);
    free(nullable);
  }
  sql_table *t = NULL;
  if (rc == 0)
    rc = sql_table_make(s, name, format, location, declared, header, &t, err);
  dq_schema_unref(declared);
  if (rc < 0)
    return sql_error_at(err, rc, src, loc, "%s", err->message);
  if ((rc = sql_catalog_put(s, t, err)) < 0) {
    sql_table_free(t);
    return rc;
  }
  snprintf(msg, msg_len, "CREATE TABLE");
  return 0;
}
