/* flatbuf.c — the FlatBuffers builder and verifying reader behind the Arrow
 * IPC codec (see flatbuf.h for the format summary).
 *
 * Reader rule: a position is compared with the buffer length in size_t
 * arithmetic widened from 32-bit values, so no sum below can wrap on a 64-bit
 * size_t; every check happens before the bytes it guards are read.
 */
#include <stdlib.h>
#include <string.h>

#include "ipc/flatbuf.h"

/* --- Reader --------------------------------------------------------------- */

static uint16_t ld16(const uint8_t *p) {
  return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}
static uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t ld64(const uint8_t *p) {
  return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}
int64_t fb_load_i64(const uint8_t *p) { return (int64_t)ld64(p); }

/* Is [pos, pos + n) inside the buffer? */
static bool in_buf(const fb_buf *b, size_t pos, size_t n) {
  return pos <= b->len && n <= b->len - pos;
}

static int table_at(const fb_buf *b, size_t pos, const char *what,
                    fb_table *out, dq_error *err) {
  if (!in_buf(b, pos, 4))
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: %s table at %zu is "
                        "past the end of the %zu-byte flatbuffer",
                        what, pos, b->len);
  int32_t soff = (int32_t)ld32(b->data + pos);
  /* vtable = table - soffset, computed in signed 64 bits */
  int64_t vt = (int64_t)pos - (int64_t)soff;
  if (vt < 0 || !in_buf(b, (size_t)vt, 4))
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: the vtable of %s "
                        "(at %lld) is outside the %zu-byte flatbuffer",
                        what, (long long)vt, b->len);
  uint16_t vt_len = ld16(b->data + vt);
  uint16_t tb_len = ld16(b->data + vt + 2);
  if (vt_len < 4 || (vt_len & 1) || !in_buf(b, (size_t)vt, vt_len))
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: the vtable of %s "
                        "claims %u bytes, which is invalid or past the end",
                        what, vt_len);
  if (tb_len < 4 || !in_buf(b, pos, tb_len))
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: %s claims a %u-byte "
                        "table, which is invalid or past the end",
                        what, tb_len);
  out->buf = b;
  out->pos = pos;
  out->vt = (size_t)vt;
  out->vt_len = vt_len;
  out->tb_len = tb_len;
  return 0;
}

int fb_root(const fb_buf *b, const char *what, fb_table *out, dq_error *err) {
  if (!in_buf(b, 0, 4))
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: a %zu-byte flatbuffer "
                        "is too short to hold a root offset",
                        b->len);
  return table_at(b, ld32(b->data), what, out, err);
}

/* The field's bytes inside its table, or NULL when absent.  A field that
 * does not fit inside the table's own declared size is an error. */
static int field(const fb_table *t, unsigned id, size_t size, const char *what,
                 const uint8_t **p, dq_error *err) {
  size_t slot = 4 + 2 * (size_t)id;
  *p = NULL;
  if (slot + 2 > t->vt_len)
    return 0;
  uint16_t off = ld16(t->buf->data + t->vt + slot);
  if (off == 0)
    return 0;
  if (off < 4 || (size_t)off + size > t->tb_len)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: field %s lies at "
                        "offset %u outside its %u-byte table",
                        what, off, t->tb_len);
  *p = t->buf->data + t->pos + off;
  return 0;
}

int fb_u8(const fb_table *t, unsigned id, uint8_t dflt, const char *what,
          uint8_t *out, dq_error *err) {
  const uint8_t *p;
  int rc = field(t, id, 1, what, &p, err);
  *out = p ? p[0] : dflt;
  return rc;
}
int fb_i16(const fb_table *t, unsigned id, int16_t dflt, const char *what,
           int16_t *out, dq_error *err) {
  const uint8_t *p;
  int rc = field(t, id, 2, what, &p, err);
  *out = p ? (int16_t)ld16(p) : dflt;
  return rc;
}
int fb_i32(const fb_table *t, unsigned id, int32_t dflt, const char *what,
           int32_t *out, dq_error *err) {
  const uint8_t *p;
  int rc = field(t, id, 4, what, &p, err);
  *out = p ? (int32_t)ld32(p) : dflt;
  return rc;
}
int fb_i64(const fb_table *t, unsigned id, int64_t dflt, const char *what,
           int64_t *out, dq_error *err) {
  const uint8_t *p;
  int rc = field(t, id, 8, what, &p, err);
  *out = p ? (int64_t)ld64(p) : dflt;
  return rc;
}

/* Follows a uoffset field; *target is where it points (checked for 4 bytes,
 * the least any referenced object has: a soffset or a count). */
