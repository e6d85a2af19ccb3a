/* ipc_stream.c — the Arrow IPC streaming format over a file descriptor or a
 * stdio stream: a schema message, record batches, the end-of-stream marker.
 *
 * The writer sends each message's slices straight from the batch's buffers
 * (writev on a descriptor).  The reader reads each message into one block
 * laid out so that the body starts on a 64-byte boundary, then decodes it in
 * zero-copy mode: the batch owns the block and nothing is copied twice.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <dq/ipc.h>

#include "arrow/batch_internal.h"
#include "ipc/ipc_format.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

/* --- Writer --------------------------------------------------------------- */

struct dq_ipc_writer {
  int fd;  /* -1 when writing to f */
  FILE *f;
  dq_schema *schema;
};

static int write_fd(int fd, const dq_ipc_slice *s, size_t n, dq_error *err) {
  struct iovec iov[64];
  size_t i = 0, skip = 0; /* slice i, bytes of it already written */
  while (i < n) {
    int k = 0;
    for (size_t j = i; j < n && k < 64 && k < IOV_MAX; j++, k++) {
      iov[k].iov_base = (uint8_t *)s[j].data + (j == i ? skip : 0);
      iov[k].iov_len = s[j].len - (j == i ? skip : 0);
    }
    ssize_t w = writev(fd, iov, k);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return dq_error_set(err, DQ_EIO, "writing an Arrow IPC stream: %s",
                          strerror(errno));
    }
    size_t left = (size_t)w;
    while (i < n && left >= s[i].len - skip) {
      left -= s[i].len - skip;
      skip = 0;
      i++;
    }
    skip += left;
  }
  return 0;
}

static int write_slices(dq_ipc_writer *w, const dq_ipc_slice *s, size_t n,
                        dq_error *err) {
  if (w->f == NULL)
    return write_fd(w->fd, s, n, err);
  for (size_t i = 0; i < n; i++)
    if (s[i].len > 0 && fwrite(s[i].data, 1, s[i].len, w->f) != s[i].len)
      return dq_error_set(err, DQ_EIO, "writing an Arrow IPC stream: %s",
                          strerror(errno));
  return 0;
}

static int write_message(dq_ipc_writer *w, dq_ipc_message *m, dq_error *err) {
  size_t n;
  const dq_ipc_slice *s = dq_ipc_message_slices(m, &n);
  int rc = write_slices(w, s, n, err);
  dq_ipc_message_unref(m);
  return rc;
}

