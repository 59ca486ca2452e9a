import type { DbClient } from '../../lib/db.js';

const MAX_SLUG = 60;
// Paths of the catalog router that a slug must never shadow (GET /services/public is the list).
const RESERVED = new Set(['public', 'admin', 'categories']);

/** "N8N Automation" -> "n8n-automation"; accents are folded, anything else becomes a hyphen. */
export function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+/, '')
    .slice(0, MAX_SLUG)
    .replace(/-+$/, '');
  return slug || 'service';
}

/**
 * Makes creates whose slugs could clash pick one after the other, until the transaction ends.
 * Every candidate of a base ("ghost", "ghost-2") and every base that could yield one of them
 * ("Ghost 2" -> "ghost-2") strips to one root: parallel creates of such names otherwise all read
 * the same free slug, and all but one fail on the unique index.
 */
export async function lockSlugFamily(tx: DbClient, base: string): Promise<void> {
  const root = base.replace(/(?:-[0-9]+)+$/, '');
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`service_catalog.slug:${root}`}::text, 0))`;
}

/** The base slug, or the base with the smallest free numeric suffix ("ghost-2") when it is taken. */
export async function freeSlug(db: DbClient, base: string): Promise<string> {
  const taken = new Set((await db.serviceCatalog.findMany({ where: { slug: { startsWith: base } }, select: { slug: true } })).map((r) => r.slug));
  if (!taken.has(base) && !RESERVED.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}-${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}
