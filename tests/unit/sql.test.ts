import { describe, expect, it } from 'vitest';
import { containsPattern, prepareSearch } from '../../src/lib/sql.js';

describe('prepareSearch', () => {
  it('keeps the cached plan for no search and for patterns pg_trgm can look up', () => {
    for (const search of [undefined, 'abc', 'Ayu Santoso', 'ab12', '192.168.0.1', 'Ünïcode']) expect(prepareSearch(search)).toBe(true);
  });

  it('plans with the value when no three letters or digits stand in a row (pg_trgm may have nothing to look up)', () => {
    for (const search of ['a', 'ab', 'a b', '%_%', '1.2.3', '10.0.0.1', 'a-b-c']) expect(prepareSearch(search)).toBe(false);
  });
});

describe('containsPattern', () => {
  it('escapes the wildcards and the escape character', () => {
    expect(containsPattern('100%_\\x')).toBe('%100\\%\\_\\\\x%');
  });
});
