/* config.c — dq.conf: parsing (libinih), validation, environment overrides.
 *
 * We drive inih through ini_parse_stream with our own line reader for two
 * reasons: the reader counts lines, so a semantic error found in the handler
 * (unknown key, bad value) is reported as file:line like a syntax error; and
 * inih silently splits lines longer than INI_MAX_LINE, which the reader turns
 * into an explicit error instead of a misparse.
 *
 * Precedence, lowest to highest: defaults < file < environment < setters.
 */
#include <config.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <strings.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dq/dq.h>

#include "base/hmap.h"
#include "base/strlist.h"
#include "host/config.h"

#ifndef DQ_PLUGIN_DIR
#error "DQ_PLUGIN_DIR must be defined by the build"
#endif

/* [executor] settings: name, default, minimum, maximum. */
static const struct executor_key {
  const char *name;
  int64_t def, min, max;
} executor_keys[] = {
    {"batch_rows", 8192, 1, 1 << 24},      /* target rows per batch */
    {"task_ttl_ms", 60000, 1, 86400000},   /* idle task state is freed after */
    {"plan_wait_ms", 5000, 0, 3600000},    /* ExecuteTask waits this for SetPlan */
    {"plan_waiters", 64, 0, 65536},        /* ExecuteTasks waiting at once */
    {"max_task_attempts", 3, 1, 100},      /* runs of a query that loses workers */
    {"worker_avoid_ms", 30000, 0, 86400000}, /* a lost worker is skipped this long */
};
#define N_EXECUTOR_KEYS (sizeof executor_keys / sizeof executor_keys[0])

typedef struct transport_section {
  char *name;
  dq_strlist keys, values;
  dq_kv *kv; /* built once parsing is done */
} transport_section;

struct dq_config {
  char *path;      /* file the config came from, or NULL */
  char *transport; /* effective transport name */
  dq_strlist file_plugin_path;
  dq_strlist plugin_dirs; /* effective search order */
  dq_strlist workers;
  dq_strlist data_dirs; /* [worker] data_dirs */
  int data_dirs_set;
  dq_strlist discover; /* [workers] discover = dns:NAME:PORT, in file order */
  dq_strlist table_names, table_specs; /* [tables] NAME = SPEC, for SQL */
  double tpch_scale;                   /* [tpch] scale, 0 when not given */
  transport_section *transports;
  size_t n_transports;
  int64_t executor[N_EXECUTOR_KEYS];
};

/* Transport names are libtool module names, which become C identifiers in
 * the NAME_LTX_ symbol prefix: keep them to [A-Za-z0-9_]. */
