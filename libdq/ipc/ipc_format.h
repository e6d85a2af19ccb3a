/* ipc_format.h — what the encoder, the decoder and the stream reader share
 * about the Arrow IPC format: field ids of the flatbuffer tables (declaration
 * order in format/Schema.fbs and format/Message.fbs, a union taking two ids:
 * its type then its value), enum values, framing constants, and the parsing
 * of a message's prefix and metadata.
 */
#ifndef DQ_IPC_FORMAT_H
#define DQ_IPC_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include <dq/dq.h>

#include "ipc/flatbuf.h"

#define IPC_CONTINUATION 0xFFFFFFFFu
#define IPC_PREFIX 8     /* continuation + int32 metadata length */
#define IPC_ALIGN 64     /* body buffers and the metadata end aligned to this */

/* MetadataVersion (short) */
#define IPC_V4 3
#define IPC_V5 4

/* union MessageHeader */
#define IPC_HDR_SCHEMA 1
#define IPC_HDR_DICTIONARY 2
#define IPC_HDR_RECORD_BATCH 3
#define IPC_HDR_TENSOR 4
#define IPC_HDR_SPARSE_TENSOR 5

/* table Message */
#define MSG_VERSION 0
#define MSG_HEADER_TYPE 1
#define MSG_HEADER 2
#define MSG_BODY_LENGTH 3

/* table Schema */
#define SCHEMA_ENDIANNESS 0
#define SCHEMA_FIELDS 1

/* table Field */
#define FIELD_NAME 0
#define FIELD_NULLABLE 1
#define FIELD_TYPE_TYPE 2
#define FIELD_TYPE 3
#define FIELD_DICTIONARY 4
#define FIELD_CHILDREN 5

/* union Type: the members dq maps, and the count of members Arrow defines
 * today (so an unknown number can be told from a known unsupported one). */
#define TYPE_INT 2
#define TYPE_FLOATING_POINT 3
#define TYPE_UTF8 5
#define TYPE_BOOL 6
#define TYPE_DECIMAL 7
#define TYPE_DATE 8

/* table Int { bitWidth: int; is_signed: bool } */
#define INT_BIT_WIDTH 0
#define INT_IS_SIGNED 1
/* table FloatingPoint { precision: Precision }; Precision DOUBLE = 2 */
#define FP_PRECISION 0
#define FP_DOUBLE 2
/* table Decimal { precision: int; scale: int; bitWidth: int = 128 } */
#define DEC_PRECISION 0
#define DEC_SCALE 1
#define DEC_BIT_WIDTH 2
/* table Date { unit: DateUnit = MILLISECOND }; DAY = 0 */
#define DATE_UNIT 0
#define DATE_DAY 0
#define DATE_MILLISECOND 1

/* table RecordBatch */
#define RB_LENGTH 0
#define RB_NODES 1
#define RB_BUFFERS 2
#define RB_COMPRESSION 3
#define RB_VARIADIC_COUNTS 4

/* struct FieldNode { length: long; null_count: long } and
 * struct Buffer { offset: long; length: long }: 16 bytes, 8-aligned */
#define IPC_STRUCT_SIZE 16

/* Metadata larger than this is refused before anything is allocated for it:
 * dq's own schemas need a few hundred bytes per field. */
#define IPC_MAX_METADATA (64u << 20)

/* The 8-byte prefix: 0 with *meta_len (0 for the end-of-stream marker), or
 * DQ_EPROTO for a bad continuation or a negative length. */
int ipc_parse_prefix(const uint8_t p[IPC_PREFIX], size_t *meta_len,
                     dq_error *err);

/* A message's metadata, verified down to its header table.  Holds pointers
 * into itself (msg.buf == &fb): parse in place, never copy it. */
typedef struct ipc_meta {
  fb_buf fb;
  fb_table msg;
  fb_table header;
  uint8_t header_type; /* IPC_HDR_* */
  int64_t body_len;    /* >= 0 */
} ipc_meta;

/* Parses meta[0..len) (the bytes after the prefix).  Unknown header types
 * and metadata versions before V4 are errors here; known header types dq
 * cannot decode (dictionary, tensor) are left to the caller. */
int ipc_parse_meta(const uint8_t *meta, size_t len, ipc_meta *out,
                   dq_error *err);

#endif /* DQ_IPC_FORMAT_H */
