// interop.mjs — the apache-arrow (JavaScript) side of dq's IPC interop test,
// run by tests/ipc_interop.test.
//
//   node interop.mjs check FILE ROWS   read an IPC stream dq wrote and check
//                                      its schema and every value
//   node interop.mjs write FILE [BITS] write the same data set with
//                                      apache-arrow for dq to check, its
//                                      decimal(15,2) column 'price' as a
//                                      decimal128 (default) or, BITS 64, a
//                                      decimal64
//
// dq stores a decimal of precision <= 18 in 64 bits and writes it as Arrow
// decimal64 (bitWidth 64): 'price' is checked as that; 'big' (38 digits)
// stays decimal128.  dq reads both widths, narrowing a decimal128 whose
// precision fits 64 bits.
//
// The data set is defined in tests/ipc_testdata.h; the functions below
// compute the same values and must change with it.  Columns are built from
// raw buffers (makeData) rather than builders so that what dq receives is
// exactly what is described here; values are checked from the raw buffers
// too where apache-arrow's accessors convert (dates, decimals).
import { readFileSync, writeFileSync } from 'node:fs';
import {
  Bool, DateDay, DateUnit, Decimal, Field, Float64, Int32, Int64, makeData,
  Precision, RecordBatch, RecordBatchReader, RecordBatchStreamWriter, Schema,
  Struct, Type, Utf8,
} from 'apache-arrow';

const NAMES = ['id', 'flag', 'i32', 'i64', 'f64', 'name', 'day', 'price', 'big'];
const isNull = (c, r) => c > 0 && (r + c) % 3 === 1;
const gen = [
  (r) => BigInt(r),
  (r) => r % 5 < 2,
  (r) => r * 37 - 500,
  (r) => BigInt(r) * 1000000007n - (1n << 40n),
  (r) => r * 0.25 - 3.5,
  (r) => (r % 7 === 0 ? '' : `é${r}`.repeat((r % 4) + 1)),
  (r) => r - 400,
  (r) => BigInt(r * 12345 - 99999),
  (r) => (BigInt(r) * 10n ** 20n + BigInt(r)) * (r % 2 ? -1n : 1n),
];

function schema(priceBits = 64) {
  return new Schema([
    new Field('id', new Int64(), false),
    new Field('flag', new Bool(), true),
    new Field('i32', new Int32(), true),
    new Field('i64', new Int64(), true),
    new Field('f64', new Float64(), true),
    new Field('name', new Utf8(), true),
    new Field('day', new DateDay(), true),
    new Field('price', new Decimal(2, 15, priceBits), true),
    new Field('big', new Decimal(10, 38, 128), true),
  ]);
}

let failures = 0;
function fail(msg) {
  if (failures++ < 20) console.error(`interop.mjs: ${msg}`);
}

// A signed 128-bit integer as four little-endian 32-bit words and back.
function toWords(v) {
  let x = v < 0n ? (1n << 128n) + v : v;
  const w = new Uint32Array(4);
  for (let k = 0; k < 4; k++) {
    w[k] = Number(x & 0xffffffffn);
    x >>= 32n;
  }
  return w;
}
function fromWords(w, at, words = 4) {
  let x = 0n;
  for (let k = words - 1; k >= 0; k--) x = (x << 32n) | BigInt(w[at + k]);
  const bits = BigInt(32 * words);
  return x >= 1n << (bits - 1n) ? x - (1n << bits) : x;
}

function checkSchema(s) {
  const want = schema();
  if (s.fields.length !== want.fields.length) {
    fail(`schema has ${s.fields.length} fields, expected ${want.fields.length}`);
    return false;
  }
  want.fields.forEach((w, c) => {
    const f = s.fields[c];
    const t = f.type;
    if (f.name !== w.name) fail(`field ${c} is named '${f.name}', expected '${w.name}'`);
    if (f.nullable !== w.nullable) fail(`field ${w.name}: nullable is ${f.nullable}`);
    if (t.typeId !== w.type.typeId) fail(`field ${w.name}: type ${t}, expected ${w.type}`);
    if (t.typeId === Type.Int && (t.bitWidth !== w.type.bitWidth || !t.isSigned))
      fail(`field ${w.name}: type ${t}, expected ${w.type}`);
    if (t.typeId === Type.Float && t.precision !== Precision.DOUBLE)
      fail(`field ${w.name}: float precision ${t.precision}`);
    if (t.typeId === Type.Date && t.unit !== DateUnit.DAY)
      fail(`field ${w.name}: date unit ${t.unit}, expected DAY`);
    if (t.typeId === Type.Decimal &&
        (t.precision !== w.type.precision || t.scale !== w.type.scale ||
         t.bitWidth !== w.type.bitWidth))
      fail(`field ${w.name}: ${t}, expected ${w.type}`);
  });
  return failures === 0;
}

