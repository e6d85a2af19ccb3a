/* csv_parse.c — the CSV parser of source "csv": reads a pipeline's byte
 * ranges of CSV files (RFC 4180) into batches of the declared schema.
 *
 * A range [offset, offset + length) owns the records that start in it
 * (the Hadoop rule): a reader starting at offset > 0 skips to the first
 * line start at or after offset, and reads its last record to its end
 * even past the range.  Which ranges a pipeline reads is source_csv.c's
 * business.
 *
 * Reading is buffered (one buffer per pipeline, at least 1 MiB and more
 * than the longest record allowed); a record is parsed in place into
 * field slices, quoted fields with doubled quotes are unescaped into a
 * scratch buffer of the same size, and values are stored straight into
 * column buffers sized for the whole batch: nothing is allocated per row.
 *
 * Limitation: a range boundary is found by looking for a line break, so
 * a quoted field holding a line break must not straddle a boundary: the
 * reader of the later range would start inside the quotes.  The reader
 * of the earlier range sees such a record whole and fails the query (see
 * check_boundary), so rows are never read wrong; a file with such fields
 * is read as one range (split_bytes above its size).
 *
 * Errors name FILE:LINE:COLUMN (1-based, physical lines, byte columns);
 * the line is found by counting line breaks from the start of the file,
 * on the error path only, so ranges in the middle of a file need not
 * know their line numbers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "arrow/batch_internal.h"
#include "scan/csv.h"
#include "scan/file_policy.h"

#define MIN_BUFFER (1u << 20)

typedef struct field {
  const char *p;
  size_t len;
  size_t pos;  /* offset in buf of the field's first byte (error reports) */
  bool quoted;
} field;

/* One output column of the batch being filled: buffers sized for a whole
 * batch up front (UTF-8 bytes excepted, which grow by doubling), so a
 * value is one store.  The validity bitmap is made at the first NULL. */
typedef struct col_out {
  dq_type type;
  size_t width; /* bytes per value; 0 for BOOL (bits) and UTF8 */
  dq_buffer *values, *validity, *offsets;
  int64_t nulls;
} col_out;

typedef struct scan_csv_op {
  dq_source_reader r;
  const dq_csv_params *p;
  const struct dq_file_policy *files; /* NULL: any file */
  dq_source_projection proj;
  bool identity; /* the projection is every column, in order */
  dq_csv_range *ranges;
  size_t n_ranges, next_range;
  size_t n_cols;
  col_out *cols;
  int64_t batch_rows, rows; /* rows per batch; rows in the current one */

  /* the open range */
  int fd;
  const char *path;
  int64_t range_end;
  bool header_pending; /* the range starts the file and it has a header */
  char *buf;           /* cap bytes: buf[lo, hi) not yet parsed */
  size_t cap, lo, hi;
  int64_t buf_off;     /* file offset of buf[0] */
  bool eof;
  char *scratch;       /* unescaped quoted fields, cap bytes */
  field *f;            /* n_cols + 1 */
  size_t nf;
  size_t rec_end;      /* offset in buf just past the record's terminator */
} scan_csv_op;

/* --- errors with a location ------------------------------------------------*/

/* The 1-based line and byte column of file offset `off`, counted from
 * the start of the file. */
static void locate(const char *path, int64_t off, int64_t *line,
                   int64_t *col) {
  *line = 1;
  *col = off + 1;
  enum { CHUNK = 1 << 16 };
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  char *chunk = fd >= 0 ? malloc(CHUNK) : NULL; /* error path only */
  if (chunk == NULL) {
    if (fd >= 0)
      close(fd);
    return;
  }
  int64_t pos = 0, last_nl = -1;
  while (pos < off) {
    size_t want = off - pos < CHUNK ? (size_t)(off - pos) : CHUNK;
    ssize_t got = pread(fd, chunk, want, pos);
    if (got <= 0)
      break;
    for (ssize_t i = 0; i < got; i++)
      if (chunk[i] == '\n') {
        (*line)++;
        last_nl = pos + i;
      }
    pos += got;
  }
  free(chunk);
  close(fd);
  *col = off - last_nl;
}

