/* file_policy.h — which files a worker's scans may open.  A worker runs
 * any plan a client delivers, and CSV and Arrow IPC scans name paths: with
 * no limit, anyone who can reach a worker reads every file its user can.
 * The policy is `[worker] data_dirs` (absolute directories, colon
 * separated), resolved with realpath when the worker starts; a scan's path
 * is resolved the same way, so neither `..` nor a symlink leads out.
 *
 * Unset, a worker other processes can reach (any transport but inmem)
 * reads only under ./data of the directory it started in; an inmem
 * worker, reachable only from its own process, reads what that process
 * can (no policy). */
#ifndef DQ_FILE_POLICY_H
#define DQ_FILE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include <dq/dq.h>

typedef struct dq_file_policy {
  char **dirs;      /* real paths; a missing directory is left out */
  size_t n;
  char setting[512]; /* "[worker] data_dirs = ..." or the default, for messages */
} dq_file_policy;

/* The policy for a worker: from [worker] data_dirs when `given` (n may be
 * 0: no file at all; host/config_data_dirs.h reads them), or the default
 * (./data) when it is unset.  0 or DQ_ENOMEM. */
int dq_file_policy_init(dq_file_policy *p, bool given, size_t n,
                        const char *const *dirs, dq_error *err);
void dq_file_policy_clear(dq_file_policy *p);

/* Checks path against p (NULL: no policy, every path is fine).  0 with the
 * path to open in real (the resolved path; it is the one checked); or
 * DQ_EPERM naming the path and the setting; DQ_ENOENT when it does not
 * exist inside an allowed directory. */
int dq_file_policy_check(const dq_file_policy *p, const char *path,
                         char *real, size_t len, dq_error *err);

#endif /* DQ_FILE_POLICY_H */
