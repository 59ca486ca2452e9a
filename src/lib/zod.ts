import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

// Adds `.openapi()` to zod schemas. Imported once, before any schema is built.
extendZodWithOpenApi(z);

export { z };
