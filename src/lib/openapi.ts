import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { registerModule, type ApiModule } from './http/routes.js';

export function buildOpenApiDocument(prefix: string, modules: ApiModule[], extra: (registry: OpenAPIRegistry) => void = () => undefined) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  for (const mod of modules) registerModule(registry, prefix, mod);
  extra(registry);
  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'minispod API',
      version: '1.0.0',
      description: 'Backend of the minispod PaaS: auth, users, service catalog and Kubernetes worker-node registry.',
    },
    servers: [{ url: '/' }],
  });
}