function checkValue(c, r, vec, data, j) {
  const want = gen[c](r);
  let got;
  switch (c) {
    case 6: got = data.values[j]; break;              // days, raw int32
    case 7: case 8: {                                 // raw words, 2 or 4 a value
      const words = data.type.bitWidth / 32;
      got = fromWords(data.values, words * j, words);
      break;
    }
    default: got = vec.get(j);
  }
  if (got !== want) fail(`${NAMES[c]} row ${r}: got ${got}, expected ${want}`);
}

function check(file, rows) {
  const reader = RecordBatchReader.from(readFileSync(file));
  reader.open();
  if (!checkSchema(reader.schema)) return;
  let r0 = 0;
  let batches = 0;
  for (const batch of reader) {
    batches++;
    for (let c = 0; c < NAMES.length; c++) {
      const vec = batch.getChildAt(c);
      if (vec.data.length !== 1) fail(`${NAMES[c]}: ${vec.data.length} chunks`);
      const data = vec.data[0];
      if (vec.length !== batch.numRows) fail(`${NAMES[c]}: length ${vec.length}`);
      let nulls = 0;
      for (let j = 0; j < batch.numRows; j++) {
        const r = r0 + j;
        const valid = vec.isValid(j);
        if (valid === isNull(c, r)) {
          fail(`${NAMES[c]} row ${r}: valid is ${valid}`);
          continue;
        }
        if (valid) checkValue(c, r, vec, data, j);
        else nulls++;
      }
      if (vec.nullCount !== nulls) fail(`${NAMES[c]}: nullCount ${vec.nullCount}, counted ${nulls}`);
    }
    r0 += batch.numRows;
  }
  if (r0 !== rows) fail(`read ${r0} rows, expected ${rows}`);
  if (failures === 0) console.log(`apache-arrow read and checked ${r0} rows in ${batches} batches from dq`);
}

// One batch of rows [start, start + n), column by column from raw buffers.
function batchOf(s, start, n) {
  const children = s.fields.map((f, c) => {
    const bitmap = new Uint8Array(Math.ceil(n / 8));
    let nullCount = 0;
    for (let j = 0; j < n; j++) {
      if (isNull(c, start + j)) nullCount++;
      else bitmap[j >> 3] |= 1 << (j & 7);
    }
    const props = { type: f.type, length: n, nullCount, nullBitmap: nullCount ? bitmap : null };
    const vals = (ArrayType, width, conv) => {
      const a = new ArrayType(n * width);
      for (let j = 0; j < n; j++) if (!isNull(c, start + j)) conv(a, j, gen[c](start + j));
      return a;
    };
    switch (c) {
      case 0: case 3:
        return makeData({ ...props, data: vals(BigInt64Array, 1, (a, j, v) => { a[j] = v; }) });
      case 1: {
        const bits = new Uint8Array(Math.ceil(n / 8));
        for (let j = 0; j < n; j++)
          if (!isNull(c, start + j) && gen[c](start + j)) bits[j >> 3] |= 1 << (j & 7);
        return makeData({ ...props, data: bits });
      }
      case 2: case 6:
        return makeData({ ...props, data: vals(Int32Array, 1, (a, j, v) => { a[j] = v; }) });
      case 4:
        return makeData({ ...props, data: vals(Float64Array, 1, (a, j, v) => { a[j] = v; }) });
      case 5: {
        const enc = new TextEncoder();
        const parts = [];
        const offsets = new Int32Array(n + 1);
        for (let j = 0; j < n; j++) {
          const b = isNull(c, start + j) ? new Uint8Array(0) : enc.encode(gen[c](start + j));
          parts.push(b);
          offsets[j + 1] = offsets[j] + b.length;
        }
        const bytes = new Uint8Array(offsets[n]);
        parts.forEach((b, j) => bytes.set(b, offsets[j]));
        return makeData({ ...props, valueOffsets: offsets, data: bytes });
      }
      default: {
        const words = f.type.bitWidth / 32;
        return makeData({ ...props, data: vals(Uint32Array, words, (a, j, v) => {
          a.set(toWords(v).subarray(0, words), words * j);
        }) });
      }
    }
  });
  return new RecordBatch(s, makeData({ type: new Struct(s.fields), length: n, nullCount: 0, children }));
}

function write(file, priceBits) {
  const s = schema(priceBits);
  const sizes = [500, 0, 3, 77];
  const batches = [];
  let start = 0;
  for (const n of sizes) {
    batches.push(batchOf(s, start, n));
    start += n;
  }
  const bytes = RecordBatchStreamWriter.writeAll(batches).toUint8Array(true);
  writeFileSync(file, bytes);
  console.log(`apache-arrow wrote ${start} rows in ${sizes.length} batches (${bytes.length} bytes)`);
}

const [mode, file, rows] = process.argv.slice(2);
try {
  if (mode === 'check') check(file, Number(rows));
  else if (mode === 'write' && (rows === undefined || rows === '128' || rows === '64'))
    write(file, rows === '64' ? 64 : 128);
  else fail('usage: interop.mjs check FILE ROWS | write FILE [128|64]');
} catch (e) {
  fail(`${e.stack || e}`);
}
process.exit(failures ? 1 : 0);
