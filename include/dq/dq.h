/* dq/dq.h — the embedding API of libdq: errors, configuration, contexts.
 *
 * Every fallible function returns 0 on success or a negative DQ_E* code, and
 * fills the caller's dq_error (when not NULL) with a sentence saying what went
 * wrong and, where it applies, which worker and which task.  No function
 * aborts on bad input.
 *
 * Threading: a dq_config is immutable once loaded and may be shared between
 * threads; a dq_context may be used from several threads at once.
 */
#ifndef DQ_DQ_H
#define DQ_DQ_H

#include <stddef.h>
#include <stdint.h>

#include <dq/arrow.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DQ_EXPORT __attribute__((visibility("default")))
#define DQ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DQ_EXPORT
#define DQ_PRINTF(f, a)
#endif

/* The version of dq these headers belong to; dq_version() gives the one of
 * the libdq actually loaded at run time, which may be newer (docs/abi.md:
 * a program built against one minor version runs with any later one of the
 * same major). */
#define DQ_VERSION_STRING "0.1.0"
#define DQ_VERSION_MAJOR 0
#define DQ_VERSION_MINOR 1
#define DQ_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH, for #if and run-time comparisons. */
#define DQ_VERSION_NUMBER \
  (DQ_VERSION_MAJOR * 10000 + DQ_VERSION_MINOR * 100 + DQ_VERSION_PATCH)

/* Error codes: every one is negative; 0 is success. */
enum {
  DQ_OK = 0,
  DQ_EINVAL = -1,       /* an argument or input is malformed */
  DQ_ENOMEM = -2,       /* an allocation failed */
  DQ_ENOENT = -3,       /* a named thing (file, plugin, task) does not exist */
  DQ_EIO = -4,          /* an operating-system call failed */
  DQ_ECONFIG = -5,      /* the configuration is invalid */
  DQ_EPLUGIN = -6,      /* a plugin could not be loaded or failed to start */
  DQ_EABI = -7,         /* a plugin is built for another ABI */
  DQ_ECANCELED = -8,    /* the operation was cancelled */
  DQ_ETIMEDOUT = -9,    /* a deadline passed */
  DQ_EPROTO = -10,      /* a peer sent a malformed or unexpected message */
  DQ_EUNAVAILABLE = -11,/* a peer is unreachable or died */
  DQ_EEXEC = -12,       /* query execution failed */
  DQ_ETOOBIG = -13,     /* a message or value exceeds a configured limit */
  DQ_EUNSUPPORTED = -14,/* valid, but not supported by this build */
  DQ_EINTERNAL = -15,   /* a bug in dq: please report it */
  DQ_EPERM = -16        /* refused by policy (a file outside the worker's
                         * [worker] data_dirs) */
};

/* Identity of one task of one query: DESIGN.md's TaskKey. */
typedef struct dq_task_key {
  uint8_t query_id[16]; /* UUID of the query execution */
  uint32_t stage_id;    /* stages are numbered bottom-up from 1 */
  uint32_t task_number; /* 0-based within the stage */
} dq_task_key;

/* A structured error.  Fixed size, so it can be filled without allocating
 * (including when memory has run out).  Fill it with dq_error_set(). */
typedef struct dq_error {
  int code;             /* a DQ_E* code, or 0 */
  int has_task;         /* non-zero when `task` names the failing task */
  dq_task_key task;
  char worker_url[256]; /* the worker the error happened on, or "" */
  char message[512];    /* a sentence, NUL-terminated, never empty on error */
} dq_error;

/* Sets err (if not NULL) to code and a printf-formatted message, with no
 * worker URL or task (add them with dq_error_set_origin); returns code, so
 * that `return dq_error_set(err, DQ_EINVAL, "...")` reads naturally.  err
 * need not be initialised.  To pass an error on, copy the struct whole. */
