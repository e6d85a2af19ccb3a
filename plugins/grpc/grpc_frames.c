/* grpc_frames.c — worker.proto messages as gRPC byte buffers: control
 * messages (encoded by <dq/wire.h>) in and out of byte buffers, dq errors as
 * status metadata, and the PartitionFrame wrapper around the Arrow IPC
 * messages of partition streams (whose encoding, splitting and decoding is
 * <dq/wire.h>'s frame codec).
 *
 * PartitionFrames are written and read by hand rather than by a protobuf
 * library, which would copy the IPC bytes both ways: on send, the frame
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

static void free_wire(void *p) { dq_wire_free(p); }

grpc_byte_buffer *grpc_f_bytes(void *buf, size_t len) {
  if (len == 0) {
    dq_wire_free(buf);
    return grpc_raw_byte_buffer_create(NULL, 0);
  }
  grpc_slice s = grpc_slice_new(buf, len, free_wire);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
}

grpc_slice grpc_f_flatten(grpc_byte_buffer *bb) {
  grpc_byte_buffer_reader r;
  if (bb == NULL || !grpc_byte_buffer_reader_init(&r, bb))
    return grpc_empty_slice();
  grpc_slice s = grpc_byte_buffer_reader_readall(&r);
  grpc_byte_buffer_reader_destroy(&r);
  return s;
}

/* --- errors ----------------------------------------------------------------*/

grpc_slice grpc_f_error_slice(const dq_error *err) {
  void *buf;
  size_t len;
  if (dq_wire_encode_error(err, &buf, &len, NULL) < 0)
    return grpc_empty_slice();
  return grpc_slice_new(buf, len, free_wire);
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
    dq_error e;
    if (dq_wire_decode_error(GRPC_SLICE_START_PTR(v), GRPC_SLICE_LENGTH(v),
                             &e, &e) < 0)
      break; /* not a dq error: read the status instead */
    *err = e;
    if (err->worker_url[0] == '\0')
      dq_error_set_origin(err, url, NULL);
    return e.code;
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
      /* DQ_ECONFIG, not a lost worker: a retry elsewhere would hide a
       * misconfiguration behind a smaller cluster. */
      code = dq_error_set(err, DQ_ECONFIG,
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
    code = dq_error_set(err, DQ_ECONFIG, /* as an untrusted certificate */
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
  uint8_t b[16];
  size_t n = 0;
  b[n++] = 0x08; /* field 1 (partition), varint */
  n += put_varint(b + n, partition);
  b[n++] = 0x18; /* field 3 (end_of_partition), varint: true */
  b[n++] = 0x01;
  grpc_slice s = grpc_slice_from_copied_buffer((const char *)b, n);
  grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
  grpc_slice_unref(s);
  return bb;
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

int grpc_f_decode_frame(grpc_byte_buffer *bb, dq_wire_frame_decoder *d,
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
    int rc = grpc_f_decode_frame(flat, d, out, err);
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
    return dq_wire_frame_decode(d, f.partition, p + f.ipc_off, f.ipc_len,
                                release_slice, h, out, err);
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
  return dq_wire_frame_decode(d, f.partition, block, f.ipc_len, free, block,
                              out, err);
}

int grpc_f_token_equal(const char *a, size_t alen, const char *b,
                       size_t blen) {
  unsigned char d = alen != blen;
  size_t n = alen < blen ? alen : blen;
  for (size_t i = 0; i < n; i++)
    d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}
