// duckdb_peer.mjs — DuckDB (npm @duckdb/node-api, pinned in package.json)
// as a resident peer of bench/peer_bench: one in-memory database and one
// connection, driven over stdin/stdout so node's start-up is never timed.
//
// Requests (stdin), one after another:   OP BYTES\n<BYTES bytes of SQL>
//   exec   runs the SQL, untimed (CREATE TABLE, COPY, SET threads)
//   query  runs the SQL and reads every row of its result, timed
// Replies (stdout):
//   ok SECONDS ROWS\n then ROWS lines, the fields of a row separated by
//   tabs (tab, newline and backslash written \t, \n, \\; NULL as NULL;
//   decimals exactly at their scale, dates YYYY-MM-DD), or
//   error MESSAGE\n
// SECONDS is measured here, around running the statement and reading its
// rows into JS values: what a user of the library waits for, without the
// pipe.  Formatting the rows as text happens after the clock stops.
import { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();

let buf = Buffer.alloc(0);
let ended = false;
let wake = null;
process.stdin.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  if (wake) { const w = wake; wake = null; w(); }
});
process.stdin.on('end', () => {
  ended = true;
  if (wake) { const w = wake; wake = null; w(); }
});

async function nextRequest() {
  for (;;) {
    const nl = buf.indexOf(10);
    if (nl >= 0) {
      const [op, n] = buf.subarray(0, nl).toString().split(' ');
      const len = Number(n);
      if (!Number.isInteger(len) || len < 0)
        throw new Error(`bad request header "${buf.subarray(0, nl)}"`);
      if (buf.length >= nl + 1 + len) {
        const sql = buf.subarray(nl + 1, nl + 1 + len).toString();
        buf = buf.subarray(nl + 1 + len);
        return { op, sql };
      }
    }
    if (ended) return null;
    await new Promise((r) => { wake = r; });
  }
}

function text(v) {
  if (v === null || v === undefined) return 'NULL';
  return String(v).replace(/\\/g, '\\\\').replace(/\t/g, '\\t')
                  .replace(/\n/g, '\\n');
}

function reply(s) {
  return new Promise((r) => process.stdout.write(s, r));
}

for (;;) {
  const req = await nextRequest();
  if (req === null) break;
  try {
    if (req.op === 'exec') {
      await conn.run(req.sql);
      await reply('ok 0 0\n');
    } else if (req.op === 'query') {
      const t0 = process.hrtime.bigint();
      const reader = await conn.runAndReadAll(req.sql);
      const rows = reader.getRows();
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      let out = `ok ${seconds} ${rows.length}\n`;
      for (const row of rows) out += row.map(text).join('\t') + '\n';
      await reply(out);
    } else {
      await reply(`error unknown request "${req.op}"\n`);
    }
  } catch (e) {
    await reply(`error ${String(e && e.message || e).replace(/\n/g, ' ')}\n`);
  }
}
conn.closeSync();
instance.closeSync();
