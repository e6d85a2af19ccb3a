/* ipc_write.c — the encoder half of the Arrow IPC codec: a schema or a batch
 * becomes an encapsulated message (dq_ipc_message).
 *
 * Zero copy is the point: the metadata flatbuffer is built in the message's
 * own memory, and the body is described as slices of the batch's buffers
 * interleaved with padding from a static block of zeros, so a transport can
 * writev() or hand the slices to its network stack as they are.  Only the
 * *_flat() convenience functions copy.
 *
 * Layout choices (the specification allows them, readers rely on none):
 * metadata padded so that prefix + metadata is a multiple of 64 bytes, and
 * each body buffer starts at a multiple of 64 inside the body; together they
 * put every buffer on a 64-byte boundary when the message itself is, which
 * is what lets dq_ipc_decode_batch read a message in place.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <dq/ipc.h>

#include "arrow/batch_internal.h"
#include "ipc/flatbuf.h"
#include "ipc/ipc_format.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "dq writes batch buffers to the wire as they are: little-endian only"
#endif

const uint8_t dq_ipc_eos[8] = {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0};

/* Padding source for body slices: never more than IPC_ALIGN - 1 bytes. */
static const uint8_t zeros[IPC_ALIGN];

struct dq_ipc_message {
  atomic_long refs;
  dq_batch *batch;  /* keeps the body slices alive; NULL for a schema */
  uint8_t *header;  /* prefix + metadata + padding */
  size_t size;      /* bytes of all slices */
  size_t n_slices;
  dq_ipc_slice slices[]; /* [0] is the header */
};

static size_t pad_to(size_t n, size_t a) { return (a - n % a) % a; }

static void put_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}
static void put_le64(uint8_t *p, int64_t v) {
  put_le32(p, (uint32_t)(uint64_t)v);
  put_le32(p + 4, (uint32_t)((uint64_t)v >> 32));
}

/* A message whose header is the finished flatbuffer fb, with room for
 * max_body body slices. */
static int message_new(const uint8_t *fb, size_t fb_len, size_t max_body,
                       dq_ipc_message **out, dq_error *err) {
  size_t hdr = IPC_PREFIX + fb_len;
  hdr += pad_to(hdr, IPC_ALIGN);
  if (hdr - IPC_PREFIX > INT32_MAX)
    return dq_error_set(err, DQ_ETOOBIG,
                        "Arrow IPC metadata of %zu bytes exceeds the int32 "
                        "length field",
                        fb_len);
  dq_ipc_message *m =
      calloc(1, sizeof *m + (1 + max_body) * sizeof(dq_ipc_slice));
  uint8_t *h = calloc(1, hdr);
  if (m == NULL || h == NULL) {
    free(m);
    free(h);
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding an Arrow IPC "
                                        "message");
  }
  put_le32(h, IPC_CONTINUATION);
  put_le32(h + 4, (uint32_t)(hdr - IPC_PREFIX));
  memcpy(h + IPC_PREFIX, fb, fb_len);
  atomic_init(&m->refs, 1);
  m->header = h;
  m->slices[0].data = h;
  m->slices[0].len = hdr;
  m->n_slices = 1;
  m->size = hdr;
  *out = m;
  return 0;
}

/* Message { version, header_type, header, bodyLength } */
static fb_ref message_table(fbb *b, uint8_t header_type, fb_ref header,
                            int64_t body_len) {
  fbb_table_start(b);
  fbb_add_i64(b, MSG_BODY_LENGTH, body_len);
  fbb_add_ref(b, MSG_HEADER, header);
  fbb_add_i16(b, MSG_VERSION, IPC_V5);
  fbb_add_u8(b, MSG_HEADER_TYPE, header_type);
  return fbb_table_end(b);
}