static int valid_transport_name(const char *s) {
  if (*s == '\0' || strlen(s) > 64)
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_')
      return 0;
  return 1;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

static dq_config *config_new(void) {
  dq_config *cfg = calloc(1, sizeof *cfg);
  if (cfg == NULL)
    return NULL;
  cfg->transport = dup_str(DQ_DEFAULT_TRANSPORT);
  if (cfg->transport == NULL) {
    free(cfg);
    return NULL;
  }
  for (size_t i = 0; i < N_EXECUTOR_KEYS; i++)
    cfg->executor[i] = executor_keys[i].def;
  return cfg;
}

void dq_config_free(dq_config *cfg) {
  if (cfg == NULL)
    return;
  free(cfg->path);
  free(cfg->transport);
  dq_strlist_free(&cfg->file_plugin_path);
  dq_strlist_free(&cfg->plugin_dirs);
  dq_strlist_free(&cfg->workers);
  dq_strlist_free(&cfg->data_dirs);
  dq_strlist_free(&cfg->discover);
  dq_strlist_free(&cfg->table_names);
  dq_strlist_free(&cfg->table_specs);
  for (size_t i = 0; i < cfg->n_transports; i++) {
    free(cfg->transports[i].name);
    dq_strlist_free(&cfg->transports[i].keys);
    dq_strlist_free(&cfg->transports[i].values);
    free(cfg->transports[i].kv);
  }
  free(cfg->transports);
  free(cfg);
}

/* --- parsing ---------------------------------------------------------------*/

typedef struct parse_state {
  dq_config *cfg;
  const char *name; /* file name for messages */
  const char *text; /* remaining input */
  int line;         /* lines handed to inih so far */
  int err_line;     /* line of the first semantic error, 0 if none */
  int err_code;
  char err_msg[400];
  int seen_transport; /* [dq] transport given in the file */
  /* "section\0key" -> the line it was set on: a key given twice is an
   * error naming both lines, not a silent "last one wins". */
  dq_hmap seen;
} parse_state;

/* inih's line reader: one line per call, counting, refusing over-long lines
 * (inih would split them and misparse the rest). */
static char *read_line(char *buf, int size, void *stream) {
  parse_state *ps = stream;
  if (*ps->text == '\0')
    return NULL;
  const char *nl = strchr(ps->text, '\n');
  size_t len = nl ? (size_t)(nl - ps->text) + 1 : strlen(ps->text);
  ps->line++;
  if (len > (size_t)size - 1) {
    if (ps->err_line == 0) {
      ps->err_line = ps->line;
      ps->err_code = DQ_ECONFIG;
      snprintf(ps->err_msg, sizeof ps->err_msg,
               "line is too long (%zu bytes; at most %d)", len, size - 2);
    }
    buf[0] = '\n'; /* hand inih an empty line instead */
    buf[1] = '\0';
  } else {
    memcpy(buf, ps->text, len);
    buf[len] = '\0';
  }
  ps->text += len;
  return buf;
}

DQ_PRINTF(3, 4)
static int fail(parse_state *ps, int code, const char *fmt, ...) {
  if (ps->err_line == 0) {
    ps->err_line = ps->line;
    ps->err_code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->err_msg, sizeof ps->err_msg, fmt, ap);
    va_end(ap);
  }
  return 0; /* tells inih the line is bad */
}

static int parse_int(const char *s, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0')
    return -1;
  *out = v;
  return 0;
}

static transport_section *find_transport(dq_config *cfg, const char *name) {
  for (size_t i = 0; i < cfg->n_transports; i++)
    if (strcmp(cfg->transports[i].name, name) == 0)
      return &cfg->transports[i];
  return NULL;
}

static int handle_dq(parse_state *ps, const char *key, const char *value) {
  dq_config *cfg = ps->cfg;
  if (strcmp(key, "transport") == 0) {
    if (!valid_transport_name(value))
      return fail(ps, DQ_ECONFIG,
                  "transport '%s' is not a valid transport name "
                  "(letters, digits and '_')",
                  value);
    char *t = dup_str(value);
    if (t == NULL)
      return fail(ps, DQ_ENOMEM, "out of memory");
    free(cfg->transport);
    cfg->transport = t;
    ps->seen_transport = 1;
    return 1;
  }
  if (strcmp(key, "plugin_path") == 0) {
    dq_strlist_free(&cfg->file_plugin_path);
    if (dq_strlist_push_path(&cfg->file_plugin_path, value) < 0)
      return fail(ps, DQ_ENOMEM, "out of memory");
    return 1;
  }
  return fail(ps, DQ_ECONFIG,
              "unknown key '%s' in [dq] (known keys: transport, plugin_path)",
              key);
}

static int handle_executor(parse_state *ps, const char *key,
                           const char *value) {
  for (size_t i = 0; i < N_EXECUTOR_KEYS; i++) {
    const struct executor_key *k = &executor_keys[i];
    if (strcmp(key, k->name) != 0)
      continue;
    int64_t v;
    if (parse_int(value, &v) < 0 || v < k->min || v > k->max)
      return fail(ps, DQ_ECONFIG,
                  "[executor] %s = '%s' is not an integer from %lld to %lld",
                  key, value, (long long)k->min, (long long)k->max);
    ps->cfg->executor[i] = v;
    return 1;
  }
  /* Parsed by earlier versions but never applied: an error that says so
   * beats a setting that silently does nothing. */
  if (strcmp(key, "threads") == 0 || strcmp(key, "partitions") == 0)
    return fail(ps, DQ_ECONFIG,
                "[executor] %s is not a setting: no version of dq applied "
                "it (each pipeline runs on a thread of its own, and the "
                "planner chooses pipelines per task); remove the line",
                key);
  char known[256] = "";
  for (size_t i = 0; i < N_EXECUTOR_KEYS; i++) {
    strncat(known, executor_keys[i].name, sizeof known - strlen(known) - 1);
    if (i + 1 < N_EXECUTOR_KEYS)
      strncat(known, ", ", sizeof known - strlen(known) - 1);
  }
  return fail(ps, DQ_ECONFIG, "unknown key '%s' in [executor] (known keys: %s)",
              key, known);
}