static int follow(const fb_table *t, unsigned id, const char *what,
                  size_t *target, bool *present, dq_error *err) {
  const uint8_t *p;
  int rc = field(t, id, 4, what, &p, err);
  *present = false;
  if (rc != 0 || p == NULL)
    return rc;
  size_t at = (size_t)(p - t->buf->data);
  size_t to = at + ld32(p); /* at < 2^32 + small, so no wrap */
  if (!in_buf(t->buf, to, 4))
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: %s points to %zu, past "
                        "the end of the %zu-byte flatbuffer",
                        what, to, t->buf->len);
  *target = to;
  *present = true;
  return 0;
}

int fb_table_field(const fb_table *t, unsigned id, const char *what,
                   fb_table *out, bool *present, dq_error *err) {
  size_t to;
  memset(out, 0, sizeof *out);
  int rc = follow(t, id, what, &to, present, err);
  if (rc != 0 || !*present)
    return rc;
  return table_at(t->buf, to, what, out, err);
}

int fb_string(const fb_table *t, unsigned id, const char *what,
              const char **s, uint32_t *n, bool *present, dq_error *err) {
  size_t to;
  *s = NULL;
  *n = 0;
  int rc = follow(t, id, what, &to, present, err);
  if (rc != 0 || !*present)
    return rc;
  uint32_t len = ld32(t->buf->data + to);
  if (!in_buf(t->buf, to + 4, (size_t)len + 1) ||
      t->buf->data[to + 4 + len] != 0)
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: string %s (%u bytes) "
                        "runs past the end of the flatbuffer or lacks its "
                        "terminating NUL",
                        what, len);
  *s = (const char *)t->buf->data + to + 4;
  *n = len;
  return 0;
}

int fb_vector(const fb_table *t, unsigned id, size_t elem, const char *what,
              fb_vec *out, bool *present, dq_error *err) {
  size_t to;
  memset(out, 0, sizeof *out);
  int rc = follow(t, id, what, &to, present, err);
  if (rc != 0 || !*present)
    return rc;
  uint32_t n = ld32(t->buf->data + to);
  /* n < 2^32 and elem <= 16: the product fits in 64 bits */
  if (!in_buf(t->buf, to + 4, (size_t)n * elem))
    return dq_error_set(err, DQ_EPROTO,
                        "malformed Arrow IPC metadata: vector %s claims %u "
                        "elements, more than the flatbuffer holds",
                        what, n);
  out->buf = t->buf;
  out->pos = to + 4;
  out->n = n;
  out->elem = elem;
  return 0;
}

int fb_vec_table(const fb_vec *v, uint32_t i, const char *what,
                 fb_table *out, dq_error *err) {
  size_t at = v->pos + (size_t)i * 4; /* inside the vector: checked above */
  size_t to = at + ld32(v->buf->data + at);
  return table_at(v->buf, to, what, out, err);
}

/* --- Builder -------------------------------------------------------------- */

void fbb_init(fbb *b) { memset(b, 0, sizeof *b); b->minalign = 1; }

void fbb_free(fbb *b) {
  free(b->buf);
  memset(b, 0, sizeof *b);
}

/* Makes room for n more bytes at the front. */
static bool grow(fbb *b, size_t n) {
  if (b->oom)
    return false;
  if (b->cap - b->size >= n)
    return true;
  size_t cap = b->cap ? b->cap : 512;
  while (cap - b->size < n) {
    if (cap > SIZE_MAX / 2 || cap >= UINT32_MAX / 2) {
      b->oom = true; /* flatbuffers cannot exceed 2 GiB anyway */
      return false;
    }
    cap *= 2;
  }
  uint8_t *nb = malloc(cap);
  if (nb == NULL) {
    b->oom = true;
    return false;
  }
  if (b->size)
    memcpy(nb + cap - b->size, b->buf + b->cap - b->size, b->size);
  free(b->buf);
  b->buf = nb;
  b->cap = cap;
  return true;
}

static void push(fbb *b, const void *p, size_t n) {
  if (n == 0) /* p may be NULL (an empty vector): memcpy would be UB */
    return;
  if (!grow(b, n))
    return;
  b->size += n;
  memcpy(b->buf + b->cap - b->size, p, n);
}

static void pad(fbb *b, size_t n) {
  static const uint8_t zeros[16];
  while (n > 0) {
    size_t k = n < sizeof zeros ? n : sizeof zeros;
    push(b, zeros, k);
    n -= k;
  }
}

