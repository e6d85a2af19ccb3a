// compare.mjs — DuckDB as the reference for dq's SQL (run by
// tests/sql-tpch.test).
//
//   node compare.mjs expect DATA_DIR SQL_DIR OUT_DIR q01 q02 ...
//     loads DATA_DIR/TABLE.csv (as `dq gen --format csv` writes them) into
//     DuckDB and writes each query's result to OUT_DIR/qNN.json.
//   node compare.mjs check EXPECT_DIR DQ_DIR q01 q02 ...
//     compares DQ_DIR/qNN.out (dq sql's printed table) with the expected
//     rows, in order; prints one line per query and exits 1 on a mismatch.
//
// Numbers are compared with a tolerance of 1e-6 relative (absolute below
// 1): DuckDB reads the CSV's decimals as DOUBLE, while dq computes them
// exactly as decimals and prints averages and quotients rounded to 6
// places.  Everything else must be equal as text.
import { DuckDBInstance } from '@duckdb/node-api';
import fs from 'node:fs';
import path from 'node:path';

const TABLES = ['lineitem', 'orders', 'customer', 'part', 'partsupp',
                'supplier', 'nation', 'region'];

async function expect(dataDir, sqlDir, outDir, queries) {
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  for (const t of TABLES) {
    const f = path.join(dataDir, `${t}.csv`).replaceAll("'", "''");
    await con.run(`create table ${t} as select * from read_csv('${f}', ` +
                  `header=true, auto_detect=true)`);
  }
  fs.mkdirSync(outDir, { recursive: true });
  for (const q of queries) {
    const text = fs.readFileSync(path.join(sqlDir, `${q}.sql`), 'utf8');
    // Statements end with ';' (none of the files has one in a string).
    const stmts = text.replace(/--[^\n]*/g, '').split(';')
                      .map(s => s.trim()).filter(s => s.length > 0);
    let result = null;
    for (const s of stmts) {
      const r = await con.runAndReadAll(s);
      if (!/^\s*(create|drop)\b/i.test(s))
        result = { columns: r.columnNames(), rows: r.getRowsJson() };
    }
    fs.writeFileSync(path.join(outDir, `${q}.json`), JSON.stringify(result));
  }
}

// dq's table: a header line, a rule of dashes giving every column's
// extent, rows, then "N rows in T s".
function parseDq(text) {
  const lines = text.split('\n');
  const ri = lines.findIndex((l, i) => i > 0 && /^-+( +-+)*\s*$/.test(l));
  if (ri < 0)
    return null;
  const spans = [];
  const re = /-+/g;
  let m;
  while ((m = re.exec(lines[ri])) !== null)
    spans.push([m.index, m.index + m[0].length]);
  const cut = (l) => spans.map(([a, b], i) =>
    (i + 1 < spans.length ? l.slice(a, b) : l.slice(a)).trim());
  const rows = [];
  for (let i = ri + 1; i < lines.length; i++) {
    if (/^\d+ rows? in /.test(lines[i]))
      break;
    rows.push(cut(lines[i]));
  }
  return { columns: cut(lines[ri - 1]), rows };
}

const NUM = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

function same(a, b) {
  if (a === b)
    return true;
  if (NUM.test(a) && NUM.test(b)) {
    const x = Number(a), y = Number(b);
    return Math.abs(x - y) <= 1e-6 * Math.max(1, Math.abs(y));
  }
  return false;
}

function check(expectDir, dqDir, queries) {
  let failed = 0;
  for (const q of queries) {
    const want = JSON.parse(fs.readFileSync(path.join(expectDir, `${q}.json`),
                                            'utf8'));
    const got = parseDq(fs.readFileSync(path.join(dqDir, `${q}.out`), 'utf8'));
    let why = null;
    if (got === null) {
      why = 'no result table in the output';
    } else if (got.columns.length !== want.columns.length) {
      why = `${got.columns.length} columns, DuckDB has ${want.columns.length}`;
    } else if (got.rows.length !== want.rows.length) {
      why = `${got.rows.length} rows, DuckDB has ${want.rows.length}`;
    } else {
      for (let i = 0; i < want.rows.length && why === null; i++)
        for (let j = 0; j < want.columns.length && why === null; j++) {
          const w = want.rows[i][j] === null ? 'NULL' : String(want.rows[i][j]).trim();
          if (!same(got.rows[i][j], w))
            why = `row ${i + 1}, column ${want.columns[j]}: dq '${got.rows[i][j]}', DuckDB '${w}'`;
        }
    }
    if (why === null) {
      console.log(`ok   ${q}: ${want.rows.length} rows equal`);
    } else {
      console.log(`FAIL ${q}: ${why}`);
      failed++;
    }
  }
  return failed;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'expect') {
  const [dataDir, sqlDir, outDir, ...queries] = args;
  await expect(dataDir, sqlDir, outDir, queries);
} else if (cmd === 'check') {
  const [expectDir, dqDir, ...queries] = args;
  process.exit(check(expectDir, dqDir, queries) ? 1 : 0);
} else {
  console.error('usage: compare.mjs expect|check ...');
  process.exit(2);
}
