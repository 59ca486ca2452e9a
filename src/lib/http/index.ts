export * from './authenticate.js';
export * from './query.js';
export * from './respond.js';
export * from './routes.js';
export { createLimiter, ipKey, type RateLimitStoreFactory } from './rate-limit.js';
export { reportError } from './error-middleware.js';
export { forRequest, requestIdOf } from './request-context.js';
export { countRequests, createHttpServer } from './server.js';
