/**
 * `npm run rest [-- files…] [--base URL]`: runs the .rest files against a running server (by
 * default each file's own @baseUrl, http://localhost:3000/api/v1) and exits non-zero if any
 * request got another status than its title announces.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runRestFile } from './lib/rest-file.js';

const { values, positionals } = parseArgs({ options: { base: { type: 'string' } }, allowPositionals: true });
const files = positionals.length > 0 ? positionals : ['auth', 'user', 'service', 'worker', 'admin', 'webhook', 'wallet', 'subscription'].map((f) => path.join('rest', `${f}.rest`));

let failed = 0;
for (const file of files) {
  console.log(`\n${file}`);
  try {
    const results = await runRestFile(fs.readFileSync(file, 'utf8'), {
      baseUrl: values.base,
      log: (r) => console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.status} (expected ${r.expected})  ${r.method} ${r.url.replace(/^https?:\/\/[^/]+/, '')}  ${r.title}`),
    });
    failed += results.filter((r) => !r.ok).length;
  } catch (err) {
    failed++;
    console.log(`  FAIL ${err instanceof Error ? err.message : String(err)}`);
  }
}
console.log(failed === 0 ? '\nall requests answered as expected' : `\n${failed} request(s) did not answer as expected`);
process.exitCode = failed === 0 ? 0 : 1;
