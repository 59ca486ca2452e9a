import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

// The JS schema engine (driver adapter + bundled WASM) lets generate/migrate run with no
// downloaded engine binaries, which this project relies on for offline installs.

// With DATABASE_URL unset the CLI falls back to downloading native engines, which fails offline.
// `prisma generate` never connects, so a placeholder is enough for it; commands that connect fail
// with an error naming this URL (the npm run db:* scripts always set the real one).
process.env.DATABASE_URL ??= 'postgresql://localhost:5432/DATABASE_URL-is-not-set';
export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    const connectionString = process.env.DATABASE_URL;
    // allowExitOnIdle: without it the CLI waits for the pool's 10 s idle timeout before exiting.
    return new PrismaPg({ connectionString, allowExitOnIdle: true, idleTimeoutMillis: 50 });
  },
});