/* Sets err to "PATH:LINE:COL: <message>" for the byte at buf offset pos. */
DQ_PRINTF(5, 6)
static int fail_at(scan_csv_op *s, size_t pos, dq_error *err, int code,
                   const char *fmt, ...) {
  char why[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  int64_t line, col;
  locate(s->path, s->buf_off + (int64_t)pos, &line, &col);
  return dq_error_set(err, code, "%s:%" PRId64 ":%" PRId64 ": %s", s->path,
                      line, col, why);
}

/* A field's text for a message: at most 40 bytes, non-printing as '?'. */
static const char *excerpt(const field *fl, char *out, size_t cap) {
  size_t n = fl->len < 40 ? fl->len : 40;
  if (n + 4 > cap)
    n = cap - 4;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)fl->p[i];
    out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  strcpy(out + n, fl->len > n ? "..." : "");
  return out;
}

/* --- reading ---------------------------------------------------------------*/

static void close_range(scan_csv_op *s) {
  if (s->fd >= 0)
    close(s->fd);
  s->fd = -1;
}

/* Moves the unparsed bytes to the front and reads more.  0 on success (eof
 * set at the end of the file), 1 when the buffer is full of one record. */
static int refill(scan_csv_op *s, dq_error *err) {
  if (s->lo > 0) {
    memmove(s->buf, s->buf + s->lo, s->hi - s->lo);
    s->buf_off += (int64_t)s->lo;
    s->hi -= s->lo;
    s->lo = 0;
  }
  if (s->hi == s->cap)
    return 1;
  /* Read what is left of the range, but at least 64 KiB: the last record
   * runs past the end, and a small range should not cost a full buffer. */
  int64_t left = s->range_end - (s->buf_off + (int64_t)s->hi);
  size_t want = left > (int64_t)(s->cap - s->hi) ? s->cap - s->hi
                : left < (1 << 16)               ? 1 << 16
                                                 : (size_t)left;
  if (want > s->cap - s->hi)
    want = s->cap - s->hi;
  for (;;) {
    ssize_t got = read(s->fd, s->buf + s->hi, want);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      return dq_error_set(err, DQ_EIO, "reading CSV file %s: %s", s->path,
                          strerror(errno));
    if (got == 0)
      s->eof = true;
    s->hi += (size_t)got;
    return 0;
  }
}

static int open_range(scan_csv_op *s, const dq_csv_range *r, dq_error *err) {
  s->path = r->path;
  /* A worker's data_dirs: the resolved path is the one opened. */
  char real[4096];
  int prc = dq_file_policy_check(s->files, r->path, real,
                                 sizeof real, err);
  if (prc < 0)
    return prc;
  s->fd = open(real, O_RDONLY | O_CLOEXEC);
  if (s->fd < 0)
    return dq_error_set(err, DQ_ENOENT, "cannot open CSV file %s: %s",
                        r->path, strerror(errno));
  /* Start one byte early: a line break there means a record starts
   * exactly at the offset, and it is ours. */
  int64_t start = r->offset > 0 ? r->offset - 1 : 0;
  if (lseek(s->fd, start, SEEK_SET) < 0)
    return dq_error_set(err, DQ_EIO, "seeking in CSV file %s: %s", r->path,
                        strerror(errno));
  s->buf_off = start;
  s->lo = s->hi = 0;
  s->eof = false;
  s->range_end = r->offset + r->length;
  s->header_pending = r->offset == 0 && s->p->header;
  if (r->offset == 0)
    return 0;
  /* Skip the rest of the record the previous range owns. */
  for (;;) {
    char *nl = memchr(s->buf + s->lo, '\n', s->hi - s->lo);
    if (nl != NULL) {
      s->lo = (size_t)(nl - s->buf) + 1;
      return 0;
    }
    s->lo = s->hi;
    if (s->eof)
      return 0;
    int rc = refill(s, err);
    if (rc < 0)
      return rc;
  }
}

/* The first ',' or '\n' in b[j, end), or end: eight bytes at a time
 * (a byte equal to the one sought becomes zero after the xor; the
 * lowest flagged byte of the zero-byte test is always a true match, and
 * on a little-endian machine the lowest byte comes first in memory). */
static size_t find_delim(const char *b, size_t j, size_t end) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  while (j + 8 <= end) {
    uint64_t w;
    memcpy(&w, b + j, 8);
    uint64_t c = w ^ (ones * ','), n = w ^ (ones * '\n');
    uint64_t m = ((c - ones) & ~c & highs) | ((n - ones) & ~n & highs);
    if (m != 0)
      return j + (size_t)(__builtin_ctzll(m) >> 3);
    j += 8;
  }
