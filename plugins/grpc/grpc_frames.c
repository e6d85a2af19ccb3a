/* grpc_frames.c — worker.proto messages as gRPC byte buffers: packing and
 * unpacking control messages, dq errors as status metadata, and the
 * PartitionFrame <-> Arrow IPC mapping of partition streams.
 *
 * PartitionFrames are written and read by hand rather than by protobuf-c,
 * because protobuf-c would copy the IPC bytes both ways: on send, the frame
 * is a small header slice (fields 1 and 2's tag and length) followed by the
 * IPC message's own slices, which point into the batch's buffers; on
 * receive, a frame that arrived as one slice is decoded in place, and one
 * that arrived in pieces is copied once, into a 64-byte aligned block, so
 * the IPC decoder can still point into it.  The bytes on the wire are a
 * normal PartitionFrame that any protobuf library reads.
 */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

#include "grpc_internal.h"

grpc_byte_buffer *grpc_f_pack(const ProtobufCMessage *m) {
  size_t n = protobuf_c_message_get_packed_size(m);
  grpc_slice s = grpc_slice_malloc(n);
  protobuf_c_message_pack(m, GRPC_SLICE_START_PTR(s));
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

ProtobufCMessage *grpc_f_unpack(const ProtobufCMessageDescriptor *d,
                                grpc_byte_buffer *bb) {
  if (bb == NULL)
    return NULL;
  grpc_byte_buffer_reader r;
  if (!grpc_byte_buffer_reader_init(&r, bb))
    return NULL;
  grpc_slice s = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  ProtobufCMessage *m = protobuf_c_message_unpack(
      d, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
  grpc_slice_unref(s);
  return m;
}

void grpc_f_key_to_pb(const dq_task_key *k, Dq__V1__TaskKey *pb) {
  dq__v1__task_key__init(pb);
  pb->query_id.data = (uint8_t *)k->query_id;
  pb->query_id.len = sizeof k->query_id;
  pb->stage_id = k->stage_id;
  pb->task_number = k->task_number;
}

int grpc_f_key_from_pb(const Dq__V1__TaskKey *pb, dq_task_key *k) {
  memset(k, 0, sizeof *k);
  if (pb == NULL || pb->query_id.len != sizeof k->query_id)
    return -1;
  memcpy(k->query_id, pb->query_id.data, sizeof k->query_id);
  k->stage_id = pb->stage_id;
  k->task_number = pb->task_number;
  return 0;
}

/* --- errors ----------------------------------------------------------------*/

grpc_slice grpc_f_error_slice(const dq_error *err) {
  Dq__V1__Error e = DQ__V1__ERROR__INIT;
  Dq__V1__TaskKey key;
  e.code = err->code;
  e.message = (char *)err->message;
  e.worker_url = (char *)err->worker_url;
  if (err->has_task) {
    grpc_f_key_to_pb(&err->task, &key);
    e.task_key = &key;
  }
  size_t n = dq__v1__error__get_packed_size(&e);
  grpc_slice s = grpc_slice_malloc(n);
  dq__v1__error__pack(&e, GRPC_SLICE_START_PTR(s));
  return s;
}

grpc_status_code grpc_f_status_of(int code) {
  switch (code) {
  case DQ_EINVAL:
  case DQ_ECONFIG:
  case DQ_EPROTO: /* the request was malformed, not the worker */
    return GRPC_STATUS_INVALID_ARGUMENT;
  case DQ_ENOENT:
    return GRPC_STATUS_NOT_FOUND;
  case DQ_ECANCELED:
    return GRPC_STATUS_CANCELLED;
  case DQ_ETIMEDOUT:
    return GRPC_STATUS_DEADLINE_EXCEEDED;
  case DQ_EUNAVAILABLE:
    return GRPC_STATUS_UNAVAILABLE;
  case DQ_ETOOBIG:
  case DQ_ENOMEM:
    return GRPC_STATUS_RESOURCE_EXHAUSTED;
  case DQ_EUNSUPPORTED:
    return GRPC_STATUS_UNIMPLEMENTED;
  case DQ_EEXEC:
    return GRPC_STATUS_ABORTED;
  case DQ_EPERM:
    return GRPC_STATUS_PERMISSION_DENIED;
  default:
    return GRPC_STATUS_INTERNAL;
  }
}

int grpc_f_status_error(grpc_status_code status, grpc_slice details,
                        const grpc_metadata_array *trailing, const char *url,
                        dq_error *err) {
  for (size_t i = 0; trailing != NULL && i < trailing->count; i++) {
    if (grpc_slice_str_cmp(trailing->metadata[i].key, GRPC_ERROR_KEY) != 0)
      continue;
    grpc_slice v = trailing->metadata[i].value;
    Dq__V1__Error *e = dq__v1__error__unpack(NULL, GRPC_SLICE_LENGTH(v),
                                             GRPC_SLICE_START_PTR(v));
    if (e == NULL)
      break;
    int code = e->code < 0 && e->code >= DQ_EPERM ? e->code : DQ_EPROTO;
    dq_error_set(err, code, "%s",
                 e->message[0] ? e->message : "the worker reported an error");
    dq_task_key key;
    dq_error_set_origin(err, e->worker_url[0] ? e->worker_url : url,
                        grpc_f_key_from_pb(e->task_key, &key) == 0 ? &key
                                                                   : NULL);
    dq__v1__error__free_unpacked(e, NULL);
    return code;
  }
  char msg[256];
  size_t n = GRPC_SLICE_LENGTH(details);
  if (n >= sizeof msg)
    n = sizeof msg - 1;
  memcpy(msg, GRPC_SLICE_START_PTR(details), n);
  msg[n] = '\0';
  int code;
  switch (status) {
  case GRPC_STATUS_UNAVAILABLE:
    /* gRPC says "last error: OK" (or "Socket closed") when the peer took
     * the connection and dropped it during the handshake: something that
     * is not a gRPC server, or TLS on one side only.  Say that, not OK. */
    if (strstr(msg, "last error: OK") != NULL ||
        strstr(msg, "Socket closed") != NULL)
      code = dq_error_set(err, DQ_EUNAVAILABLE,
                          "worker %s is unavailable: it accepted the "
                          "connection and closed it during the handshake: "
                          "it is not a dq worker (no gRPC over HTTP/2 "
                          "there), or one side uses TLS and the other does "
                          "not ([transport.grpc] tls_cert/tls_key on the "
                          "worker, tls_ca here)",
                          url);
    else if (strstr(msg, "Ssl handshake failed") != NULL)
      code = dq_error_set(err, DQ_EUNAVAILABLE,
                          "worker %s is up, but the TLS handshake with it "
                          "failed: the side dialing it does not trust its "
                          "certificate ([transport.grpc] tls_ca there, or "
                          "the system's roots when tls_ca is unset; %.120s)",
                          url, strstr(msg, "Ssl handshake failed"));
    else
      code = dq_error_set(err, DQ_EUNAVAILABLE,
                          "worker %s is unavailable: %s", url, msg);
    break;
  case GRPC_STATUS_DEADLINE_EXCEEDED:
    code = dq_error_set(err, DQ_ETIMEDOUT,
                        "worker %s did not answer within the deadline "
                        "([transport.grpc] deadline_ms)",
                        url);
    break;
  case GRPC_STATUS_UNAUTHENTICATED:
    code = dq_error_set(err, DQ_EUNAVAILABLE,
                        "worker %s rejected the token (check [transport.grpc] "
                        "token on both sides)",
                        url);
    break;
  case GRPC_STATUS_RESOURCE_EXHAUSTED:
    code = dq_error_set(err, DQ_ETOOBIG,
                        "a message to or from worker %s exceeds "
                        "[transport.grpc] max_message_size: %s",
                        url, msg);
    break;
  case GRPC_STATUS_CANCELLED:
    /* Our own cancels are handled by the caller: this one came from the
     * worker's side, which only cancels when it stops. */
    code = dq_error_set(err, DQ_EUNAVAILABLE,
                        "worker %s ended the call (it stopped or lost the "
                        "connection)",
                        url);
    break;
  case GRPC_STATUS_UNIMPLEMENTED:
    code = dq_error_set(err, DQ_EPROTO,
                        "%s does not serve the dq.v1.Worker protocol: %s", url,
                        msg);
    break;
  default:
    code = dq_error_set(err, DQ_EPROTO, "worker %s failed the call: %s (gRPC "
                        "status %d)",
                        url, msg, (int)status);
    break;
  }
  dq_error_set_origin(err, url, NULL);
  return code;
}

/* --- sending frames ----------------------------------------------------------*/

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}

static void unref_message(void *m) { dq_ipc_message_unref(m); }

grpc_byte_buffer *grpc_f_ipc_frame(uint32_t partition, dq_ipc_message *msg) {
  size_t n_ipc;
  const dq_ipc_slice *ipc = dq_ipc_message_slices(msg, &n_ipc);
  grpc_slice stack[16];
  grpc_slice *slices = n_ipc + 1 <= 16 ? stack
                                       : malloc((n_ipc + 1) * sizeof *slices);
  if (slices == NULL)
    return NULL;
  uint8_t hdr[24];
  size_t h = 0;
  hdr[h++] = 0x08; /* field 1, varint */
  h += put_varint(hdr + h, partition);
  hdr[h++] = 0x12; /* field 2, length-delimited */
  h += put_varint(hdr + h, dq_ipc_message_size(msg));
  size_t n = 0;
  slices[n++] = grpc_slice_from_copied_buffer((const char *)hdr, h);
  for (size_t i = 0; i < n_ipc; i++)
    if (ipc[i].len > 0)
      slices[n++] = grpc_slice_new_with_user_data(
          (void *)ipc[i].data, ipc[i].len, unref_message,
          dq_ipc_message_ref(msg));
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(slices, n);
  for (size_t i = 0; i < n; i++)
    grpc_slice_unref(slices[i]);
  if (slices != stack)
    free(slices);
  return bb;
}

grpc_byte_buffer *grpc_f_eos_frame(uint32_t partition) {
  Dq__V1__PartitionFrame f = DQ__V1__PARTITION_FRAME__INIT;
  f.partition = partition;
  f.body_case = DQ__V1__PARTITION_FRAME__BODY_END_OF_PARTITION;
  f.end_of_partition = 1;
  return grpc_f_pack(&f.base);
}

/* --- receiving frames ------------------------------------------------------*/

static int get_varint(const uint8_t *p, size_t len, size_t *pos,
                      uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= len)
      return -1;
    uint8_t b = p[(*pos)++];
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return -1;
}