static int handle_transport(parse_state *ps, const char *tname,
                            const char *key, const char *value) {
  dq_config *cfg = ps->cfg;
  if (!valid_transport_name(tname))
    return fail(ps, DQ_ECONFIG,
                "section [transport.%s]: '%s' is not a valid transport name",
                tname, tname);
  transport_section *ts = find_transport(cfg, tname);
  if (ts == NULL) {
    transport_section *grown = realloc(
        cfg->transports, (cfg->n_transports + 1) * sizeof *cfg->transports);
    if (grown == NULL)
      return fail(ps, DQ_ENOMEM, "out of memory");
    cfg->transports = grown;
    ts = &cfg->transports[cfg->n_transports];
    memset(ts, 0, sizeof *ts);
    ts->name = dup_str(tname);
    if (ts->name == NULL)
      return fail(ps, DQ_ENOMEM, "out of memory");
    cfg->n_transports++;
  }
  /* Options are the plugin's business: handed over untouched, in order. */
  if (dq_strlist_push(&ts->keys, key, (size_t)-1) < 0 ||
      dq_strlist_push(&ts->values, value, (size_t)-1) < 0)
    return fail(ps, DQ_ENOMEM, "out of memory");
  return 1;
}

/* Records where section/key was set; fails naming both lines when it was
 * set before (an indented continuation line counts as setting it again). */
static int note_key(parse_state *ps, const char *section, const char *key) {
  /* [workers] discover is a list: each line adds a name to resolve. */
  if (strcmp(section, "workers") == 0 && strcmp(key, "discover") == 0)
    return 1;
  size_t sl = strlen(section), kl = strlen(key);
  char buf[2 * 200 + 2]; /* inih's own name limits are smaller */
  if (sl + 1 + kl > sizeof buf)
    return fail(ps, DQ_ECONFIG, "key '%s' in [%s] is too long", key, section);
  memcpy(buf, section, sl);
  buf[sl] = '\0';
  memcpy(buf + sl + 1, key, kl);
  intptr_t first = (intptr_t)dq_hmap_get(&ps->seen, buf, sl + 1 + kl);
  if (first != 0)
    return fail(ps, DQ_ECONFIG,
                "'%s' in [%s] is set twice (lines %ld and %d): remove one",
                key, section, (long)first, ps->line);
  if (dq_hmap_put(&ps->seen, buf, sl + 1 + kl, (void *)(intptr_t)ps->line) <
      0)
    return fail(ps, DQ_ENOMEM, "out of memory");
  return 1;
}

/* [tables] NAME = SPEC: the SQL catalog's tables.  The spec's form
 * (csv:GLOB, arrow:GLOB, tpch:TABLE) is checked here so that a typo is
 * reported with its line; what the files hold is the SQL layer's business. */
static int handle_table(parse_state *ps, const char *key, const char *value) {
  static const char *const kinds[] = {"csv:", "arrow:", "tpch:"};
  bool known = false;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strncmp(value, kinds[i], strlen(kinds[i])) == 0 &&
        value[strlen(kinds[i])] != '\0')
      known = true;
  if (!known)
    return fail(ps, DQ_ECONFIG,
                "[tables] %s = '%s' is not a table spec (expected csv:GLOB, "
                "arrow:GLOB or tpch:TABLE)",
                key, value);
  for (size_t i = 0; i < ps->cfg->table_names.n; i++)
    if (strcasecmp(ps->cfg->table_names.items[i], key) == 0)
      return fail(ps, DQ_ECONFIG, "[tables] names table '%s' twice", key);
  if (dq_strlist_push(&ps->cfg->table_names, key, (size_t)-1) < 0 ||
      dq_strlist_push(&ps->cfg->table_specs, value, (size_t)-1) < 0)
    return fail(ps, DQ_ENOMEM, "out of memory");
  return 1;
}

