import { describe, expect, it } from 'vitest';
import { heartbeatInterval } from '../../src/modules/workers/workers.reports.js';
import { cores, megabytes, quantityToMb } from '../../src/modules/workers/workers.quantities.js';
import { labelKeyProblem } from '../../src/modules/workers/workers.schemas.js';

describe('quantityToMb', () => {
  it.each([
    ['32Gi', 32768n],
    ['512Mi', 512n],
    ['1Ti', 1048576n],
    ['1.5Gi', 1536n],
    ['1048576Ki', 1024n],
    ['1023Ki', 0n],
    ['500G', 476837n],
    ['1T', 953674n],
    ['64M', 61n],
    ['1E', 953674316406n],
  ])('reads %s as %s MB (whole MB, rounded down)', (text, mb) => {
    expect(quantityToMb(text)).toBe(mb);
  });

  it.each(['32', '32GB', '32gi', '32 Gi', 'Gi', '-1Gi', '1e3Mi', '500m', ''])('refuses %j', (text) => {
    expect(quantityToMb(text)).toBeUndefined();
  });
});

describe('megabytes', () => {
  it('takes integer MB as is and quantities in MB', () => {
    expect(megabytes.parse(16384)).toBe(16384n);
    expect(megabytes.parse('16Gi')).toBe(16384n);
  });

  it.each([1.5, -1, '16384', 'lots', 2 ** 41 * 1024])('refuses %j', (value) => {
    expect(megabytes.safeParse(value).success).toBe(false);
  });
});

describe('cores', () => {
  it.each([
    [4.5, 4.5],
    ['4500m', 4.5],
    ['2', 2],
    ['0.25', 0.25],
    ['1m', 0.001],
  ])('reads %j as %s cores', (value, expected) => {
    expect(cores.parse(value)).toBe(expected);
  });

  it.each([-0.5, '-1', '1.5m', '2 cores', 'NaN', Infinity])('refuses %j', (value) => {
    expect(cores.safeParse(value).success).toBe(false);
  });
});

describe('labelKeyProblem', () => {
  it.each(['zone', 'topology.kubernetes.io/zone', 'kubernetes.io/arch', 'node-role.kubernetes.io/control-plane', 'example.com/A_b.c-9', 'a'.repeat(63)])('accepts %s', (key) => {
    expect(labelKeyProblem(key)).toBeUndefined();
  });

  it.each(['', '/zone', 'zone/', 'Example.com/zone', '-example.com/zone', 'a/b/c', `${'a'.repeat(254)}/zone`, 'a'.repeat(64), '_zone', 'zone.', 'zö'])('refuses %j', (key) => {
    expect(labelKeyProblem(key)).toEqual(expect.any(String));
  });
});

describe('heartbeatInterval', () => {
  it.each([
    [90, 10],
    [40, 10],
    [30, 7],
    [5, 1],
  ])('asks for a beat every %s s grace -> %s s', (grace, interval) => {
    expect(heartbeatInterval(grace)).toBe(interval);
  });
});