typedef struct frame_fields {
  uint32_t partition;
  int has_ipc, eop;
  size_t ipc_off, ipc_len; /* within the bytes parsed */
} frame_fields;

/* Parses a PartitionFrame's fields.  With `prefix` set, p holds only the
 * first bytes of the message (len of total): the IPC field's bytes need not
 * be present, only its position. */
static int parse_frame(const uint8_t *p, size_t len, size_t total,
                       int prefix, frame_fields *f) {
  memset(f, 0, sizeof *f);
  size_t pos = 0;
  while (pos < (prefix ? len : total)) {
    uint64_t tag, v;
    if (get_varint(p, len, &pos, &tag) < 0)
      return -1;
    uint32_t field = (uint32_t)(tag >> 3), wt = (uint32_t)(tag & 7);
    if (wt == 0) {
      if (get_varint(p, len, &pos, &v) < 0)
        return -1;
      if (field == 1)
        f->partition = (uint32_t)v;
      else if (field == 3) {
        f->eop = v != 0;
        f->has_ipc = 0;
      }
    } else if (wt == 2) {
      if (get_varint(p, len, &pos, &v) < 0 || v > total - pos)
        return -1;
      if (field == 2) {
        f->has_ipc = 1;
        f->eop = 0;
        f->ipc_off = pos;
        f->ipc_len = (size_t)v;
        if (prefix)
          return 0; /* the rest may lie beyond the prefix */
      }
      pos += (size_t)v;
    } else if (wt == 1 || wt == 5) {
      pos += wt == 1 ? 8 : 4;
      if (pos > total)
        return -1;
    } else {
      return -1;
    }
  }
  return prefix ? -1 : 0;
}

