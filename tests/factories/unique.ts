import { randomBytes } from 'node:crypto';

/** A short value unique across parallel test files and runs. */
export const unique = (prefix = 'x') => `${prefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