/* [tpch] scale = SF: the scale of tpch:TABLE tables. */
static int handle_tpch(parse_state *ps, const char *key, const char *value) {
  if (strcmp(key, "scale") != 0)
    return fail(ps, DQ_ECONFIG, "unknown key '%s' in [tpch] (known: scale)",
                key);
  char *end;
  errno = 0;
  double sf = strtod(value, &end);
  if (end == value || *end != '\0' || errno != 0 || !(sf > 0) ||
      sf > 100000)
    return fail(ps, DQ_ECONFIG,
                "[tpch] scale must be a number > 0 and <= 100000, not '%s'",
                value);
  ps->cfg->tpch_scale = sf;
  return 1;
}

static int handler(void *user, const char *section, const char *key,
                   const char *value) {
  parse_state *ps = user;
  if (ps->err_line != 0)
    return 0; /* keep the first error only */
  if (!note_key(ps, section, key))
    return 0;
  if (strcmp(section, "dq") == 0)
    return handle_dq(ps, key, value);
  if (strcmp(section, "executor") == 0)
    return handle_executor(ps, key, value);
  if (strncmp(section, "transport.", 10) == 0)
    return handle_transport(ps, section + 10, key, value);
  if (strcmp(section, "worker") == 0) {
    if (strcmp(key, "data_dirs") != 0)
      return fail(ps, DQ_ECONFIG,
                  "unknown key '%s' in [worker] (known keys: data_dirs)",
                  key);
    for (const char *p = value; *p; p = strchr(p, ':') ? strchr(p, ':') + 1
                                                      : p + strlen(p))
      if (*p != '/')
        return fail(ps, DQ_ECONFIG,
                    "[worker] data_dirs = '%s': every directory must be an "
                    "absolute path (colon-separated)",
                    value);
    if (dq_strlist_push_path(&ps->cfg->data_dirs, value) < 0)
      return fail(ps, DQ_ENOMEM, "out of memory");
    ps->cfg->data_dirs_set = 1;
    return 1;
  }
  if (strcmp(section, "workers") == 0 && strcmp(key, "discover") == 0) {
    /* dns:NAME:PORT — every address of NAME, resolved for each query
     * (libdq/runtime/membership.c); checked here so a typo is a config
     * error with its line, not a query that finds no worker. */
    const char *name = strncmp(value, "dns:", 4) == 0 ? value + 4 : NULL;
    const char *colon = name ? strrchr(name, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (name == NULL || colon == NULL || colon == name || end == colon + 1 ||
        *end != '\0' || port < 1 || port > 65535)
      return fail(ps, DQ_ECONFIG,
                  "[workers] discover = '%s' is not dns:NAME:PORT (a host "
                  "name whose every address runs a worker, and a port "
                  "from 1 to 65535)",
                  value);
    if (dq_strlist_push(&ps->cfg->discover, value, (size_t)-1) < 0)
      return fail(ps, DQ_ENOMEM, "out of memory");
    return 1;
  }
  if (strcmp(section, "workers") == 0) {
    if (strstr(value, "://") == NULL)
      return fail(ps, DQ_ECONFIG,
                  "[workers] %s = '%s' is not a worker URL "
                  "(expected SCHEME://ADDRESS, e.g. grpc://host:port)",
                  key, value);
    if (dq_strlist_push(&ps->cfg->workers, value, (size_t)-1) < 0)
      return fail(ps, DQ_ENOMEM, "out of memory");
    return 1;
  }
  if (strcmp(section, "tables") == 0)
    return handle_table(ps, key, value);
  if (strcmp(section, "tpch") == 0)
    return handle_tpch(ps, key, value);
  if (section[0] == '\0')
    return fail(ps, DQ_ECONFIG,
                "'%s' is outside any section (start with [dq])", key);
  return fail(ps, DQ_ECONFIG,
              "unknown section [%s] (known: [dq], [executor], [workers], "
              "[worker], [transport.NAME], [tables], [tpch])",
              section);
}

/* Applies the environment and computes the plugin search order. */
static int finish(dq_config *cfg, dq_error *err) {
  const char *env_transport = getenv("DQ_TRANSPORT");
  if (env_transport != NULL && *env_transport != '\0') {
    if (!valid_transport_name(env_transport))
      return dq_error_set(err, DQ_ECONFIG,
                          "DQ_TRANSPORT='%s' is not a valid transport name "
                          "(letters, digits and '_')",
                          env_transport);
    char *t = dup_str(env_transport);
    if (t == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    free(cfg->transport);
    cfg->transport = t;
  }
  dq_strlist_free(&cfg->plugin_dirs);
  const char *env_path = getenv("DQ_PLUGIN_PATH");
  if (env_path != NULL && dq_strlist_push_path(&cfg->plugin_dirs, env_path) < 0)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  for (size_t i = 0; i < cfg->file_plugin_path.n; i++)
    if (dq_strlist_push(&cfg->plugin_dirs, cfg->file_plugin_path.items[i],
                        (size_t)-1) < 0)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
  if (dq_strlist_push(&cfg->plugin_dirs, DQ_PLUGIN_DIR, (size_t)-1) < 0)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  for (size_t i = 0; i < cfg->n_transports; i++) {
    transport_section *ts = &cfg->transports[i];
    free(ts->kv);
    ts->kv = calloc(ts->keys.n ? ts->keys.n : 1, sizeof *ts->kv);
    if (ts->kv == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    for (size_t k = 0; k < ts->keys.n; k++) {
      ts->kv[k].key = ts->keys.items[k];
      ts->kv[k].value = ts->values.items[k];
    }
  }
  return 0;
}

static int parse_text(const char *text, const char *name, dq_config **out,
                      dq_error *err) {
  *out = NULL;
  dq_config *cfg = config_new();
  if (cfg == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  parse_state ps = {.cfg = cfg, .name = name, .text = text};
  int rc = ini_parse_stream(read_line, &ps, handler, &ps);
  dq_hmap_clear(&ps.seen);
  if (rc != 0 || ps.err_line != 0) {
    int code;
    if (ps.err_line != 0 && (rc <= 0 || ps.err_line <= rc))
      code = dq_error_set(err, ps.err_code, "%s:%d: %s", name, ps.err_line,
                          ps.err_msg);
    else if (rc > 0)
      code = dq_error_set(err, DQ_ECONFIG,
                          "%s:%d: syntax error (expected '[section]', "
                          "'key = value' or a ';' comment)",
                          name, rc);
    else
      code = dq_error_set(err, DQ_ENOMEM, "%s: out of memory while parsing",
                          name);
    dq_config_free(cfg);
    return code;
  }
  rc = finish(cfg, err);
  if (rc < 0) {
    dq_config_free(cfg);
    return rc;
  }
  *out = cfg;
  return 0;
}

int dq_config_parse(const char *text, const char *name, dq_config **out,
                    dq_error *err) {
  if (out == NULL || text == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_config_parse: NULL argument");
  return parse_text(text, name ? name : "<string>", out, err);
}

/* Reads a whole file; config files are small, so a size cap keeps a wrong
 * path (say, a binary) from being slurped. */
static int read_file(const char *path, char **out, dq_error *err) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return dq_error_set(err, errno == ENOENT ? DQ_ENOENT : DQ_EIO,
                        "cannot open config file %s: %s", path,
                        strerror(errno));
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  int rc = 0;
  while (buf != NULL) {
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0)
      break;
    if (len + 1 == cap) {
      if (cap >= (1u << 20)) {
        rc = dq_error_set(err, DQ_ECONFIG,
                          "config file %s is larger than 1 MiB", path);
        break;
      }
      char *grown = realloc(buf, cap * 2);
      if (grown == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
  }
  if (buf == NULL)
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory reading %s", path);
  else if (rc == 0 && ferror(f))
    rc = dq_error_set(err, DQ_EIO, "cannot read config file %s", path);
  fclose(f);
  if (rc < 0) {
    free(buf);
    return rc;
  }
  if (memchr(buf, '\0', len) != NULL) {
    free(buf);
    return dq_error_set(err, DQ_ECONFIG,
                        "config file %s contains a NUL byte (not a text file?)",
                        path);
  }
  buf[len] = '\0';
  *out = buf;
  return 0;
}

int dq_config_load(const char *path, dq_config **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_config_load: NULL argument");
  *out = NULL;
  if (path == NULL || *path == '\0') {
    path = getenv("DQ_CONFIG");
    if (path != NULL && *path == '\0')
      path = NULL;
  }
  if (path == NULL)
    return parse_text("", "<defaults>", out, err);
  char *text = NULL;
  int rc = read_file(path, &text, err);
  if (rc < 0)
    return rc;
  rc = parse_text(text, path, out, err);
  free(text);
  if (rc == 0) {
    (*out)->path = dup_str(path);
    if ((*out)->path == NULL) {
      dq_config_free(*out);
      *out = NULL;
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    }
  }
  return rc;
}

/* --- accessors ------------------------------------------------------------*/

const char *dq_config_transport(const dq_config *cfg) { return cfg->transport; }

int dq_config_set_transport(dq_config *cfg, const char *name, dq_error *err) {
  if (name == NULL || !valid_transport_name(name))
    return dq_error_set(err, DQ_EINVAL,
                        "'%s' is not a valid transport name "
                        "(letters, digits and '_')",
                        name ? name : "(null)");
  char *t = dup_str(name);
  if (t == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  free(cfg->transport);
  cfg->transport = t;
  return 0;
}

const char *dq_config_path(const dq_config *cfg) { return cfg->path; }

size_t dq_config_n_plugin_dirs(const dq_config *cfg) {
  return cfg->plugin_dirs.n;
}

const char *dq_config_plugin_dir(const dq_config *cfg, size_t i) {
  return i < cfg->plugin_dirs.n ? cfg->plugin_dirs.items[i] : NULL;
}

const dq_kv *dq_config_transport_options(const dq_config *cfg,
                                         const char *name, size_t *n) {
  for (size_t i = 0; i < cfg->n_transports; i++)
    if (strcmp(cfg->transports[i].name, name) == 0) {
      *n = cfg->transports[i].keys.n;
      return cfg->transports[i].kv;
    }
  *n = 0;
  return NULL;
}

size_t dq_config_n_workers(const dq_config *cfg) { return cfg->workers.n; }

const char *dq_config_worker(const dq_config *cfg, size_t i) {
  return i < cfg->workers.n ? cfg->workers.items[i] : NULL;
}

size_t dq_config_n_discover(const dq_config *cfg) {
  return cfg->discover.n;
}

const char *dq_config_discover(const dq_config *cfg, size_t i) {
  return i < cfg->discover.n ? cfg->discover.items[i] : NULL;
}

size_t dq_config_n_tables(const dq_config *cfg) {
  return cfg->table_names.n;
}

const char *dq_config_table_name(const dq_config *cfg, size_t i) {
  return i < cfg->table_names.n ? cfg->table_names.items[i] : NULL;
}

const char *dq_config_table_spec(const dq_config *cfg, size_t i) {
  return i < cfg->table_specs.n ? cfg->table_specs.items[i] : NULL;
}

double dq_config_tpch_scale(const dq_config *cfg) { return cfg->tpch_scale; }

int64_t dq_config_executor(const dq_config *cfg, const char *name) {
  for (size_t i = 0; i < N_EXECUTOR_KEYS; i++)
    if (strcmp(executor_keys[i].name, name) == 0)
      return cfg->executor[i];
  return 0;
}

const char *dq_plugin_dir(void) { return DQ_PLUGIN_DIR; }

int dq_config_data_dirs(const dq_config *cfg, size_t *n,
                        const char *const **dirs) {
  *n = cfg->data_dirs.n;
  *dirs = (const char *const *)cfg->data_dirs.items;
  return cfg->data_dirs_set;
}