typedef struct slice_hold {
  grpc_slice s;
} slice_hold;

static void release_slice(void *ctx) {
  slice_hold *h = ctx;
  grpc_slice_unref(h->s);
  free(h);
}

/* Copies bytes [off, off+len) of the slices into dst. */
static void gather(const grpc_slice *sl, size_t n, size_t off, size_t len,
                   uint8_t *dst) {
  for (size_t i = 0; i < n && len > 0; i++) {
    size_t sn = GRPC_SLICE_LENGTH(sl[i]);
    if (off >= sn) {
      off -= sn;
      continue;
    }
    size_t take = sn - off < len ? sn - off : len;
    memcpy(dst, GRPC_SLICE_START_PTR(sl[i]) + off, take);
    dst += take;
    len -= take;
    off = 0;
  }
}

static int decode_ipc(const uint8_t *data, size_t len,
                      void (*release)(void *), void *ctx, dq_schema **schema,
                      dq_frame *out, dq_error *err) {
  dq_ipc_info info;
  int rc = dq_ipc_peek(data, len, &info, err);
  if (rc < 0) {
    if (release)
      release(ctx);
    return rc;
  }
  if (info.type == DQ_IPC_SCHEMA) {
    dq_schema *s;
    rc = dq_ipc_decode_schema(data, len, &s, err);
    if (release)
      release(ctx);
    if (rc < 0)
      return rc;
    if (*schema != NULL) {
      dq_schema_unref(s);
      return dq_error_set(err, DQ_EPROTO,
                          "the partition stream sent a second schema");
    }
    rc = dq_schema_export(s, &out->schema, err);
    if (rc < 0) {
      dq_schema_unref(s);
      return rc;
    }
    *schema = s;
    out->kind = DQ_FRAME_SCHEMA;
    return 0;
  }
  if (info.type != DQ_IPC_RECORD_BATCH) {
    if (release)
      release(ctx);
    return dq_error_set(err, DQ_EPROTO,
                        "a partition frame carries an IPC message of type %d, "
                        "not a schema or record batch",
                        (int)info.type);
  }
  if (*schema == NULL) {
    if (release)
      release(ctx);
    return dq_error_set(err, DQ_EPROTO,
                        "the partition stream sent a batch before its schema");
  }
  dq_batch *b;
  rc = dq_ipc_decode_batch(*schema, data, len, release, ctx, &b, err);
  if (rc < 0)
    return rc;
  rc = dq_batch_export(b, &out->array, err);
  dq_batch_unref(b);
  if (rc < 0)
    return rc;
  out->kind = DQ_FRAME_BATCH;
  return 0;
}

