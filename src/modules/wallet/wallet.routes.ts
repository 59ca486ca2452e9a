import type { Request } from 'express';
import { created, defineRoute, idParam, listQuery, ok, paginationSchema, type RouteDef } from '../../lib/http/index.js';
import { z } from '../../lib/zod.js';
import { TransactionStatus, TransactionType } from '../../generated/prisma/enums.js';
import type { ModuleDeps } from '../types.js';
import { MAX_BALANCE } from './wallet.ledger.js';
import * as wallet from './wallet.service.js';

const callerId = (req: Request) => (req.user as NonNullable<Request['user']>).id;
const MAX_AMOUNT = 1_000_000_000;

export const transactionSchema = z
  .object({
    id: z.string(),
    number: z.string().openapi({ example: 'TRX-202612-000001' }),
    type: z.enum(TransactionType),
    status: z.enum(TransactionStatus),
    amount: z.number().int().openapi({ description: 'Signed: credits positive, charges negative' }),
    balanceAfter: z.number().int().nullable(),
    subscriptionId: z.string().nullable(),
    description: z.string(),
    provider: z.enum(['MANUAL', 'MIDTRANS']),
    providerRef: z.string().nullable(),
    expiresAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('Transaction');

const transactionsQuery = listQuery(['createdAt'] as const, 'createdAt')
  .omit({ search: true, sortBy: true })
  .extend({ type: z.enum(TransactionType).optional(), status: z.enum(TransactionStatus).optional() });

const reference = z.string().trim().min(1).max(100).openapi({ description: 'Your reference (a bank transfer id...): a request repeated with the same reference is applied once' });
const topupBody = z.strictObject({ amount: z.number().int().min(1).max(MAX_AMOUNT), reference }).openapi('AdminTopupRequest');
const adjustBody = z
  .strictObject({ amount: z.number().int().min(-MAX_AMOUNT).max(MAX_AMOUNT).refine((n) => n !== 0, 'must not be 0'), reason: z.string().trim().min(3).max(500), reference: reference.optional() })
  .openapi('AdminAdjustRequest');
const entrySchema = z.object({ transaction: transactionSchema, replayed: z.boolean() });
const tooMuch = { description: `The credit would take the balance past the most a wallet holds (${MAX_BALANCE})` };

export function walletRoutes(deps: ModuleDeps): RouteDef[] {
  const { guards } = deps;
  const svc: wallet.WalletDeps = { db: deps.db, config: deps.config, logger: deps.logger, jobs: deps.jobs };
  return [
    defineRoute({
      method: 'get',
      path: '/wallet',
      summary: 'Balance of the signed-in user',
      access: guards.user,
      responses: { 200: { description: 'Balance', schema: z.object({ balance: z.number().int(), currency: z.string() }) } },
      handler: async ({ req, res }) => ok(res, await wallet.getWallet(svc, callerId(req)), 'Wallet retrieved successfully'),
    }),
    defineRoute({
      method: 'get',
      path: '/wallet/transactions',
      summary: 'The ledger of the signed-in user, newest first',
      access: guards.user,
      query: transactionsQuery,
      responses: { 200: { description: 'Transactions', schema: z.object({ transactions: z.array(transactionSchema), pagination: paginationSchema }) } },
      handler: async ({ query, req, res }) => ok(res, await wallet.listTransactions(svc, callerId(req), query), 'Transactions retrieved successfully'),
    }),
    defineRoute({
      method: 'post',
      path: '/admin/users/:id/wallet/topup',
      summary: "Credit a user's wallet (administrators)",
      description: 'A manual top-up (a bank transfer received...), recorded with the administrator who made it. The same reference again is a replay (200), not a second credit.',
      access: guards.admin,
      params: idParam,
      body: topupBody,
      responses: { 201: { description: 'Credited', schema: entrySchema }, 200: { description: 'Replay of an earlier request with this reference', schema: entrySchema }, 409: tooMuch },
      handler: async ({ params, body, req, res }) => {
        const result = await wallet.adminEntry(svc, callerId(req), params.id, { type: 'TOPUP', amount: body.amount, note: `Top-up (${body.reference})`, reference: body.reference });
        (result.replayed ? ok : created)(res, result, result.replayed ? 'Top-up already recorded' : 'Wallet credited');
      },
    }),
    defineRoute({
      method: 'post',
      path: '/admin/users/:id/wallet/adjust',
      summary: "Adjust a user's wallet up or down (administrators)",
      description: 'Signed amount; a balance never goes below zero (402 INSUFFICIENT_BALANCE).',
      access: guards.admin,
      params: idParam,
      body: adjustBody,
      responses: { 201: { description: 'Adjusted', schema: entrySchema }, 200: { description: 'Replay of an earlier request with this reference', schema: entrySchema }, 409: tooMuch },
      handler: async ({ params, body, req, res }) => {
        const result = await wallet.adminEntry(svc, callerId(req), params.id, { type: 'ADJUSTMENT', amount: body.amount, note: body.reason, reference: body.reference });
        (result.replayed ? ok : created)(res, result, result.replayed ? 'Adjustment already recorded' : 'Wallet adjusted');
      },
    }),
  ];
}
