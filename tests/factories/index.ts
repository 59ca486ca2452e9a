export * from './unique.js';
export * from './users.js';
export * from './services.js';
export * from './nodes.js';
export * from './billing.js';
