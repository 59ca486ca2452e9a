export * from './app-error.js';
export { HTTP_STATUS } from './http-status.js';
export { normalizeError, isDatabaseUnavailable, zodToFieldErrors } from './normalize.js';