static int writer_open(int fd, FILE *f, dq_schema *schema,
                       dq_ipc_writer **out, dq_error *err) {
  if (schema == NULL || out == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_ipc_writer_open: schema and out are required");
  dq_ipc_writer *w = calloc(1, sizeof *w);
  if (w == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a writer");
  w->fd = fd;
  w->f = f;
  w->schema = dq_schema_ref(schema);
  dq_ipc_message *m;
  int rc = dq_ipc_encode_schema(schema, &m, err);
  if (rc == 0)
    rc = write_message(w, m, err);
  if (rc != 0) {
    dq_ipc_writer_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

int dq_ipc_writer_open_fd(int fd, dq_schema *schema, dq_ipc_writer **out,
                          dq_error *err) {
  return writer_open(fd, NULL, schema, out, err);
}

int dq_ipc_writer_open_file(FILE *f, dq_schema *schema, dq_ipc_writer **out,
                            dq_error *err) {
  if (f == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_ipc_writer_open_file: f is NULL");
  return writer_open(-1, f, schema, out, err);
}

int dq_ipc_writer_write(dq_ipc_writer *w, dq_batch *batch, dq_error *err) {
  if (w == NULL || batch == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_ipc_writer_write: writer and batch are required");
  if (batch->schema != w->schema && !dq_schema_equal(batch->schema, w->schema))
    return dq_error_set(err, DQ_EINVAL,
                        "a batch written to an Arrow IPC stream has another "
                        "schema than the stream");
  dq_ipc_message *m;
  int rc = dq_ipc_encode_batch(batch, &m, err);
  return rc != 0 ? rc : write_message(w, m, err);
}

int dq_ipc_writer_close(dq_ipc_writer *w, dq_error *err) {
  if (w == NULL)
    return 0;
  dq_ipc_slice eos = {dq_ipc_eos, sizeof dq_ipc_eos};
  int rc = write_slices(w, &eos, 1, err);
  if (rc == 0 && w->f != NULL && fflush(w->f) != 0)
    rc = dq_error_set(err, DQ_EIO, "writing an Arrow IPC stream: %s",
                      strerror(errno));
  dq_ipc_writer_free(w);
  return rc;
}

void dq_ipc_writer_free(dq_ipc_writer *w) {
  if (w == NULL)
    return;
  dq_schema_unref(w->schema);
  free(w);
}

/* --- Reader --------------------------------------------------------------- */

struct dq_ipc_reader {
  int fd; /* -1 when reading from f */
  FILE *f;
  dq_schema *schema;
  bool done;
  bool failed; /* after an error the position in the stream is unknown */
};

/* Reads up to n bytes; *got < n only at end of file. */
static int read_full(dq_ipc_reader *r, void *buf, size_t n, size_t *got,
                     dq_error *err) {
  size_t have = 0;
  if (r->f != NULL) {
    have = fread(buf, 1, n, r->f);
    if (have < n && ferror(r->f))
      return dq_error_set(err, DQ_EIO, "reading an Arrow IPC stream: %s",
                          strerror(errno));
  } else {
    while (have < n) {
      size_t want = n - have < (1u << 30) ? n - have : (1u << 30);
      ssize_t k = read(r->fd, (uint8_t *)buf + have, want);
      if (k < 0 && errno == EINTR)
        continue;
      if (k < 0)
        return dq_error_set(err, DQ_EIO, "reading an Arrow IPC stream: %s",
                            strerror(errno));
      if (k == 0)
        break;
      have += (size_t)k;
    }
  }
  *got = have;
  return 0;
}

/* An aligned buffer for a message: `head` bytes (alignment lead, prefix,
 * metadata), `body` bytes, and the zero padding after them. */
static uint8_t *body_buffer(size_t head, size_t body) {
  size_t total = head + body + IPC_ALIGN;
  return aligned_alloc(IPC_ALIGN,
                       total + (IPC_ALIGN - total % IPC_ALIGN) % IPC_ALIGN);
}

/* One whole message in a 64-byte aligned block whose body is 64-byte
 * aligned too, with 64 zero bytes after the body so that a body that was
 * padded to 8 bytes only still meets dq's padding invariant in place.
 * *type = DQ_IPC_EOS (and *block = NULL) at the marker or at end of file
 * on a message boundary. */
static int read_message(dq_ipc_reader *r, uint8_t **block, uint8_t **msg,
                        size_t *len, dq_ipc_info *info, dq_error *err) {
  uint8_t prefix[IPC_PREFIX];
  size_t got, meta_len;
  *block = NULL;
  int rc = read_full(r, prefix, sizeof prefix, &got, err);
  if (rc != 0)
    return rc;
  if (got == 0) {
    info->type = DQ_IPC_EOS;
    return 0;
  }
  if (got < sizeof prefix)
    return dq_error_set(err, DQ_EPROTO,
                        "truncated Arrow IPC stream: it ends %zu bytes into "
                        "a message prefix",
                        got);
  if ((rc = ipc_parse_prefix(prefix, &meta_len, err)) != 0)
    return rc;
  if (meta_len == 0) {
    info->type = DQ_IPC_EOS;
    return 0;
  }
  if (meta_len > IPC_MAX_METADATA)
    return dq_error_set(err, DQ_ETOOBIG,
                        "Arrow IPC message metadata of %zu bytes exceeds "
                        "dq's limit of %u bytes",
                        meta_len, IPC_MAX_METADATA);
  /* the metadata is read first on its own to learn the body length */
  uint8_t *meta = malloc(meta_len);
  if (meta == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory reading a message");
  ipc_meta m;
  rc = read_full(r, meta, meta_len, &got, err);
  if (rc == 0 && got < meta_len)
    rc = dq_error_set(err, DQ_EPROTO,
                      "truncated Arrow IPC stream: it ends %zu bytes into "
                      "%zu bytes of message metadata",
                      got, meta_len);
  if (rc == 0)
    rc = ipc_parse_meta(meta, meta_len, &m, err);
  size_t lead = (IPC_ALIGN - (IPC_PREFIX + meta_len) % IPC_ALIGN) % IPC_ALIGN;
  size_t head = lead + IPC_PREFIX + meta_len;
  if (rc == 0 && (uint64_t)m.body_len > SIZE_MAX - head - 2 * IPC_ALIGN)
    rc = dq_error_set(err, DQ_ETOOBIG,
                      "Arrow IPC message body of %lld bytes is too large",
                      (long long)m.body_len);
  /* The body length is the peer's claim: grow the buffer as bytes really
   * arrive (16 MiB first, then doubling) instead of allocating the claim,
   * so a lying header costs what the stream delivers, not what it says. */
  size_t body_len = rc == 0 ? (size_t)m.body_len : 0;
  size_t cap = body_len < ((size_t)16 << 20) ? body_len : ((size_t)16 << 20);
  uint8_t *b = rc == 0 ? body_buffer(head, cap) : NULL;
  if (rc == 0 && b == NULL)
    rc = dq_error_set(err, DQ_ENOMEM,
                      "out of memory for an Arrow IPC message body of %zu "
                      "bytes",
                      cap);
  if (rc != 0) {
    free(meta);
    return rc;
  }
  memcpy(b + lead, prefix, IPC_PREFIX);
  memcpy(b + lead + IPC_PREFIX, meta, meta_len);
  free(meta);
  size_t have = 0;
  while (rc == 0 && have < body_len) {
    if (have == cap) {
      size_t ncap = cap <= body_len / 2 ? cap * 2 : body_len;
      uint8_t *nb = body_buffer(head, ncap);
      if (nb == NULL) {
        rc = dq_error_set(err, DQ_ENOMEM,
                          "out of memory for an Arrow IPC message body of "
                          "%zu bytes",
                          ncap);
        break;
      }
      memcpy(nb, b, head + have);
      free(b);
      b = nb;
      cap = ncap;
    }
    rc = read_full(r, b + head + have, cap - have, &got, err);
    have += got;
    if (rc == 0 && have < cap)
      rc = dq_error_set(err, DQ_EPROTO,
                        "truncated Arrow IPC stream: it ends %zu bytes into a "
                        "%zu-byte message body",
                        have, body_len);
  }
  if (rc != 0) {
    free(b);
    return rc;
  }
  memset(b + head + body_len, 0, IPC_ALIGN);
  *block = b;
  *msg = b + lead;
  *len = IPC_PREFIX + meta_len + body_len + IPC_ALIGN;
  info->type = (dq_ipc_type)m.header_type;
  return 0;
}

static int reader_open(int fd, FILE *f, dq_ipc_reader **out, dq_error *err) {
  if (out == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_ipc_reader_open: out is NULL");
  dq_ipc_reader *r = calloc(1, sizeof *r);
  if (r == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a reader");
  r->fd = fd;
  r->f = f;
  uint8_t *block, *msg;
  size_t len;
  dq_ipc_info info;
  int rc = read_message(r, &block, &msg, &len, &info, err);
  if (rc == 0 && info.type != DQ_IPC_SCHEMA)
    rc = dq_error_set(err, DQ_EPROTO,
                      "an Arrow IPC stream must start with a schema message; "
                      "this one starts with %s",
                      info.type == DQ_IPC_EOS
                          ? "the end of the stream"
                          : info.type == DQ_IPC_RECORD_BATCH
                                ? "a record batch"
                                : "an unsupported message");
  if (rc == 0)
    rc = dq_ipc_decode_schema(msg, len, &r->schema, err);
  free(block);
  if (rc != 0) {
    dq_ipc_reader_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int dq_ipc_reader_open_fd(int fd, dq_ipc_reader **out, dq_error *err) {
  return reader_open(fd, NULL, out, err);
}

int dq_ipc_reader_open_file(FILE *f, dq_ipc_reader **out, dq_error *err) {
  if (f == NULL)
    return dq_error_set(err, DQ_EINVAL, "dq_ipc_reader_open_file: f is NULL");
  return reader_open(-1, f, out, err);
}

dq_schema *dq_ipc_reader_schema(const dq_ipc_reader *r) { return r->schema; }

int dq_ipc_reader_next(dq_ipc_reader *r, dq_batch **out, dq_error *err) {
  if (r == NULL || out == NULL)
    return dq_error_set(err, DQ_EINVAL,
                        "dq_ipc_reader_next: reader and out are required");
  *out = NULL;
  if (r->failed)
    return dq_error_set(err, DQ_EPROTO,
                        "the Arrow IPC stream already failed to decode; it "
                        "cannot be read further");
  if (r->done)
    return 0;
  uint8_t *block, *msg;
  size_t len;
  dq_ipc_info info;
  int rc = read_message(r, &block, &msg, &len, &info, err);
  if (rc == 0 && info.type == DQ_IPC_EOS) {
    r->done = true;
    return 0;
  }
  if (rc == 0 && info.type == DQ_IPC_SCHEMA) {
    free(block);
    rc = dq_error_set(err, DQ_EPROTO,
                      "malformed Arrow IPC stream: a second schema message");
  }
  /* the batch takes the block over; other types are refused (and the block
   * freed) by the decoder */
  if (rc == 0)
    rc = dq_ipc_decode_batch(r->schema, msg, len, free, block, out, err);
  if (rc != 0)
    r->failed = true;
  return rc;
}

void dq_ipc_reader_free(dq_ipc_reader *r) {
  if (r == NULL)
    return;
  dq_schema_unref(r->schema);
  free(r);
}