#endif
  while (j < end && b[j] != ',' && b[j] != '\n')
    j++;
  return j;
}

/* Splits the record at buf[lo..] into fields.  1: a record (s->f, s->nf,
 * s->rec_end); 0: the buffer ends inside the record (read more); < 0: a
 * malformed record. */
static int split_record(scan_csv_op *s, dq_error *err) {
  char *b = s->buf;
  size_t i = s->lo, end = s->hi, sc = 0;
  size_t want = s->n_cols;
  s->nf = 0;
  for (;;) {
    field *fl = &s->f[s->nf];
    if (s->nf == want) /* one field too many */
      return fail_at(s, i, err, DQ_EINVAL, "too many fields: the schema "
                     "has %zu columns", want);
    fl->pos = i;
    if (i < end && b[i] == '"') {
      /* Quoted: runs to a quote not followed by another quote. */
      size_t j = i + 1;
      bool escaped = false;
      for (;;) {
        char *q = memchr(b + j, '"', end - j);
        if (q == NULL) {
          if (!s->eof)
            return 0;
          return fail_at(s, i, err, DQ_EINVAL, "unterminated quoted field "
                         "(the file ends inside it)");
        }
        j = (size_t)(q - b) + 1;
        if (j == end && !s->eof)
          return 0; /* is the next byte a quote too? */
        if (j < end && b[j] == '"') {
          escaped = true;
          j++;
          continue;
        }
        break;
      }
      /* j is just past the closing quote. */
      if (!escaped) {
        fl->p = b + i + 1;
        fl->len = j - i - 2;
      } else {
        char *o = s->scratch + sc;
        size_t n = 0;
        for (size_t k = i + 1; k < j - 1; k++) {
          o[n++] = b[k];
          if (b[k] == '"')
            k++; /* the doubled quote's second half */
        }
        fl->p = o;
        fl->len = n;
        sc += n;
      }
      fl->quoted = true;
      s->nf++;
      if (j < end && b[j] == '\r' && j + 1 < end && b[j + 1] == '\n')
        j++;
      else if (j + 1 == end && b[j] == '\r' && !s->eof)
        return 0;
      if (j == end) {
        if (!s->eof)
          return 0;
        s->rec_end = j;
        break;
      }
      if (b[j] == '\n' || (b[j] == '\r' && j + 1 == end && s->eof)) {
        s->rec_end = j + 1;
        break;
      }
      if (b[j] != ',') {
        unsigned char c = (unsigned char)b[j];
        char what[16];
        snprintf(what, sizeof what, c > 0x20 && c < 0x7f ? "'%c'" : "byte "
                 "0x%02x", c);
        return fail_at(s, j, err, DQ_EINVAL, "unexpected %s after a "
                       "closing quote (a quote inside a quoted field is "
                       "written twice)", what);
      }
      i = j + 1;
      continue;
    }
    /* Unquoted: runs to a comma or the end of the line. */
    size_t j = find_delim(b, i, end);
    if (j == end && !s->eof)
      return 0;
    fl->p = b + i;
    fl->len = j - i;
    fl->quoted = false;
    s->nf++;
    if (j < end && b[j] == ',') {
      i = j + 1;
      continue;
    }
    if (fl->len > 0 && fl->p[fl->len - 1] == '\r')
      fl->len--;
    s->rec_end = j < end ? j + 1 : j;
    break;
  }
  if (s->nf != want) {
    size_t at = s->rec_end;
    if (at > s->lo && b[at - 1] == '\n')
      at--;
    if (at > s->lo && b[at - 1] == '\r')
      at--;
    return fail_at(s, at, err, DQ_EINVAL, "too few fields: %zu of the "
                   "schema's %zu", s->nf, want);
  }
  return 1;
}

/* The last record of a range may run past its end.  The next range's
 * reader starts after the first line break at or after end - 1; if that
 * break lies inside this record (in a quoted field), that reader starts
 * mid-record.  This reader alone can see it, so it fails the query
 * rather than let rows be read wrong. */
