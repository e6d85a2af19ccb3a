/* config.h — what libdq reads from a dq_config beyond the public accessors
 * of <dq/dq.h>: settings of sections only libdq's own layers use. */
#ifndef DQ_HOST_CONFIG_H
#define DQ_HOST_CONFIG_H

#include <stddef.h>

#include <dq/dq.h>

/* [worker] data_dirs of cfg: 1 when the key is given (n may be 0: no file
 * at all), 0 when it is not (then *dirs is empty). */
int dq_config_data_dirs(const dq_config *cfg, size_t *n,
                        const char *const **dirs);

#endif /* DQ_HOST_CONFIG_H */
