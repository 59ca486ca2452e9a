import { afterAll, describe, expect, it } from 'vitest';
import { createTestContext } from '../helpers/app.js';

const TOKEN = 'metrics-token-for-tests-0123456789';

describe('GET /metrics', () => {
  const disabled = createTestContext();
  const enabled = createTestContext({ env: { METRICS_TOKEN: TOKEN } });
  afterAll(async () => {
    await disabled.close();
    await enabled.close();
  });

  it('is disabled (404) when no METRICS_TOKEN is configured', async () => {
    const res = await disabled.request.get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(404);
    expect(res.body.success).toBe(false);
  });

  it('refuses a missing or wrong token with 401', async () => {
    await enabled.request.get('/metrics').expect(401);
    await enabled.request.get('/metrics').set('Authorization', 'Bearer wrong-token-wrong-token-wrong-1').expect(401);
  });

  it('reports requests by route template and status, nodes by status and pool use', async () => {
    await enabled.request.get('/api/v1/health').expect(200);
    await enabled.request.get('/api/v1/users/some-id').expect(401);
    const res = await enabled.request.get('/metrics').set('Authorization', `Bearer ${TOKEN}`).expect(200);
    expect(res.headers['content-type']).toMatch(/text\/plain/);
    expect(res.text).toMatch(/minispod_http_requests_total\{method="GET",route="\/api\/v1\/health",status="200"\} \d+/);
    expect(res.text).toMatch(/minispod_http_requests_total\{method="GET",route="\/api\/v1\/users\/:id",status="401"\} 1/);
    expect(res.text).toContain('minispod_http_request_duration_seconds_bucket');
    expect(res.text).toContain('minispod_heartbeats_received_total');
    expect(res.text).toContain('# TYPE minispod_worker_nodes gauge');
    expect(res.text).not.toContain('some-id');
  });
});
