import type { DbClient } from '../../src/lib/db.js';
import { nameKeyOf } from '../../src/lib/text.js';

interface SeedService {
  name: string;
  slug: string;
  displayName: string;
  description: string;
  category: string;
  version: string;
  dockerImage: string;
  containerPort: number;
  /** IDR, the default currency. */
  monthlyPrice: number;
  cpuRequest: string;
  cpuLimit: string;
  memRequest: string;
  memLimit: string;
  storage: string;
  environmentVars: Record<string, string>;
  dataMountPath?: string;
  healthPath?: string;
}

/** Self-hostable apps with their official images and ports; quantities are canonical Kubernetes ones. */
export const SEED_SERVICES: readonly SeedService[] = [
  {
    name: 'n8n',
    slug: 'n8n',
    displayName: 'n8n Workflow Automation',
    description: 'Workflow automation platform with 400+ integrations and a visual editor',
    category: 'automation',
    version: '1',
    dockerImage: 'n8nio/n8n:latest',
    containerPort: 5678,
    monthlyPrice: 25000,
    cpuRequest: '250m',
    cpuLimit: '1',
    memRequest: '256Mi',
    memLimit: '1Gi',
    storage: '5Gi',
    environmentVars: { N8N_PORT: '5678', GENERIC_TIMEZONE: 'Asia/Jakarta', TZ: 'Asia/Jakarta' },
    dataMountPath: '/home/node/.n8n',
    healthPath: '/healthz',
  },
  {
    name: 'Ghost',
    slug: 'ghost',
    displayName: 'Ghost Blog',
    description: 'Publishing platform for blogs, newsletters and paid memberships',
    category: 'cms',
    version: '5',
    dockerImage: 'ghost:5-alpine',
    containerPort: 2368,
    monthlyPrice: 20000,
    cpuRequest: '250m',
    cpuLimit: '1',
    memRequest: '256Mi',
    memLimit: '512Mi',
    storage: '5Gi',
    environmentVars: { NODE_ENV: 'production' },
    dataMountPath: '/var/lib/ghost/content',
  },
  {
    name: 'WordPress',
    slug: 'wordpress',
    displayName: 'WordPress',
    description: 'The most widely used CMS for websites and blogs, with Apache and PHP',
    category: 'cms',
    version: '6',
    dockerImage: 'wordpress:6-apache',
    containerPort: 80,
    monthlyPrice: 30000,
    cpuRequest: '250m',
    cpuLimit: '1',
    memRequest: '256Mi',
    memLimit: '512Mi',
    storage: '10Gi',
    environmentVars: {},
  },
  {
    name: 'Uptime Kuma',
    slug: 'uptime-kuma',
    displayName: 'Uptime Kuma',
    description: 'Self-hosted uptime monitoring for websites, APIs and ports, with status pages',
    category: 'monitoring',
    version: '1',
    dockerImage: 'louislam/uptime-kuma:1',
    containerPort: 3001,
    monthlyPrice: 10000,
    cpuRequest: '100m',
    cpuLimit: '500m',
    memRequest: '128Mi',
    memLimit: '256Mi',
    storage: '1Gi',
    environmentVars: {},
  },
  {
    name: 'Vaultwarden',
    slug: 'vaultwarden',
    displayName: 'Vaultwarden Password Manager',
    description: 'Lightweight Bitwarden-compatible password manager server',
    category: 'security',
    version: '1',
    dockerImage: 'vaultwarden/server:latest',
    containerPort: 80,
    monthlyPrice: 10000,
    cpuRequest: '50m',
    cpuLimit: '250m',
    memRequest: '64Mi',
    memLimit: '256Mi',
    storage: '1Gi',
    environmentVars: { SIGNUPS_ALLOWED: 'false' },
  },
  {
    name: 'Gitea',
    slug: 'gitea',
    displayName: 'Gitea Git Hosting',
    description: 'Self-hosted Git service with pull requests, issues and CI',
    category: 'development',
    version: '1.22',
    dockerImage: 'gitea/gitea:1.22',
    containerPort: 3000,
    monthlyPrice: 25000,
    cpuRequest: '100m',
    cpuLimit: '1',
    memRequest: '256Mi',
    memLimit: '512Mi',
    storage: '10Gi',
    environmentVars: { USER_UID: '1000', USER_GID: '1000' },
  },
  {
    name: 'Metabase',
    slug: 'metabase',
    displayName: 'Metabase Analytics',
    description: 'Business intelligence dashboards and questions over your databases',
    category: 'analytics',
    version: 'latest',
    dockerImage: 'metabase/metabase:latest',
    containerPort: 3000,
    monthlyPrice: 50000,
    cpuRequest: '500m',
    cpuLimit: '2',
    memRequest: '1Gi',
    memLimit: '2Gi',
    storage: '2Gi',
    environmentVars: { JAVA_TIMEZONE: 'Asia/Jakarta' },
  },
  {
    name: 'NocoDB',
    slug: 'nocodb',
    displayName: 'NocoDB',
    description: 'Open-source Airtable alternative: spreadsheets on top of a database',
    category: 'productivity',
    version: 'latest',
    dockerImage: 'nocodb/nocodb:latest',
    containerPort: 8080,
    monthlyPrice: 25000,
    cpuRequest: '250m',
    cpuLimit: '1',
    memRequest: '256Mi',
    memLimit: '512Mi',
    storage: '5Gi',
    environmentVars: {},
  },
];

/** Creates the seeded services whose slug is missing; existing ones (maybe edited) are left as they are. */
export async function seedServices(db: DbClient): Promise<number> {
  const existing = new Set((await db.serviceCatalog.findMany({ where: { slug: { in: SEED_SERVICES.map((s) => s.slug) } }, select: { slug: true } })).map((s) => s.slug));
  const missing = SEED_SERVICES.filter((s) => !existing.has(s.slug));
  if (missing.length === 0) return 0;
  // skipDuplicates: a concurrent seed, or a service an administrator created under a seed name, is not an error.
  const { count } = await db.serviceCatalog.createMany({ data: missing.map((s) => ({ ...s, nameKey: nameKeyOf(s.name), status: 'ACTIVE' as const })), skipDuplicates: true });
  return count;
}