/* The type table of one field; *type_id gets its union member number. */
static int type_table(fbb *b, dq_type t, uint8_t *type_id, fb_ref *out,
                      dq_error *err) {
  fbb_table_start(b);
  switch (t.id) {
  case DQ_TYPE_BOOL:
    *type_id = TYPE_BOOL;
    break;
  case DQ_TYPE_INT32:
  case DQ_TYPE_INT64:
    *type_id = TYPE_INT;
    fbb_add_i32(b, INT_BIT_WIDTH, t.id == DQ_TYPE_INT32 ? 32 : 64);
    fbb_add_u8(b, INT_IS_SIGNED, 1);
    break;
  case DQ_TYPE_FLOAT64:
    *type_id = TYPE_FLOATING_POINT;
    fbb_add_i16(b, FP_PRECISION, FP_DOUBLE);
    break;
  case DQ_TYPE_UTF8:
    *type_id = TYPE_UTF8;
    break;
  case DQ_TYPE_DATE32:
    *type_id = TYPE_DATE;
    /* DAY is 0 and the default is MILLISECOND: always write it */
    fbb_add_i16(b, DATE_UNIT, DATE_DAY);
    break;
  case DQ_TYPE_DECIMAL:
    *type_id = TYPE_DECIMAL;
    fbb_add_i32(b, DEC_PRECISION, t.precision);
    fbb_add_i32(b, DEC_SCALE, t.scale);
    /* decimal64 when the precision allows it (decimal_width.h) */
    fbb_add_i32(b, DEC_BIT_WIDTH, dq_type_width(t) == 8 ? 64 : 128);
    break;
  default:
    return dq_error_set(err, DQ_EINVAL,
                        "cannot encode a field of unknown type id %d",
                        (int)t.id);
  }
  *out = fbb_table_end(b);
  return 0;
}

