import fc from 'fast-check';
import { hostileJson, hostileKey, hostileNumber, hostileScalar, hostileString } from './fuzz-values.js';

/** The subset of OpenAPI 3.0 schema keywords that zod-to-openapi emits. */
export interface Schema {
  $ref?: string;
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  enum?: unknown[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  nullable?: boolean;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  example?: unknown;
  default?: unknown;
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, Schema> };
}

const INT32 = 2 ** 31 - 1;

/**
 * Arbitraries derived from the OpenAPI document: `plausible` values a schema would probably accept
 * (cross-field rules are unknown to it), and `mutated` values shaped like the schema with hostile
 * values, wrong types, extra and prototype-polluting keys mixed in, so validation is reached field
 * by field and some requests get through to the service layer.
 */
export function schemaArbitraries(doc: OpenApiDoc) {
  const resolve = (s: Schema): Schema => (s.$ref ? (doc.components?.schemas?.[s.$ref.split('/').pop() as string] ?? {}) : s);
  const variants = (s: Schema) => s.anyOf ?? s.oneOf ?? s.allOf;

  function plausibleString(s: Schema): fc.Arbitrary<string> {
    const max = Math.min(s.maxLength ?? 40, 40);
    const min = Math.min(s.minLength ?? 0, max);
    const fits = (v: string) => v.length >= (s.minLength ?? 0) && v.length <= (s.maxLength ?? Infinity);
    const options: fc.Arbitrary<string>[] = [fc.string({ unit: 'grapheme-ascii', minLength: min, maxLength: max })];
    if (typeof s.example === 'string') options.push(fc.constant(s.example));
    if (s.format === 'email') options.push(fc.emailAddress().filter((e) => e.length <= 100));
    if (s.pattern) {
      try {
        options.push(fc.stringMatching(new RegExp(s.pattern), { size: 'small' }).filter(fits));
      } catch {
        // a pattern JavaScript cannot compile: the other options remain
      }
    }
    return fc.oneof(...options);
  }

  function plausible(input: Schema, depth = 0): fc.Arbitrary<unknown> {
    const s = resolve(input);
    const base = plausibleBase(s, depth);
    return s.nullable ? fc.oneof({ weight: 5, arbitrary: base }, { weight: 1, arbitrary: fc.constant(null) }) : base;
  }

  function plausibleBase(s: Schema, depth: number): fc.Arbitrary<unknown> {
    if (s.enum) return fc.constantFrom(...s.enum);
    const alternatives = variants(s);
    if (alternatives) return fc.oneof(...alternatives.map((v) => plausible(v, depth + 1)));
    switch (s.type) {
      case 'string':
        return plausibleString(s);
      case 'integer': {
        const min = Math.max(s.minimum ?? -1000, -INT32);
        return fc.integer({ min, max: Math.max(min, Math.min(s.maximum ?? 100_000, INT32)) });
      }
      case 'number':
        return fc.double({ min: s.minimum ?? -1000, max: s.maximum ?? 100_000, noNaN: true, noDefaultInfinity: true });
      case 'boolean':
        return fc.boolean();
      case 'array': {
        const maxLength = Math.max(s.minItems ?? 0, Math.min(s.maxItems ?? 3, 3));
        return fc.array(plausible(s.items ?? {}, depth + 1), { minLength: s.minItems ?? 0, maxLength });
      }
      case 'object':
        return plausibleObject(s, depth);
      default:
        return s.properties ? plausibleObject(s, depth) : hostileScalar;
    }
  }

  function plausibleObject(s: Schema, depth: number): fc.Arbitrary<unknown> {
    if (depth > 4) return fc.constant({});
    // Properties without a type (e.g. `slug` "not accepted") are left out of plausible values.
    const props = Object.entries(s.properties ?? {}).filter(([, p]) => Object.keys(resolve(p)).some((k) => k !== 'description'));
    const record = fc.record(Object.fromEntries(props.map(([k, p]) => [k, plausible(p, depth + 1)])), { requiredKeys: (s.required ?? []).filter((k) => props.some(([n]) => n === k)) });
    if (typeof s.additionalProperties !== 'object') return record;
    const extra = fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,15}$/), plausible(s.additionalProperties, depth + 1), { maxKeys: 3 });
    return fc.tuple(record, extra).map(([r, e]) => ({ ...e, ...r }));
  }

  /** Prototype-polluting and unknown keys, added as own properties (never through assignment). */
  const extraKeys = fc.dictionary(hostileKey, fc.oneof(hostileScalar, fc.constant({ polluted: true })), { minKeys: 1, maxKeys: 3 });

  function mutated(input: Schema, depth = 0): fc.Arbitrary<unknown> {
    const s = resolve(input);
    if (depth > 4) return hostileScalar;
    const alternatives = variants(s);
    if (alternatives) return fc.oneof(...alternatives.map((v) => mutated(v, depth + 1)));
    if (s.type === 'object' || s.properties) {
      const fields = Object.entries(s.properties ?? {}).map(([k, p]) => {
        const value = fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 4, arbitrary: plausible(p, depth + 1) }, { weight: 3, arbitrary: mutated(p, depth + 1) });
        return value.map((v) => (v === undefined ? [] : [[k, v] as const]));
      });
      const withExtras = fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: extraKeys });
      const additional = typeof s.additionalProperties === 'object' ? fc.dictionary(hostileString, mutated(s.additionalProperties, depth + 1), { maxKeys: 3 }) : fc.constant({});
      return fc.tuple(fc.tuple(...fields), withExtras, additional).map(([entries, extra, more]) => ({ ...more, ...extra, ...Object.fromEntries(entries.flat()) }));
    }
    switch (s.type) {
      case 'string':
        return fc.oneof({ weight: 5, arbitrary: hostileString }, { weight: 1, arbitrary: hostileNumber }, { weight: 1, arbitrary: fc.constantFrom(null, true, [], {}) });
      case 'integer':
      case 'number':
        return fc.oneof({ weight: 5, arbitrary: hostileNumber }, { weight: 2, arbitrary: hostileString }, { weight: 1, arbitrary: fc.constantFrom(null, true, ['1'], { value: 1 }) });
      case 'boolean':
        return fc.constantFrom('true', 'false', 1, 0, 'yes', null, 'TRUE', [], {});
      case 'array': {
        const over = (s.maxItems ?? 50) + 1;
        return fc.oneof(
          fc.array(fc.oneof(plausible(s.items ?? {}, depth + 1), mutated(s.items ?? {}, depth + 1)), { maxLength: 4 }),
          fc.constant(Array.from({ length: over }, (_, i) => `item-${i}`)),
          hostileScalar,
        );
      }
      default:
        return hostileJson;
    }
  }

  return { plausible, mutated, resolve };
}
