import { randomBytes } from 'node:crypto';

/** A row id of the form of Prisma's cuid (`c`, the time in base 36, 16 random base-36 characters), for rows written by raw SQL. */
export const newId = () => `c${Date.now().toString(36)}${BigInt(`0x${randomBytes(12).toString('hex')}`).toString(36).padStart(16, '0').slice(-16)}`;
