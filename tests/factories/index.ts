export * from './unique.js';
export * from './users.js';
