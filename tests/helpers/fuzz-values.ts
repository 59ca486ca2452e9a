import fc from 'fast-check';

/**
 * Hostile values for the bad-input suite. JSON.stringify cannot write some tokens a hostile client
 * can (1e309, 30-digit integers, -0.0e0), so such values are carried as RAW markers and spliced
 * into the body text by `toJsonText`.
 */
const RAW = '\u0001RAW:';
export const raw = (token: string) => `${RAW}${token}`;
export const toJsonText = (value: unknown) => JSON.stringify(value).replace(/"\\u0001RAW:([^"]*)"/g, '$1');

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** Just under the default 100kb body limit once wrapped in a small JSON object. */
export const NEAR_BODY_LIMIT = 100 * 1024 - 512;

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

const edgeStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'nul\u0000byte',
  '\ud800',
  'tail\udfff',
  'a\ud83d',
  '\u202Egnp.exe',
  'zero\u200Bwidth\u200D\uFEFF',
  '\u0085\u2028\u2029',
  'e\u0301\u0301\u0301',
  '𝕳𝖊𝖑𝖑𝖔 👩‍👩‍👧‍👦',
  'שלום עולם',
  '\r\n\t',
  '%00',
  '%E0%A4%A',
  '../../etc/passwd',
  "' OR '1'='1' --",
  '"; DROP TABLE users; --',
  '<script>alert(1)</script>',
  '${7*7}{{7*7}}',
  '%s%s%n',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-0',
  '0x1F',
  '١٢٣',
  '9'.repeat(400),
  '__proto__',
  'constructor',
);

/** Strings a careless parser or database chokes on: unicode edge cases, injections, huge and tiny. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: edgeStrings },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 2, arbitrary: fc.string({ unit: fc.oneof(loneSurrogate, fc.constant('\u0000'), fc.string({ minLength: 1, maxLength: 1 })), maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom('x', 'é', '𝕏', '\u200B'), fc.integer({ min: 101, max: 3000 })).map(([c, n]) => c.repeat(n)) },
);

/** Numbers out of every range a field could have; NaN and Infinity become null in JSON. */
export const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, 0, -0, 0.5, 1.5, -2147483649, 2147483648, 2 ** 53 + 2, -(2 ** 53) - 2, 2 ** 63, 1e308, -1e308, Number.MIN_VALUE, NaN, Infinity),
  fc.constantFrom(raw('1e309'), raw('-1e309'), raw('123456789012345678901234567890'), raw('1e-400'), raw('-0.0e0'), raw('1E+2')),
  fc.double(),
  fc.integer(),
);

export const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileString },
  { weight: 3, arbitrary: hostileNumber },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false) },
  { weight: 1, arbitrary: fc.constantFrom({}, [], [null], { $gt: '' }, { $ne: null }, { toString: 'x' }) },
);

/** Keys that are unknown to every schema, or that pollute prototypes. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 2, arbitrary: fc.constantFrom('role', 'isAdmin', 'id', 'password', 'agentTokenHash', 'tokenHash', 'createdAt', 'status', 'slug', '$where', 'a.b', '') },
  { weight: 2, arbitrary: hostileString },
);

/** Arbitrary JSON made of hostile keys and values, a few levels deep. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileScalar,
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(hostileKey, tie('node'), { maxKeys: 4 }),
  ),
})).node;

/** JSON nested far deeper than any schema: arrays or objects, 100 to 20,000 levels. */
export const deepJson: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('array', 'object'), fc.integer({ min: 100, max: 20_000 }))
  .map(([kind, depth]) => (kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

/** Bodies near the size limit: one huge string, or very many keys or items. */
export const hugeJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('x', 'é', '\u200B').map((c) => ({ name: c.repeat(Math.floor(NEAR_BODY_LIMIT / Buffer.byteLength(c))) })),
  fc.constant(Object.fromEntries(Array.from({ length: 8000 }, (_, i) => [`k${i}`, i]))),
  fc.constant({ userIds: Array.from({ length: 9000 }, (_, i) => `id${i}`) }),
  fc.constant(Array.from({ length: 20_000 }, () => 0)),
);

/** Body text that is not valid JSON, or not a JSON object. */
export const malformedJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('{', '{"a":', '{"a":1,}', "{'a':1}", '[1,2', 'undefined', 'NaN', '"\\ud800"', '"str"', '123', 'true', 'null', '\ufeff{}', '{"a":1}{"b":2}', '{"a":"\\u0000"}', '{"__proto__":{"polluted":true}}', '{"a":1,"a":2}'),
  fc.string({ maxLength: 40 }),
);
