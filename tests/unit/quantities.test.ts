import { describe, expect, it } from 'vitest';
import { parseBytes, parseCpu, quantityAmount } from '../../src/modules/catalog/quantities.js';

const ok = (r: ReturnType<typeof parseCpu>) => (r.ok ? r.quantity : `ERROR: ${r.message}`);

describe('parseCpu', () => {
  it.each([
    ['1 vCPU', '1'],
    ['2 vCPUs', '2'],
    ['0.5 cores', '500m'],
    ['1 Core', '1'],
    ['1.5 cpu', '1500m'],
    ['500m', '500m'],
    ['250 millicores', '250m'],
    ['1000m', '1'],
    ['0.25', '250m'],
    ['2', '2'],
    [' 100m ', '100m'],
    ['1e-1', '100m'],
  ])('reads %j as %j', (input, expected) => {
    expect(ok(parseCpu(input))).toBe(expected);
  });

  it('reads JSON numbers as cores', () => {
    expect(ok(parseCpu(0.5))).toBe('500m');
    expect(ok(parseCpu(4))).toBe('4');
  });

  it('reports millicores as the amount', () => {
    expect(parseCpu('1.5 vCPU')).toEqual({ ok: true, quantity: '1500m', amount: 1500n });
  });

  it.each(['', 'lots', '1 banana', '-1', '1.5.2', '500M', '1 GB', 'm'])('refuses %j', (input) => {
    const r = parseCpu(input);
    expect(r.ok).toBe(false);
  });

  it('refuses precision finer than one millicore instead of rounding', () => {
    const r = parseCpu('0.0005');
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining('1m') });
  });

  it('refuses zero and absurdly large values', () => {
    expect(parseCpu('0')).toMatchObject({ ok: false, message: expect.stringContaining('greater than zero') });
    expect(parseCpu('1000')).toMatchObject({ ok: false, message: expect.stringContaining('at most 256') });
  });
});

describe('parseBytes', () => {
  it.each([
    ['memory', '1GB RAM', '1Gi'],
    ['memory', '512MB', '512Mi'],
    ['memory', '512 MiB', '512Mi'],
    ['memory', '1.5GB', '1536Mi'],
    ['memory', '2 gb memory', '2Gi'],
    ['memory', '512Mi', '512Mi'],
    ['memory', '1Gi', '1Gi'],
    ['memory', '1024Mi', '1Gi'],
    ['memory', '0.5Gi', '512Mi'],
    ['memory', '1 Gi', '1Gi'],
    ['memory', '500M', '500M'],
    ['memory', '1000M', '1G'],
    ['memory', '1G', '1G'],
    ['memory', '128974848', '128974848'],
    ['memory', '129e6', '129M'],
    ['storage', '10GB SSD', '10Gi'],
    ['storage', '100 GB NVMe', '100Gi'],
    ['storage', '1TB HDD', '1Ti'],
    ['storage', '20Gi', '20Gi'],
  ] as const)('reads %s %j as %j', (kind, input, expected) => {
    expect(ok(parseBytes(kind, input))).toBe(expected);
  });

  it('reports bytes as the amount', () => {
    expect(parseBytes('memory', '1GB RAM')).toEqual({ ok: true, quantity: '1Gi', amount: 1024n ** 3n });
    expect(parseBytes('memory', '1G')).toEqual({ ok: true, quantity: '1G', amount: 10n ** 9n });
  });

  it("refuses 'm' on memory, which Kubernetes reads as thousandths of a byte", () => {
    expect(parseBytes('memory', '512m')).toMatchObject({ ok: false, message: expect.stringContaining("'Mi'") });
  });

  it.each(['', 'lots', '1 vCPU', '12 parsecs', '-1Gi', '1GB SSD RAM', '1K'])('refuses memory %j', (input) => {
    expect(parseBytes('memory', input).ok).toBe(false);
  });

  it('refuses a storage word on memory and a memory word on storage', () => {
    expect(parseBytes('memory', '10GB SSD').ok).toBe(false);
    expect(parseBytes('storage', '1GB RAM').ok).toBe(false);
  });

  it('refuses sizes below 1Mi, which are almost always bytes sent by mistake', () => {
    expect(parseBytes('memory', '512')).toMatchObject({ ok: false, message: expect.stringContaining('at least 1Mi') });
  });

  it('refuses sizes above the bounds and fractions of a byte', () => {
    expect(parseBytes('memory', '2Ti').ok).toBe(false);
    expect(parseBytes('storage', '200Ti').ok).toBe(false);
    expect(parseBytes('memory', '1.0000001Mi')).toMatchObject({ ok: false, message: expect.stringContaining('whole number of bytes') });
  });
});

describe('quantityAmount', () => {
  it('compares quantities of different notations by amount', () => {
    expect(quantityAmount('cpu', '1') > quantityAmount('cpu', '999m')).toBe(true);
    expect(quantityAmount('memory', '1G') < quantityAmount('memory', '1Gi')).toBe(true);
  });

  it('throws on a stored value that is not a quantity', () => {
    expect(() => quantityAmount('cpu', 'junk')).toThrow(/invalid/);
  });
});
