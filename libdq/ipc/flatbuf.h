/* flatbuf.h — the few pieces of the FlatBuffers binary format that the Arrow
 * IPC codec needs: a back-to-front builder and a verifying reader.
 *
 * No flatbuffers library is packaged for Debian 12, and the Arrow metadata
 * uses a handful of tables only, so dq carries its own ~400 lines instead of
 * generated code.  The format (flatbuffers.dev, "FlatBuffers internals"):
 *  - a buffer starts with a uoffset (u32) to the root table;
 *  - a table starts with an soffset (i32): vtable = table - soffset;
 *  - a vtable is u16 vtable bytes, u16 table bytes, then one u16 per field
 *    giving the field's offset inside the table (0 = absent, use default);
 *  - references to strings, vectors and tables are uoffsets relative to the
 *    place they are stored in, and always point forward;
 *  - vectors and strings are a u32 count followed by the elements (strings
 *    also by a NUL); all scalars are little-endian.
 *
 * The reader trusts nothing: every position is checked against the buffer
 * before it is read, and reads go through memcpy so alignment never matters.
 * Every reader function returns 0 or DQ_EPROTO with a sentence in err naming
 * the field (the `what` argument, e.g. "Message.header").
 */
#ifndef DQ_FLATBUF_H
#define DQ_FLATBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <dq/dq.h>

/* --- Reader --------------------------------------------------------------- */

/* The bytes of one flatbuffer. */
typedef struct fb_buf {
  const uint8_t *data;
  size_t len;
} fb_buf;

/* A verified table: its position and its vtable's, both inside the buffer. */
typedef struct fb_table {
  const fb_buf *buf;
  size_t pos;      /* table start (where its soffset is) */
  size_t vt;       /* vtable start */
  uint16_t vt_len; /* vtable bytes */
  uint16_t tb_len; /* table bytes, from pos */
} fb_table;

/* A verified vector: `n` elements of `elem` bytes from `pos`. */
typedef struct fb_vec {
  const fb_buf *buf;
  size_t pos; /* first element */
  uint32_t n;
  size_t elem;
} fb_vec;

/* The root table. */
int fb_root(const fb_buf *b, const char *what, fb_table *out, dq_error *err);

/* Scalars: *out gets the stored value, or `dflt` when the field is absent. */
int fb_u8(const fb_table *t, unsigned id, uint8_t dflt, const char *what,
          uint8_t *out, dq_error *err);
int fb_i16(const fb_table *t, unsigned id, int16_t dflt, const char *what,
           int16_t *out, dq_error *err);
int fb_i32(const fb_table *t, unsigned id, int32_t dflt, const char *what,
           int32_t *out, dq_error *err);
int fb_i64(const fb_table *t, unsigned id, int64_t dflt, const char *what,
           int64_t *out, dq_error *err);

/* References.  *present says whether the field is there; when it is absent
 * the out struct is zeroed and 0 is returned. */
int fb_table_field(const fb_table *t, unsigned id, const char *what,
                   fb_table *out, bool *present, dq_error *err);
/* A string: *s points into the buffer (NUL-terminated, checked), *n bytes. */
int fb_string(const fb_table *t, unsigned id, const char *what,
              const char **s, uint32_t *n, bool *present, dq_error *err);
/* A vector of `elem`-byte scalars or structs, or of tables (elem = 4). */
int fb_vector(const fb_table *t, unsigned id, size_t elem, const char *what,
              fb_vec *out, bool *present, dq_error *err);
/* Element i (< v->n) of a vector of tables. */
int fb_vec_table(const fb_vec *v, uint32_t i, const char *what,
                 fb_table *out, dq_error *err);
/* Little-endian loads from a verified position. */
int64_t fb_load_i64(const uint8_t *p);

/* --- Builder ---------------------------------------------------------------
 * Objects are written back to front, children before the tables that refer
 * to them, as the reference builder does: that is what keeps uoffsets
 * pointing forward.  A reference (fb_ref) is an object's distance from the
 * end of the buffer, which does not move as the buffer grows at the front.
 * Allocation failures are sticky: check fbb_finish's result only. */
typedef uint32_t fb_ref;

#define FBB_MAX_FIELDS 8

typedef struct fbb {
  uint8_t *buf; /* data is the last `size` bytes of buf[0..cap) */
  size_t cap;
  size_t size;
  size_t minalign;
  bool oom;
  size_t table_start;
  uint32_t field_at[FBB_MAX_FIELDS]; /* distance from end, 0 = absent */
  unsigned n_fields;
} fbb;

void fbb_init(fbb *b);
void fbb_free(fbb *b);

fb_ref fbb_string(fbb *b, const char *s, size_t n);
/* A vector of n structs of `elem` bytes each, aligned to `align`, from the
 * little-endian bytes in `data` (n * elem bytes). */
fb_ref fbb_struct_vector(fbb *b, const void *data, size_t n, size_t elem,
                         size_t align);
fb_ref fbb_ref_vector(fbb *b, const fb_ref *refs, size_t n);

void fbb_table_start(fbb *b);
void fbb_add_u8(fbb *b, unsigned id, uint8_t v);
void fbb_add_i16(fbb *b, unsigned id, int16_t v);
void fbb_add_i32(fbb *b, unsigned id, int32_t v);
void fbb_add_i64(fbb *b, unsigned id, int64_t v);
void fbb_add_ref(fbb *b, unsigned id, fb_ref r);
fb_ref fbb_table_end(fbb *b);

/* Writes the root offset.  Returns 0 with *data and *len the finished buffer
 * (owned by b, valid until fbb_free), or DQ_ENOMEM. */
int fbb_finish(fbb *b, fb_ref root, const uint8_t **data, size_t *len);

#endif /* DQ_FLATBUF_H */
