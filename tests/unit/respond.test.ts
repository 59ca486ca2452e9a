import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/lib/errors/index.js';
import { created, ok, sendError } from '../../src/lib/http/respond.js';

const app = express();
app.get('/ok', (_req, res) => ok(res, { name: 'Café ☕', big: 2n ** 70n }, 'Done'));
app.post('/created', (_req, res) => created(res, { id: 'x' }));
app.get('/error', (_req, res) => {
  res.locals.requestId = 'req-1';
  sendError(res, new AppError('RATE_LIMITED', 'Slow down', { headers: { 'Retry-After': '7' } }));
});

describe('the response helpers', () => {
  it('write the envelope as JSON in UTF-8 with the length in bytes, BigInt as text', async () => {
    const res = await request(app).get('/ok').expect(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    expect(res.body).toEqual({ success: true, message: 'Done', data: { name: 'Café ☕', big: (2n ** 70n).toString() }, timestamp: expect.any(String), statusCode: 200 });
    expect(new Date(res.body.timestamp as string).toISOString()).toBe(res.body.timestamp);
  });

  it('answer HEAD with the headers of GET and no body', async () => {
    const res = await request(app).head('/ok').expect(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Number(res.headers['content-length'])).toBeGreaterThan(0);
    expect(res.text ?? '').toBe('');
  });

  it('send 201 for created and an error envelope with its status, headers and request id', async () => {
    expect((await request(app).post('/created').expect(201)).body).toMatchObject({ success: true, statusCode: 201, data: { id: 'x' } });
    const res = await request(app).get('/error').expect(429);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.body).toEqual({ success: false, message: 'Slow down', code: 'RATE_LIMITED', timestamp: expect.any(String), statusCode: 429, requestId: 'req-1' });
  });
});