static int check_boundary(scan_csv_op *s, dq_error *err) {
  int64_t end = s->range_end;
  size_t stop = s->rec_end;
  if (stop > s->lo && s->buf[stop - 1] == '\n')
    stop--; /* the record's own terminator is where the next one looks */
  if (s->buf_off + (int64_t)s->rec_end < end)
    return 1; /* not the last record of the range */
  size_t from = end - 1 > s->buf_off + (int64_t)s->lo
                    ? (size_t)(end - 1 - s->buf_off)
                    : s->lo;
  if (from >= stop)
    return 1;
  const char *nl = memchr(s->buf + from, '\n', stop - from);
  if (nl == NULL)
    return 1;
  return fail_at(s, (size_t)(nl - s->buf), err, DQ_EINVAL, "a quoted field "
                 "holds a line break across the boundary of a byte range "
                 "(at byte %" PRId64 "): read files with line breaks in "
                 "quoted fields as one range (split_bytes above the file "
                 "size)", end);
}

/* The next record of the open range: 1 with the fields set, 0 at the end
 * of the range, < 0 on error. */
static int next_record(scan_csv_op *s, dq_error *err) {
  for (;;) {
    if (s->buf_off + (int64_t)s->lo >= s->range_end)
      return 0;
    if (s->lo == s->hi) {
      if (s->eof)
        return 0;
      int rc = refill(s, err);
      if (rc < 0)
        return rc;
      continue;
    }
    int rc = split_record(s, err);
    if (rc < 0)
      return rc;
    size_t limit = (size_t)s->p->max_line;
    if (rc == 0) {
      if (s->hi - s->lo > limit + 2 || (rc = refill(s, err)) == 1)
        return fail_at(s, s->lo, err, DQ_EINVAL, "record longer than "
                       "%" PRId64 " bytes (the scan's max_line_bytes)",
                       s->p->max_line);
      if (rc < 0)
        return rc;
      continue;
    }
    size_t len = s->rec_end - s->lo;
    if (len > 0 && s->buf[s->rec_end - 1] == '\n')
      len--;
    if (len > 0 && s->buf[s->lo + len - 1] == '\r')
      len--;
    if (len > limit)
      return fail_at(s, s->lo, err, DQ_EINVAL, "record longer than "
                     "%" PRId64 " bytes (the scan's max_line_bytes)",
                     s->p->max_line);
    return check_boundary(s, err);
  }
}

/* --- values ------------------------------------------------------------------*/

