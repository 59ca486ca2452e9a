// Compiles the TypeScript sources to dist/ when they are newer than the last build, so `npm start`
// runs plain JavaScript (less memory, faster start than compiling on the fly) and is never stale.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stamp = path.join(root, 'dist', '.tsbuildinfo');
const inputs = ['src', 'prisma', 'package.json', 'tsconfig.json', 'tsconfig.build.json'];

function newest(p) {
  const stat = fs.statSync(p, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const entry of fs.readdirSync(p)) max = Math.max(max, newest(path.join(p, entry)));
  return max;
}

const built = fs.statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? 0;
const changed = Math.max(...inputs.map((p) => newest(path.join(root, p))));
if (changed > built) {
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('Build failed: fix the TypeScript errors above (or use `npm run dev`, which runs the sources directly).');
    process.exit(result.status ?? 1);
  }
  // tsc leaves the build info untouched when nothing needed emitting; touch it so the check stays cheap.
  const now = new Date();
  fs.utimesSync(stamp, now, now);
}