DQ_EXPORT int dq_error_set(dq_error *err, int code, const char *fmt, ...)
    DQ_PRINTF(3, 4);
/* Records where an error happened (either may be NULL to leave it as is). */
DQ_EXPORT void dq_error_set_origin(dq_error *err, const char *worker_url,
                                   const dq_task_key *task);
/* Clears err to "no error". */
DQ_EXPORT void dq_error_clear(dq_error *err);
/* The name of a DQ_E* code, e.g. "DQ_EINVAL"; "DQ_E?" for unknown codes. */
DQ_EXPORT const char *dq_strerror(int code);
/* Formats "message (worker URL, task Q/S/T)" into buf; returns buf. */
DQ_EXPORT const char *dq_error_format(const dq_error *err, char *buf,
                                      size_t len);
/* The running libdq's version, "MAJOR.MINOR.PATCH", and the same as
 * DQ_VERSION_NUMBER computes it.  Compare with the macros above to learn
 * whether the library is at least the one a program was built against. */
DQ_EXPORT const char *dq_version(void);
DQ_EXPORT uint32_t dq_version_number(void);

/* Formats a task key as "<uuid>/<stage>/<task>" into buf (>= 64 bytes). */
DQ_EXPORT const char *dq_task_key_format(const dq_task_key *key, char *buf,
                                         size_t len);

/* ---------------------------------------------------------------------------
 * Configuration.
 *
 * Precedence, lowest to highest: built-in defaults; the config file (the one
 * passed to dq_config_load, else $DQ_CONFIG, else none); the environment
 * ($DQ_TRANSPORT replaces `transport`); calls to dq_config_set_transport.
 * Plugin directories are searched in this order: $DQ_PLUGIN_PATH (a colon
 * list), the config's `plugin_path` (a colon list), the compiled-in plugin
 * directory (see dq_plugin_dir()).
 * ------------------------------------------------------------------------- */
typedef struct dq_config dq_config;

/* One key/value pair.  Both strings are NUL-terminated. */
typedef struct dq_kv {
  const char *key;
  const char *value;
} dq_kv;

/* Loads path (or $DQ_CONFIG when path is NULL; defaults when that is unset
 * too) and applies the environment overrides.  Errors name file:line. */
DQ_EXPORT int dq_config_load(const char *path, dq_config **out, dq_error *err);
/* Same, from a string; `name` is used in error messages in place of a path.
 * The environment overrides are applied too. */
DQ_EXPORT int dq_config_parse(const char *text, const char *name,
                              dq_config **out, dq_error *err);
DQ_EXPORT void dq_config_free(dq_config *cfg);

/* The transport to load ("inmem" unless configured otherwise). */
DQ_EXPORT const char *dq_config_transport(const dq_config *cfg);
DQ_EXPORT int dq_config_set_transport(dq_config *cfg, const char *name,
                                      dq_error *err);
/* The file the configuration came from, or NULL. */
DQ_EXPORT const char *dq_config_path(const dq_config *cfg);
/* Plugin search directories, in search order (env, config, built-in). */
DQ_EXPORT size_t dq_config_n_plugin_dirs(const dq_config *cfg);
DQ_EXPORT const char *dq_config_plugin_dir(const dq_config *cfg, size_t i);
/* Options of [transport.NAME], in file order.  The array is owned by cfg. */
DQ_EXPORT const dq_kv *dq_config_transport_options(const dq_config *cfg,
                                                   const char *name,
                                                   size_t *n);
/* Worker URLs of [workers], in file order. */
DQ_EXPORT size_t dq_config_n_workers(const dq_config *cfg);
DQ_EXPORT const char *dq_config_worker(const dq_config *cfg, size_t i);
/* Discovery entries of [workers] (`discover = dns:NAME:PORT`), in file
 * order; dq_workers_resolve (<dq/runtime.h>) turns them into URLs. */
