import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

// The JS schema engine (driver adapter + bundled WASM) lets generate/migrate run with no
// downloaded engine binaries, which this project relies on for offline installs.
export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema.prisma'),
  migrations: { path: path.join('prisma', 'migrations') },
  async adapter() {
    const connectionString = process.env.DATABASE_URL;
    if (!connectionString) throw new Error('DATABASE_URL must be set for Prisma CLI commands (npm run db:* sets it for you)');
    // allowExitOnIdle: without it the CLI waits for the pool's 10 s idle timeout before exiting.
    return new PrismaPg({ connectionString, allowExitOnIdle: true, idleTimeoutMillis: 50 });
  },
});