static int encode_schema_fb(fbb *b, const dq_schema *s, fb_ref *root,
                            dq_error *err) {
  size_t n = s->n_fields;
  fb_ref *fields = calloc(n ? n : 1, sizeof *fields);
  if (fields == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory encoding a schema");
  for (size_t i = 0; i < n; i++) {
    uint8_t type_id = 0;
    fb_ref type = 0;
    int rc = type_table(b, s->types[i], &type_id, &type, err);
    if (rc != 0) {
      free(fields);
      return rc;
    }
    const char *name = s->names[i] ? s->names[i] : "";
    fb_ref name_ref = fbb_string(b, name, strlen(name));
    /* an empty children vector, not an absent one: some readers (Arrow
     * C++) reject a Field without it */
    fb_ref children = fbb_ref_vector(b, NULL, 0);
    fbb_table_start(b);
    fbb_add_ref(b, FIELD_NAME, name_ref);
    fbb_add_ref(b, FIELD_TYPE, type);
    fbb_add_ref(b, FIELD_CHILDREN, children);
    fbb_add_u8(b, FIELD_NULLABLE, s->nullable[i] ? 1 : 0);
    fbb_add_u8(b, FIELD_TYPE_TYPE, type_id);
    fields[i] = fbb_table_end(b);
  }
  fb_ref vec = fbb_ref_vector(b, fields, n);
  free(fields);
  fbb_table_start(b);
  fbb_add_ref(b, SCHEMA_FIELDS, vec);
  fbb_add_i16(b, SCHEMA_ENDIANNESS, 0); /* Little */
  fb_ref schema = fbb_table_end(b);
  *root = message_table(b, IPC_HDR_SCHEMA, schema, 0);
  return 0;
}

int dq_ipc_encode_schema(const dq_schema *schema, dq_ipc_message **out,
                         dq_error *err) {
  if (schema == NULL || out == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_ipc_encode_schema: schema and out are required");
  fbb b;
  fbb_init(&b);
  fb_ref root = 0;
  int rc = encode_schema_fb(&b, schema, &root, err);
  if (rc == 0) {
    const uint8_t *fb;
    size_t len;
    if (fbb_finish(&b, root, &fb, &len) != 0)
      rc = dq_error_set(err, DQ_ENOMEM, "out of memory encoding a schema");
    else
      rc = message_new(fb, len, 0, out, err);
  }
  fbb_free(&b);
  return rc;
}

/* The body buffers of one column, in Arrow's order for its layout. */
typedef struct col_bufs {
  const void *p[3];
  size_t len[3];
  int n;
} col_bufs;

static int column_buffers(const dq_array *a, col_bufs *cb, dq_error *err) {
  size_t rows = (size_t)a->length;
  size_t bits = (rows + 7) / 8;
  memset(cb, 0, sizeof *cb);
  if (a->null_count > 0) {
    if (a->validity == NULL || a->validity->size < bits)
      return dq_error_set(err, DQ_EINTERNAL,
                          "a column with %lld nulls has no validity bitmap "
                          "of %zu bytes",
                          (long long)a->null_count, bits);
    cb->p[0] = a->validity->data;
    cb->len[0] = bits;
  }
  size_t need;
  if (a->type.id == DQ_TYPE_UTF8) {
    size_t off_len = (rows + 1) * 4;
    if (a->offsets == NULL || a->offsets->size < off_len)
      return dq_error_set(err, DQ_EINTERNAL,
                          "a utf8 column of %zu rows lacks its offsets", rows);
    int32_t last;
    memcpy(&last, a->offsets->data + rows * 4, 4);
    cb->p[1] = a->offsets->data;
    cb->len[1] = off_len;
    need = last > 0 ? (size_t)last : 0;
    if (need > 0 && (a->values == NULL || a->values->size < need))
      return dq_error_set(err, DQ_EINTERNAL,
                          "a utf8 column's offsets point past its %zu data "
                          "bytes",
                          a->values ? a->values->size : 0);
    cb->p[2] = a->values ? a->values->data : NULL;
    cb->len[2] = need;
    cb->n = 3;
    return 0;
  }
  need = a->type.id == DQ_TYPE_BOOL ? bits : rows * dq_type_width(a->type);
  if (need > 0 && (a->values == NULL || a->values->size < need))
    return dq_error_set(err, DQ_EINTERNAL,
                        "a column of %zu rows holds fewer than %zu value "
                        "bytes",
                        rows, need);
  cb->p[1] = a->values ? a->values->data : NULL;
  cb->len[1] = need;
  cb->n = 2;
  return 0;
}

int dq_ipc_encode_batch(dq_batch *batch, dq_ipc_message **out,
                        dq_error *err) {
  if (batch == NULL || out == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_ipc_encode_batch: batch and out are required");
  size_t ncol = batch->schema->n_fields;
  size_t nbuf_max = 3 * ncol;
  uint8_t *nodes = calloc(ncol ? ncol : 1, IPC_STRUCT_SIZE);
  uint8_t *bufs = calloc(nbuf_max ? nbuf_max : 1, IPC_STRUCT_SIZE);
  col_bufs *cbs = calloc(ncol ? ncol : 1, sizeof *cbs);
  int rc = 0;
  fbb b;
  fbb_init(&b);
  if (nodes == NULL || bufs == NULL || cbs == NULL) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory encoding a batch");
    goto done;
  }
  size_t nbuf = 0, body = 0;
  for (size_t c = 0; c < ncol; c++) {
    const dq_array *a = batch->columns[c];
    rc = column_buffers(a, &cbs[c], err);
    if (rc != 0)
      goto done;
    put_le64(nodes + c * IPC_STRUCT_SIZE, a->length);
    put_le64(nodes + c * IPC_STRUCT_SIZE + 8, a->null_count);
    for (int k = 0; k < cbs[c].n; k++, nbuf++) {
      put_le64(bufs + nbuf * IPC_STRUCT_SIZE, (int64_t)body);
      put_le64(bufs + nbuf * IPC_STRUCT_SIZE + 8, (int64_t)cbs[c].len[k]);
      body += cbs[c].len[k] + pad_to(cbs[c].len[k], IPC_ALIGN);
    }
  }
  fb_ref vnodes = fbb_struct_vector(&b, nodes, ncol, IPC_STRUCT_SIZE, 8);
  fb_ref vbufs = fbb_struct_vector(&b, bufs, nbuf, IPC_STRUCT_SIZE, 8);
  fbb_table_start(&b);
  fbb_add_i64(&b, RB_LENGTH, batch->n_rows);
  fbb_add_ref(&b, RB_NODES, vnodes);
  fbb_add_ref(&b, RB_BUFFERS, vbufs);
  fb_ref rb = fbb_table_end(&b);
  fb_ref root = message_table(&b, IPC_HDR_RECORD_BATCH, rb, (int64_t)body);
  const uint8_t *fb;
  size_t fb_len;
  if (fbb_finish(&b, root, &fb, &fb_len) != 0) {
    rc = dq_error_set(err, DQ_ENOMEM, "out of memory encoding a batch");
    goto done;
  }
  dq_ipc_message *m;
  rc = message_new(fb, fb_len, 2 * nbuf, &m, err);
  if (rc != 0)
    goto done;
  for (size_t c = 0; c < ncol; c++)
    for (int k = 0; k < cbs[c].n; k++) {
      size_t len = cbs[c].len[k], pad = pad_to(len, IPC_ALIGN);
      if (len > 0)
        m->slices[m->n_slices++] = (dq_ipc_slice){cbs[c].p[k], len};
      if (pad > 0)
        m->slices[m->n_slices++] = (dq_ipc_slice){zeros, pad};
    }
  m->size += body;
  m->batch = dq_batch_ref(batch);
  *out = m;
done:
  fbb_free(&b);
  free(nodes);
  free(bufs);
  free(cbs);
  return rc;
}

dq_ipc_message *dq_ipc_message_ref(dq_ipc_message *m) {
  if (m != NULL)
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

void dq_ipc_message_unref(dq_ipc_message *m) {
  if (m == NULL ||
      atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
    return;
  dq_batch_unref(m->batch);
  free(m->header);
  free(m);
}

const dq_ipc_slice *dq_ipc_message_slices(const dq_ipc_message *m,
                                          size_t *n) {
  *n = m->n_slices;
  return m->slices;
}

size_t dq_ipc_message_size(const dq_ipc_message *m) { return m->size; }

void dq_ipc_message_copy(const dq_ipc_message *m, void *dst) {
  uint8_t *p = dst;
  for (size_t i = 0; i < m->n_slices; i++) {
    memcpy(p, m->slices[i].data, m->slices[i].len);
    p += m->slices[i].len;
  }
}

static int flatten(dq_ipc_message *m, void **out, size_t *len,
                   dq_error *err) {
  size_t size = m->size;
  /* rounded up so that a zero-copy decode finds every buffer's padding
   * (and because aligned_alloc wants a multiple of the alignment) */
  void *p = aligned_alloc(IPC_ALIGN, size + pad_to(size, IPC_ALIGN));
  if (p == NULL) {
    dq_ipc_message_unref(m);
    return dq_error_set(err, DQ_ENOMEM,
                        "out of memory for a %zu-byte Arrow IPC message",
                        size);
  }
  dq_ipc_message_copy(m, p);
  memset((uint8_t *)p + size, 0, pad_to(size, IPC_ALIGN));
  dq_ipc_message_unref(m);
  *out = p;
  *len = size;
  return 0;
}

int dq_ipc_encode_schema_flat(const dq_schema *schema, void **out,
                              size_t *len, dq_error *err) {
  dq_ipc_message *m;
  int rc = dq_ipc_encode_schema(schema, &m, err);
  return rc != 0 ? rc : flatten(m, out, len, err);
}

int dq_ipc_encode_batch_flat(dq_batch *batch, void **out, size_t *len,
                             dq_error *err) {
  dq_ipc_message *m;
  int rc = dq_ipc_encode_batch(batch, &m, err);
  return rc != 0 ? rc : flatten(m, out, len, err);
}