int grpc_f_decode_frame(grpc_byte_buffer *bb, dq_schema **schema,
                        dq_frame *out, dq_error *err) {
  memset(out, 0, sizeof *out);
  if (bb->type != GRPC_BB_RAW ||
      bb->data.raw.compression != GRPC_COMPRESS_NONE) {
    /* Compressed: decompress into one slice and read that. */
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
      return dq_error_set(err, DQ_EPROTO,
                          "cannot read a received partition frame");
    slice_hold *h = malloc(sizeof *h);
    if (h == NULL) {
      grpc_byte_buffer_reader_destroy(&r);
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    }
    h->s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    grpc_byte_buffer *flat = grpc_raw_byte_buffer_create(&h->s, 1);
    grpc_slice_unref(h->s);
    free(h);
    int rc = grpc_f_decode_frame(flat, schema, out, err);
    grpc_byte_buffer_destroy(flat);
    return rc;
  }
  const grpc_slice *sl = bb->data.raw.slice_buffer.slices;
  size_t n = bb->data.raw.slice_buffer.count;
  size_t total = bb->data.raw.slice_buffer.length;
  frame_fields f;
  if (n == 1) {
    const uint8_t *p = GRPC_SLICE_START_PTR(sl[0]);
    if (parse_frame(p, total, total, 0, &f) < 0)
      return dq_error_set(err, DQ_EPROTO, "a partition frame is malformed");
    out->partition = f.partition;
    if (!f.has_ipc) {
      if (!f.eop)
        return dq_error_set(err, DQ_EPROTO,
                            "a partition frame carries neither an IPC "
                            "message nor end_of_partition");
      out->kind = DQ_FRAME_EOS;
      return 0;
    }
    slice_hold *h = malloc(sizeof *h);
    if (h == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    /* Read through our own reference: a small slice keeps its bytes inside
     * the grpc_slice struct, which the byte buffer frees. */
    h->s = grpc_slice_ref(sl[0]);
    p = GRPC_SLICE_START_PTR(h->s);
    int rc = decode_ipc(p + f.ipc_off, f.ipc_len, release_slice, h, schema,
                        out, err);
    out->partition = f.partition;
    return rc;
  }
  /* Several slices: find the IPC field from the first bytes, then copy just
   * its bytes once into an aligned block the decoder can point into. */
  uint8_t head[64];
  size_t hn = total < sizeof head ? total : sizeof head;
  gather(sl, n, 0, hn, head);
  int ok = parse_frame(head, hn, total, 1, &f) == 0;
  uint8_t *flat = NULL;
  if (!ok) {
    /* Fields in an unusual order (another implementation): flatten all. */
    flat = malloc(total ? total : 1);
    if (flat == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    gather(sl, n, 0, total, flat);
    if (parse_frame(flat, total, total, 0, &f) < 0) {
      free(flat);
      return dq_error_set(err, DQ_EPROTO, "a partition frame is malformed");
    }
    free(flat);
  }
  out->partition = f.partition;
  if (!f.has_ipc) {
    if (!f.eop)
      return dq_error_set(err, DQ_EPROTO,
                          "a partition frame carries neither an IPC message "
                          "nor end_of_partition");
    out->kind = DQ_FRAME_EOS;
    return 0;
  }
  size_t alloc = (f.ipc_len + 63) / 64 * 64;
  uint8_t *block = aligned_alloc(64, alloc ? alloc : 64);
  if (block == NULL)
    return dq_error_set(err, DQ_ENOMEM,
                        "out of memory receiving a %zu-byte frame", f.ipc_len);
  gather(sl, n, f.ipc_off, f.ipc_len, block);
  int rc = decode_ipc(block, f.ipc_len, free, block, schema, out, err);
  out->partition = f.partition;
  return rc;
}

/* --- splitting ---------------------------------------------------------------*/

/* Rows [start, start+n) of a batch as a new batch whose IPC encoding holds
 * only those rows.  Importing an ArrowArray with an offset would keep the
 * whole of a utf8 column's character data (its offsets would not start at
 * 0), so the slice is built by hand: fixed-width values and characters are
 * pointed into, not copied; only bitmaps (shifted) and utf8 offsets
 * (rebased) are made anew, which is small next to the data. */
typedef struct slice_owner {
  struct ArrowArray full; /* the whole batch, exported */
  size_t n_children;
  struct ArrowArray *kids;
  struct ArrowArray **kidp;
  const void **bufs; /* 3 per child */
  const void *root_buf[1];
  void **allocs;
  size_t n_allocs;
} slice_owner;

static void slice_child_release(struct ArrowArray *a) { a->release = NULL; }

static void slice_root_release(struct ArrowArray *a) {
  slice_owner *o = a->private_data;
  if (o->full.release)
    o->full.release(&o->full);
  for (size_t i = 0; i < o->n_allocs; i++)
    free(o->allocs[i]);
  free(o->allocs);
  free(o->kids);
  free(o->kidp);
  free(o->bufs);
  free(o);
  a->release = NULL;
}

static uint8_t *copy_bits(slice_owner *o, const uint8_t *src, int64_t off,
                          int64_t n, int64_t *zeros) {
  uint8_t *b = calloc((size_t)(n + 7) / 8 + 1, 1);
  if (b == NULL)
    return NULL;
  o->allocs[o->n_allocs++] = b;
  int64_t z = 0;
  for (int64_t i = 0; i < n; i++) {
    int64_t j = off + i;
    if (src[j >> 3] >> (j & 7) & 1)
      b[i >> 3] |= (uint8_t)(1u << (i & 7));
    else
      z++;
  }
  if (zeros)
    *zeros = z;
  return b;
}

static int slice_batch(dq_batch *b, dq_schema *schema, int64_t start,
                       int64_t n, dq_batch **out, dq_error *err) {
  size_t nc = dq_schema_n_fields(schema);
  slice_owner *o = calloc(1, sizeof *o);
  if (o == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  o->n_children = nc;
  o->kids = calloc(nc ? nc : 1, sizeof *o->kids);
  o->kidp = calloc(nc ? nc : 1, sizeof *o->kidp);
  o->bufs = calloc(3 * (nc ? nc : 1), sizeof *o->bufs);
  o->allocs = calloc(3 * (nc ? nc : 1), sizeof *o->allocs);
  struct ArrowArray root;
  memset(&root, 0, sizeof root);
  root.private_data = o;
  root.release = slice_root_release;
  if (o->kids == NULL || o->kidp == NULL || o->bufs == NULL ||
      o->allocs == NULL) {
    slice_root_release(&root);
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  }
  int rc = dq_batch_export(b, &o->full, err);
  if (rc < 0) {
    slice_root_release(&root);
    return rc;
  }
  for (size_t i = 0; i < nc; i++) {
    const struct ArrowArray *c = o->full.children[i];
    struct ArrowArray *k = &o->kids[i];
    const void **bufs = &o->bufs[3 * i];
    dq_type t = dq_schema_field_type(schema, i);
    int64_t off = o->full.offset + c->offset + start;
    k->length = n;
    k->n_buffers = t.id == DQ_TYPE_UTF8 ? 3 : 2;
    k->buffers = bufs;
    k->release = slice_child_release;
    int64_t nulls = 0;
    if (c->null_count != 0 && c->buffers[0] != NULL) {
      bufs[0] = copy_bits(o, c->buffers[0], off, n, &nulls);
      if (bufs[0] == NULL)
        rc = DQ_ENOMEM;
    }
    k->null_count = nulls;
    if (t.id == DQ_TYPE_BOOL) {
      bufs[1] = copy_bits(o, c->buffers[1], off, n, NULL);
      if (bufs[1] == NULL)
        rc = DQ_ENOMEM;
    } else if (t.id == DQ_TYPE_UTF8) {
      const int32_t *src = c->buffers[1];
      int32_t *dst = malloc((size_t)(n + 1) * sizeof *dst);
      if (dst == NULL) {
        rc = DQ_ENOMEM;
      } else {
        o->allocs[o->n_allocs++] = dst;
        for (int64_t r = 0; r <= n; r++)
          dst[r] = src[off + r] - src[off];
        bufs[1] = dst;
        bufs[2] = (const uint8_t *)c->buffers[2] + src[off];
      }
    } else {
      bufs[1] = (const uint8_t *)c->buffers[1] + off * (int64_t)dq_type_width(t);
    }
    o->kidp[i] = k;
  }
  if (rc < 0) {
    slice_root_release(&root);
    return dq_error_set(err, DQ_ENOMEM, "out of memory slicing a batch");
  }
  root.length = n;
  root.n_buffers = 1;
  root.buffers = o->root_buf;
  root.n_children = (int64_t)nc;
  root.children = o->kidp;
  return dq_batch_import(&root, schema, out, err);
}

int grpc_f_encode_batch_split(dq_batch *batch, dq_schema *schema,
                              size_t limit,
                              int (*emit)(void *ctx, dq_ipc_message *m,
                                          dq_error *err),
                              void *ctx, dq_error *err) {
  dq_ipc_message *m;
  int rc = dq_ipc_encode_batch(batch, &m, err);
  if (rc < 0)
    return rc;
  size_t size = dq_ipc_message_size(m);
  if (size <= limit)
    return emit(ctx, m, err);
  dq_ipc_message_unref(m);
  int64_t rows = dq_batch_n_rows(batch);
  /* A first guess from the average row size, then halve until it fits. */
  int64_t per = (int64_t)((double)rows * ((double)limit / (double)size) * 0.9);
  if (per < 1)
    per = 1;
  for (int64_t start = 0; start < rows;) {
    int64_t n = rows - start < per ? rows - start : per;
    for (;;) {
      dq_batch *part;
      rc = slice_batch(batch, schema, start, n, &part, err);
      if (rc < 0)
        return rc;
      rc = dq_ipc_encode_batch(part, &m, err);
      dq_batch_unref(part);
      if (rc < 0)
        return rc;
      size = dq_ipc_message_size(m);
      if (size <= limit)
        break;
      dq_ipc_message_unref(m);
      if (n == 1)
        return dq_error_set(err, DQ_ETOOBIG,
                            "one row of a batch needs a %zu-byte IPC message, "
                            "more than [transport.grpc] max_message_size "
                            "allows (%zu bytes for the message); raise "
                            "max_message_size",
                            size, limit);
      n /= 2;
      per = n;
    }
    rc = emit(ctx, m, err);
    if (rc < 0)
      return rc;
    start += n;
  }
  return 0;
}

int grpc_f_token_equal(const char *a, size_t alen, const char *b,
                       size_t blen) {
  unsigned char d = alen != blen;
  size_t n = alen < blen ? alen : blen;
  for (size_t i = 0; i < n; i++)
    d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}