DQ_EXPORT size_t dq_config_n_discover(const dq_config *cfg);
DQ_EXPORT const char *dq_config_discover(const dq_config *cfg, size_t i);
/* Tables of [tables] (NAME = SPEC, SPEC one of csv:GLOB, arrow:GLOB,
 * tpch:TABLE), in file order, for the SQL catalog. */
DQ_EXPORT size_t dq_config_n_tables(const dq_config *cfg);
DQ_EXPORT const char *dq_config_table_name(const dq_config *cfg, size_t i);
DQ_EXPORT const char *dq_config_table_spec(const dq_config *cfg, size_t i);
/* [tpch] scale: the scale factor of tpch:TABLE tables, 0 when not given. */
DQ_EXPORT double dq_config_tpch_scale(const dq_config *cfg);
/* Executor settings of [executor] (see dq.conf(5)); unknown names give 0. */
DQ_EXPORT int64_t dq_config_executor(const dq_config *cfg, const char *name);

/* The compiled-in plugin directory, $(pkglibdir). */
DQ_EXPORT const char *dq_plugin_dir(void);

/* ---------------------------------------------------------------------------
 * Transport plugins found on the search path (what `dq plugins` prints).
 * ------------------------------------------------------------------------- */
typedef struct dq_plugin_info {
  char name[64];         /* module name: the file name without .la/.so */
  char path[1024];       /* the file found (.la when there is one) */
  int shadowed;          /* a directory earlier in the search order has it */
  int loads;             /* passes every check and its init succeeds */
  uint32_t abi_major;    /* what its descriptor says (0 if unread) */
  uint32_t abi_minor;
  char version[64];
  char description[256];
  dq_error error;        /* why it does not load, when loads == 0 */
} dq_plugin_info;

/* Calls cb for every candidate module (every NAME.la, and NAME.so without a
 * .la) in every search directory of cfg, in search order, after trying to
 * load and start it.  A non-zero return from cb stops the walk and is
 * returned. */
DQ_EXPORT int dq_plugin_list(const dq_config *cfg,
                             int (*cb)(const dq_plugin_info *info, void *user),
                             void *user, dq_error *err);

/* ---------------------------------------------------------------------------
 * Contexts: a loaded transport plus its configuration.
 * ------------------------------------------------------------------------- */
typedef struct dq_context dq_context;

/* Loads and starts the configured transport.  cfg may be NULL (the context
 * then loads the defaults and the environment itself); otherwise cfg must
 * stay valid until dq_context_free. */
DQ_EXPORT int dq_context_new(const dq_config *cfg, dq_context **out,
                             dq_error *err);
/* Stops the transport and unloads the plugin when no other context uses it. */
DQ_EXPORT void dq_context_free(dq_context *ctx);
DQ_EXPORT const dq_config *dq_context_config(const dq_context *ctx);
/* Name and version of the loaded transport plugin. */
DQ_EXPORT const char *dq_context_transport_name(const dq_context *ctx);
DQ_EXPORT const char *dq_context_transport_version(const dq_context *ctx);

/* ---------------------------------------------------------------------------
 * Logging: one line per message on stderr, "PROGRAM[PID]: LEVEL: message",
 * for what happens where no caller is waiting for an error (a worker
 * refusing a flood of calls, a peer with the wrong uid, a transport
 * library's own diagnostics).  The level comes from DQ_LOG (error, warn,
 * info, debug; default warn).
 * ------------------------------------------------------------------------- */
enum { DQ_LOG_ERROR = 0, DQ_LOG_WARN = 1, DQ_LOG_INFO = 2, DQ_LOG_DEBUG = 3 };
/* The name lines start with (default "dq"); call before any thread logs. */
DQ_EXPORT void dq_log_set_program(const char *name);
/* Whether a message of this level would be written. */
DQ_EXPORT int dq_log_enabled(int level);
DQ_EXPORT void dq_log(int level, const char *fmt, ...) DQ_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif /* DQ_DQ_H */
