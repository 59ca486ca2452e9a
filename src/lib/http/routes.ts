import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Request, RequestHandler, Response, Router } from 'express';
import type { z } from 'zod';
import { z as zod } from '../zod.js';
import type { Access } from './authenticate.js';
import { compose } from './compose.js';
import { validate } from './validate.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Infer<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface RouteContext<P, Q, B> {
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
  req: Request;
  res: Response;
}

export interface RouteResponse {
  description: string;
  schema?: z.ZodType;
}

export interface RouteDef<P = unknown, Q = unknown, B = unknown> {
  method: Method | Method[];
  /** Express path relative to the module's base path, e.g. `/:id`. */
  path: string;
  summary: string;
  description?: string;
  access: Access;
  /** Middleware that runs before access checks, e.g. a stricter rate limit. */
  before?: RequestHandler[];
  params?: P;
  query?: Q;
  body?: B;
  /** Success responses; the standard error responses are added to the document for every route. */
  responses: Record<number, RouteResponse>;
  handler: (ctx: RouteContext<P, Q, B>) => unknown;
}

/** Identity function that infers the input types of a route from its schemas. */
export function defineRoute<
  P extends z.ZodType | undefined = undefined,
  Q extends z.ZodType | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
>(def: RouteDef<P, Q, B>): RouteDef {
  return def as unknown as RouteDef;
}

export interface ApiModule {
  name: string;
  /** Mounted under /api/v1. */
  basePath: string;
  tag: string;
  routes: RouteDef[];
  /** Paths (relative to /api/v1) the global per-IP rate limit does not apply to. */
  rateLimitExempt?: RegExp[];
}

export interface MountedRoute {
  method: Method;
  /** Full Express path, e.g. /api/v1/users/:id */
  path: string;
}

const methodsOf = (def: RouteDef): Method[] => (Array.isArray(def.method) ? def.method : [def.method]);

export const toOpenApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

type RouteTarget = Pick<Router, Method>;

/**
 * Adds a module's routes to `target` (the app, so that no router is mounted inside another) at
 * their full paths: a mounted router would cost every request a second dispatch and a rewrite of
 * `req.url` there and back. Each route is one layer (see compose).
 */
export function addRoutes(target: RouteTarget, prefix: string, mod: ApiModule): void {
  for (const def of mod.routes) {
    const path = joinPath(prefix, mod.basePath, def.path);
    const handler: RequestHandler = async (req, res) => {
      const input = req.input ?? { params: req.params, query: undefined, body: undefined };
      await def.handler({ params: input.params, query: input.query, body: input.body, req, res } as RouteContext<unknown, unknown, unknown>);
    };
    // Recorded before anything can fail, so metrics and logs label the request by its template.
    const markRoute: RequestHandler = (_req, res, next) => {
      res.locals.routeTemplate = path;
      next();
    };
    const chain = [markRoute, ...(def.before ?? []), ...def.access.handlers, validate({ params: def.params as z.ZodType | undefined, query: def.query as z.ZodType | undefined, body: def.body as z.ZodType | undefined }, def.access.confirm), handler];
    const route = compose(chain);
    for (const method of methodsOf(def)) target[method](path, route);
  }
}

export function listRoutes(prefix: string, mod: ApiModule): MountedRoute[] {
  return mod.routes.flatMap((def) => methodsOf(def).map((method) => ({ method, path: joinPath(prefix, mod.basePath, def.path) })));
}

export function joinPath(...parts: string[]): string {
  const joined = parts.join('/').replace(/\/+/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

const errorSchema = zod
  .object({
    success: zod.literal(false),
    message: zod.string(),
    code: zod.string(),
    errors: zod.array(zod.object({ field: zod.string(), message: zod.string() })).optional(),
    timestamp: zod.string(),
    statusCode: zod.number().int(),
    requestId: zod.string().optional(),
  })
  .openapi('Error');

export function successEnvelope(data: z.ZodType) {
  return zod.object({ success: zod.literal(true), message: zod.string(), data, timestamp: zod.string(), statusCode: zod.number().int() });
}

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorSchema } } });

export function registerModule(registry: OpenAPIRegistry, prefix: string, mod: ApiModule): void {
  for (const def of mod.routes) {
    for (const method of methodsOf(def)) {
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(def.responses)) {
        // Every error answers in the error envelope; a success without a schema has no JSON body to describe (or a text one, /metrics).
        if (r.schema) responses[status] = { description: r.description, content: { 'application/json': { schema: successEnvelope(r.schema) } } };
        else responses[status] = Number(status) >= 400 ? errorResponse(r.description) : { description: r.description };
      }
      if (def.params || def.query || def.body) responses['400'] ??= errorResponse('Validation failed');
      if (def.access.kind !== 'public') {
        responses['401'] ??= errorResponse('Missing, invalid or expired token');
        if (def.access.kind !== 'user' && def.access.kind !== 'optional-user') responses['403'] ??= errorResponse('Caller may not use this route');
      }
      responses['429'] ??= errorResponse('Rate limit exceeded');
      responses['500'] ??= errorResponse('Unexpected error');
      registry.registerPath({
        method,
        path: toOpenApiPath(joinPath(prefix, mod.basePath, def.path)),
        tags: [mod.tag],
        summary: def.summary,
        description: def.description,
        security: def.access.bearer ? [{ bearerAuth: [] }] : def.access.kind === 'optional-user' ? [{}, { bearerAuth: [] }] : [],
        request: {
          params: def.params as never,
          query: def.query as never,
          body: def.body ? { content: { 'application/json': { schema: def.body as z.ZodType } } } : undefined,
        },
        responses: responses as never,
      });
    }
  }
}
