import { defineRoute, listQuery, ok, paginate, paginationSchema, pageWindow, type RouteDef } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import { EmailStatus } from '../../generated/prisma/enums.js';
import type { ModuleDeps } from '../types.js';

const listEmailsQuery = listQuery(['createdAt', 'sentAt'] as const, 'createdAt')
  .omit({ search: true })
  .extend({
    status: z.enum(EmailStatus).optional(),
    template: z.string().trim().min(1).max(64).optional(),
    recipient: z.string().trim().toLowerCase().min(1).max(254).optional().openapi({ description: 'Exact address' }),
  });

const emailSchema = z
  .object({
    id: z.string(),
    eventId: z.string(),
    template: z.string(),
    recipient: z.string(),
    subject: z.string(),
    status: z.enum(EmailStatus),
    attempts: z.number().int(),
    providerMessageId: z.string().nullable(),
    filePath: z.string().nullable().openapi({ description: 'The .eml file, when no SMTP server is configured' }),
    lastError: z.string().nullable(),
    sentAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('EmailMessage');

const EMAIL_SELECT = {
  id: true, eventId: true, template: true, recipient: true, subject: true, status: true, attempts: true,
  providerMessageId: true, filePath: true, lastError: true, sentAt: true, createdAt: true, updatedAt: true,
} as const;

export function notificationsRoutes({ db, guards }: ModuleDeps): RouteDef[] {
  return [
    defineRoute({
      method: 'get',
      path: '/emails',
      summary: 'Emails sent, waiting or failed (administrators)',
      description: 'The message log of the outbox. Bodies are not stored: links in them carry single-use tokens.',
      access: guards.admin,
      query: listEmailsQuery,
      responses: { 200: { description: 'Emails', schema: z.object({ emails: z.array(emailSchema), pagination: paginationSchema }) } },
      handler: async ({ query, res }) => {
        const where = { status: query.status, template: query.template, recipient: query.recipient };
        const [emails, total] = await Promise.all([
          db.emailMessage.findMany({ where, select: EMAIL_SELECT, orderBy: [{ [query.sortBy]: query.sortOrder }, { id: 'asc' }], ...pageWindow(query.page, query.limit) }),
          db.emailMessage.count({ where }),
        ]);
        ok(res, { emails, pagination: paginate(query.page, query.limit, total) }, 'Emails retrieved successfully');
      },
    }),
  ];
}