/* Pads so that, once `extra` more bytes are written, the data written so far
 * ends `align`-aligned measured from the end of the buffer (which becomes
 * alignment from its start once fbb_finish pads to minalign). */
static void prep(fbb *b, size_t align, size_t extra) {
  if (align > b->minalign)
    b->minalign = align;
  size_t p = (~(b->size + extra) + 1) & (align - 1);
  pad(b, p);
}

static void put_u16(fbb *b, uint16_t v) {
  uint8_t le[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  push(b, le, 2);
}
static void put_u32(fbb *b, uint32_t v) {
  uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                   (uint8_t)(v >> 24)};
  push(b, le, 4);
}
static void put_u64(fbb *b, uint64_t v) {
  put_u32(b, (uint32_t)(v >> 32));
  put_u32(b, (uint32_t)v);
}

/* A uoffset to r, written at the current front. */
static void put_ref(fbb *b, fb_ref r) {
  prep(b, 4, 0);
  put_u32(b, (uint32_t)(b->size + 4 - r));
}

fb_ref fbb_string(fbb *b, const char *s, size_t n) {
  prep(b, 4, n + 1);
  pad(b, 1); /* the NUL */
  push(b, s, n);
  put_u32(b, (uint32_t)n);
  return (fb_ref)b->size;
}

fb_ref fbb_struct_vector(fbb *b, const void *data, size_t n, size_t elem,
                         size_t align) {
  prep(b, 4, n * elem);
  prep(b, align, n * elem);
  push(b, data, n * elem);
  prep(b, 4, 0);
  put_u32(b, (uint32_t)n);
  return (fb_ref)b->size;
}

fb_ref fbb_ref_vector(fbb *b, const fb_ref *refs, size_t n) {
  prep(b, 4, n * 4);
  for (size_t i = n; i-- > 0;)
    put_ref(b, refs[i]);
  put_u32(b, (uint32_t)n);
  return (fb_ref)b->size;
}

void fbb_table_start(fbb *b) {
  memset(b->field_at, 0, sizeof b->field_at);
  b->n_fields = 0;
  b->table_start = b->size;
}

static void note_field(fbb *b, unsigned id) {
  if (id >= FBB_MAX_FIELDS) {
    b->oom = true; /* a programming error; surfaces as a failed finish */
    return;
  }
  b->field_at[id] = (uint32_t)b->size;
  if (id + 1 > b->n_fields)
    b->n_fields = id + 1;
}

void fbb_add_u8(fbb *b, unsigned id, uint8_t v) {
  push(b, &v, 1);
  note_field(b, id);
}
void fbb_add_i16(fbb *b, unsigned id, int16_t v) {
  prep(b, 2, 0);
  put_u16(b, (uint16_t)v);
  note_field(b, id);
}
void fbb_add_i32(fbb *b, unsigned id, int32_t v) {
  prep(b, 4, 0);
  put_u32(b, (uint32_t)v);
  note_field(b, id);
}
void fbb_add_i64(fbb *b, unsigned id, int64_t v) {
  prep(b, 8, 0);
  put_u64(b, (uint64_t)v);
  note_field(b, id);
}
void fbb_add_ref(fbb *b, unsigned id, fb_ref r) {
  put_ref(b, r);
  note_field(b, id);
}

fb_ref fbb_table_end(fbb *b) {
  prep(b, 4, 0);
  put_u32(b, 0); /* soffset placeholder */
  fb_ref table = (fb_ref)b->size;
  size_t tb_len = table - b->table_start;
  for (unsigned i = b->n_fields; i-- > 0;)
    put_u16(b, b->field_at[i] ? (uint16_t)(table - b->field_at[i]) : 0);
  put_u16(b, (uint16_t)tb_len);
  put_u16(b, (uint16_t)(4 + 2 * b->n_fields));
  if (b->oom)
    return 0;
  /* vtable precedes the table: soffset = table - vtable > 0 */
  int32_t soff = (int32_t)(b->size - table);
  uint8_t *at = b->buf + b->cap - table;
  uint32_t u = (uint32_t)soff;
  uint8_t le[4] = {(uint8_t)u, (uint8_t)(u >> 8), (uint8_t)(u >> 16),
                   (uint8_t)(u >> 24)};
  memcpy(at, le, 4);
  return table;
}

int fbb_finish(fbb *b, fb_ref root, const uint8_t **data, size_t *len) {
  prep(b, b->minalign, 4);
  put_ref(b, root);
  if (b->oom)
    return DQ_ENOMEM;
  *data = b->buf + b->cap - b->size;
  *len = b->size;
  return 0;
}