static bool parse_int(const char *p, size_t n, int64_t lo, int64_t hi,
                      int64_t *out) {
  size_t i = 0;
  bool neg = false;
  if (i < n && (p[i] == '-' || p[i] == '+'))
    neg = p[i++] == '-';
  if (i == n)
    return false;
  uint64_t v = 0, lim = neg ? (uint64_t)(-(lo + 1)) + 1 : (uint64_t)hi;
  for (; i < n; i++) {
    unsigned d = (unsigned)(p[i] - '0');
    if (d > 9 || v > (lim - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* Days from 1970-01-01 (H. Hinnant's days_from_civil). */
static int32_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  int era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int32_t)doe - 719468;
}

static bool parse_date(const char *p, size_t n, int32_t *out) {
  if (n != 10 || p[4] != '-' || p[7] != '-')
    return false;
  int v[10];
  for (int i = 0; i < 10; i++) {
    if (i == 4 || i == 7)
      continue;
    if (p[i] < '0' || p[i] > '9')
      return false;
    v[i] = p[i] - '0';
  }
  int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
  unsigned m = (unsigned)(v[5] * 10 + v[6]), d = (unsigned)(v[8] * 10 + v[9]);
  static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1)
    return false;
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[m - 1] + (m == 2 && leap))
    return false;
  *out = days_from_civil(y, m, d);
  return true;
}

/* "-12.3" into decimal(p,s): NULL on success, else why not. */
static const char *parse_decimal(const char *p, size_t n, dq_type t,
                                 dq_i128 *out) {
  size_t i = 0;
  bool neg = false;
  if (i < n && (p[i] == '-' || p[i] == '+'))
    neg = p[i++] == '-';
  dq_i128 v = 0;
  int int_digits = 0, frac_digits = 0;
  bool any = false, point = false;
  for (; i < n; i++) {
    char c = p[i];
    if (c == '.' && !point) {
      point = true;
      continue;
    }
    if (c < '0' || c > '9')
      return "not a decimal number";
    any = true;
    if (point) {
      if (++frac_digits > t.scale)
        return "too many digits after the point";
    } else if (int_digits > 0 || c != '0') {
      if (++int_digits > t.precision - t.scale)
        return "too many digits before the point";
    }
    v = v * 10 + (c - '0');
  }
  if (!any)
    return "not a decimal number";
  for (; frac_digits < t.scale; frac_digits++)
    v *= 10;
  *out = neg ? -v : v;
  return NULL;
}

static bool parse_bool(const char *p, size_t n, bool *out) {
  static const char *const yes[] = {"true", "t", "1"}, *const no[] = {
                                                         "false", "f", "0"};
  for (int k = 0; k < 3; k++) {
    if (strlen(yes[k]) == n && strncasecmp(p, yes[k], n) == 0)
      return *out = true, true;
    if (strlen(no[k]) == n && strncasecmp(p, no[k], n) == 0)
      return *out = false, true;
  }
  return false;
}

static bool parse_float(const char *p, size_t n, double *out) {
  char tmp[64];
  if (n == 0 || n >= sizeof tmp)
    return false;
  memcpy(tmp, p, n);
  tmp[n] = '\0';
  char *end;
  errno = 0;
  *out = strtod(tmp, &end);
  return end == tmp + n && errno != ERANGE && !(tmp[0] == ' ' ||
                                                tmp[0] == '\t');
}

static bool utf8_valid(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    /* Eight ASCII bytes at a time: text is nearly always ASCII. */
    if (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k;
    uint32_t cp, min;
    if ((c & 0xe0) == 0xc0)
      k = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
      k = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
      k = 4, cp = c & 0x07, min = 0x10000;
    else
      return false;
    if (n - i < k)
      return false;
    for (size_t j = 1; j < k; j++) {
      if ((p[i + j] & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += k;
  }
  return true;
}

static size_t bitmap_bytes(int64_t n) { return (size_t)(n + 7) / 8; }

/* Fresh buffers for a batch of up to batch_rows rows. */
static int start_batch(scan_csv_op *s, dq_error *err) {
  size_t cap = (size_t)s->batch_rows;
  for (size_t c = 0; c < s->n_cols; c++) {
    col_out *o = &s->cols[c];
    o->nulls = 0;
    if (o->type.id == DQ_TYPE_UTF8) {
      o->offsets = dq_buffer_new((cap + 1) * sizeof(int32_t));
      o->values = dq_buffer_new(cap * 16);
      if (o->offsets == NULL)
        goto nomem;
    } else {
      o->values = dq_buffer_new(o->type.id == DQ_TYPE_BOOL
                                    ? bitmap_bytes((int64_t)cap)
                                    : cap * o->width);
    }
    if (o->values == NULL)
      goto nomem;
  }
  return 0;
nomem:
  return dq_error_set(err, DQ_ENOMEM, "out of memory for a batch of %zu "
                      "rows", cap);
}

static void drop_batch(scan_csv_op *s) {
  for (size_t c = 0; s->cols != NULL && c < s->n_cols; c++) {
    dq_buffer_unref(s->cols[c].values);
    dq_buffer_unref(s->cols[c].validity);
    dq_buffer_unref(s->cols[c].offsets);
    s->cols[c].values = s->cols[c].validity = s->cols[c].offsets = NULL;
  }
  s->rows = 0;
}

/* Marks row r of column o NULL (the bitmap is made at the first one, with
 * every earlier row valid). */
static int set_null(scan_csv_op *s, col_out *o, int64_t r, dq_error *err) {
  if (o->validity == NULL) {
    o->validity = dq_buffer_new(bitmap_bytes(s->batch_rows));
    if (o->validity == NULL)
      return dq_error_set(err, DQ_ENOMEM, "out of memory");
    memset(o->validity->data, 0xff, bitmap_bytes(r));
    for (int64_t i = r & ~(int64_t)7; i < r; i++)
      dq_bit_set(o->validity->data, i, true);
    for (int64_t i = r; i < ((r + 7) & ~(int64_t)7); i++)
      dq_bit_set(o->validity->data, i, false);
  }
  dq_bit_set(o->validity->data, r, false);
  o->nulls++;
  if (o->type.id == DQ_TYPE_UTF8) {
    int32_t *off = (int32_t *)o->offsets->data;
    off[r + 1] = off[r];
  }
  return 0;
}

/* Stores the current record's fields as row s->rows. */
static int append_record(scan_csv_op *s, dq_error *err) {
  const dq_schema *sc = s->p->schema;
  int64_t r = s->rows;
  for (size_t c = 0; c < s->n_cols; c++) {
    const field *fl = &s->f[c];
    col_out *o = &s->cols[c];
    dq_type t = o->type;
    uint8_t *v = o->values->data;
    const char *why = NULL;
    char tb[32], ex[48];
    if (o->validity != NULL)
      dq_bit_set(o->validity->data, r, true);
    if (fl->len == 0 && (!fl->quoted || t.id != DQ_TYPE_UTF8)) {
      if (!dq_schema_field_nullable(sc, c))
        return fail_at(s, fl->pos, err, DQ_EINVAL, "column \"%s\" (%s) is "
                       "not nullable but the field is empty (NULL)",
                       dq_schema_field_name(sc, c),
                       dq_type_format(t, tb, sizeof tb));
      int rc = set_null(s, o, r, err);
      if (rc != 0)
        return rc;
      continue;
    }
    switch (t.id) {
    case DQ_TYPE_BOOL: {
      bool b;
      if (!parse_bool(fl->p, fl->len, &b))
        why = "not a boolean (true/false)";
      else
        dq_bit_set(v, r, b);
      break;
    }
    case DQ_TYPE_INT32: {
      int64_t x;
      if (!parse_int(fl->p, fl->len, INT32_MIN, INT32_MAX, &x))
        why = "not an integer in range";
      else
        ((int32_t *)v)[r] = (int32_t)x;
      break;
    }
    case DQ_TYPE_INT64: {
      int64_t x;
      if (!parse_int(fl->p, fl->len, INT64_MIN, INT64_MAX, &x))
        why = "not an integer in range";
      else
        ((int64_t *)v)[r] = x;
      break;
    }
    case DQ_TYPE_FLOAT64: {
      double x;
      if (!parse_float(fl->p, fl->len, &x))
        why = "not a number";
      else
        memcpy(v + (size_t)r * 8, &x, 8);
      break;
    }
    case DQ_TYPE_DATE32: {
      int32_t x;
      if (!parse_date(fl->p, fl->len, &x))
        why = "not a date (YYYY-MM-DD)";
      else
        ((int32_t *)v)[r] = x;
      break;
    }
    case DQ_TYPE_DECIMAL: {
      dq_i128 x;
      why = parse_decimal(fl->p, fl->len, t, &x);
      if (why == NULL && dq_type_width(t) == 8) {
        /* decimal64: parse_decimal kept it within the precision (<= 18) */
        int64_t w = (int64_t)x;
        memcpy(v + (size_t)r * 8, &w, 8);
      } else if (why == NULL) {
        dq_decimal d = dq_decimal_from_i128(x);
        uint64_t w[2] = {d.lo, (uint64_t)d.hi}; /* Arrow: low word first */
        memcpy(v + (size_t)r * 16, w, 16);
      }
      break;
    }
    case DQ_TYPE_UTF8: {
      if (!utf8_valid((const uint8_t *)fl->p, fl->len)) {
        why = "not valid UTF-8";
        break;
      }
      int32_t *off = (int32_t *)o->offsets->data;
      if (fl->len > (size_t)(INT32_MAX - off[r]))
        return fail_at(s, fl->pos, err, DQ_ETOOBIG, "column \"%s\": more "
                       "than 2 GiB of text in one batch",
                       dq_schema_field_name(sc, c));
      size_t need = (size_t)off[r] + fl->len;
      if (need > o->values->capacity &&
          dq_buffer_reserve(o->values, need) != 0)
        return dq_error_set(err, DQ_ENOMEM, "out of memory");
      memcpy(o->values->data + off[r], fl->p, fl->len);
      off[r + 1] = (int32_t)need;
      break;
    }
    }
    if (why != NULL)
      return fail_at(s, fl->pos, err, DQ_EINVAL, "column \"%s\" (%s): "
                     "\"%s\" is %s", dq_schema_field_name(sc, c),
                     dq_type_format(t, tb, sizeof tb),
                     excerpt(fl, ex, sizeof ex), why);
  }
  s->rows++;
  return 0;
}

/* Hands the filled buffers over to a batch. */
static int finish_batch(scan_csv_op *s, dq_batch **out, dq_error *err) {
  int64_t n = s->rows;
  dq_array *arrays[256];
  dq_array **a = s->n_cols <= 256 ? arrays
                                  : calloc(s->n_cols, sizeof *a);
  if (a == NULL)
    return dq_error_set(err, DQ_ENOMEM, "out of memory");
  int rc = 0;
  size_t made = 0;
  for (size_t c = 0; c < s->n_cols && rc == 0; c++) {
    col_out *o = &s->cols[c];
    if (o->validity != NULL)
      o->validity->size = bitmap_bytes(n);
    if (o->type.id == DQ_TYPE_UTF8) {
      o->offsets->size = (size_t)(n + 1) * sizeof(int32_t);
      o->values->size = (size_t)((int32_t *)o->offsets->data)[n];
    } else {
      o->values->size = o->type.id == DQ_TYPE_BOOL ? bitmap_bytes(n)
                                                   : (size_t)n * o->width;
    }
    /* The array takes the buffers over (on failure too). */
    rc = dq_array_from_buffers(o->type, n, o->nulls, o->validity, o->values,
                               o->offsets, &a[c], err);
    o->validity = o->values = o->offsets = NULL;
    made += rc == 0;
  }
  dq_batch *b = NULL;
  if (rc == 0)
    rc = dq_batch_new(s->identity ? s->proj.schema : s->p->schema, n, a, &b,
                      err);
  if (rc == 0 && s->identity)
    *out = b;
  else if (rc == 0)
    rc = dq_source_project(b, &s->proj, out, err);
  for (size_t c = 0; c < made; c++)
    dq_array_unref(a[c]);
  if (a != arrays)
    free(a);
  drop_batch(s);
  return rc;
}

static int scan_next(dq_source_reader *r, dq_batch **out, dq_error *err) {
  scan_csv_op *s = (scan_csv_op *)r;
  *out = NULL;
  while (s->rows < s->batch_rows) {
    if (s->fd < 0) {
      if (s->next_range >= s->n_ranges)
        break;
      int rc = open_range(s, &s->ranges[s->next_range++], err);
      if (rc != 0)
        return rc;
    }
    int rc = next_record(s, err);
    if (rc < 0)
      return rc;
    if (rc == 0) {
      close_range(s);
      continue;
    }
    s->lo = s->rec_end;
    if (s->header_pending) {
      s->header_pending = false;
      continue;
    }
    if (s->cols[0].values == NULL && (rc = start_batch(s, err)) != 0)
      return rc;
    if ((rc = append_record(s, err)) != 0)
      return rc;
  }
  if (s->rows == 0)
    return 0;
  return finish_batch(s, out, err);
}

static void scan_close(dq_source_reader *r) {
  scan_csv_op *s = (scan_csv_op *)r;
  close_range(s);
  drop_batch(s);
  free(s->cols);
  free(s->ranges);
  free(s->buf);
  free(s->scratch);
  free(s->f);
  free(s);
}

int dq_csv_reader_open(const dq_csv_params *p,
                       const struct dq_file_policy *files,
                       const dq_source_projection *proj, int64_t batch_rows,
                       dq_csv_range *ranges, size_t n_ranges,
                       dq_source_reader **out, dq_error *err) {
  scan_csv_op *s = calloc(1, sizeof *s);
  if (s == NULL) {
    free(ranges);
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a scan");
  }
  s->fd = -1;
  s->r.next = scan_next;
  s->r.close = scan_close;
  s->p = p;
  s->files = files;
  s->proj = *proj;
  s->ranges = ranges;
  s->n_ranges = n_ranges;
  s->n_cols = dq_schema_n_fields(p->schema);
  s->identity = proj->n_columns == s->n_cols;
  for (size_t i = 0; s->identity && i < proj->n_columns; i++)
    s->identity = proj->column_idx[i] == (int)i;
  s->batch_rows = batch_rows > 0 ? batch_rows : 8192;
  s->cols = calloc(s->n_cols, sizeof *s->cols);
  for (size_t c = 0; s->cols != NULL && c < s->n_cols; c++) {
    s->cols[c].type = dq_schema_field_type(p->schema, c);
    s->cols[c].width = dq_type_width(s->cols[c].type);
  }
  /* Room for the longest record allowed, its line break, and slack so a
   * record just over the limit is seen whole and reported as such. */
  s->cap = (size_t)p->max_line + 64;
  if (s->cap < MIN_BUFFER)
    s->cap = MIN_BUFFER;
  s->buf = malloc(s->cap);
  s->scratch = malloc(s->cap);
  s->f = calloc(s->n_cols + 1, sizeof *s->f);
  if (s->buf == NULL || s->scratch == NULL || s->f == NULL ||
      s->cols == NULL) {
    scan_close(&s->r);
    return dq_error_set(err, DQ_ENOMEM, "out of memory opening a CSV scan");
  }
  *out = &s->r;
  return 0;
}
