import type { KubeDouble } from '../../src/kube-double/index.js';

/** One request to the double as any HTTP client would send it (status and body as they come). */
export async function kubeRequest(double: Pick<KubeDouble, 'url' | 'token'>, method: string, path: string, body?: unknown, contentType = 'application/json') {
  const res = await fetch(`${double.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${double.token}`, ...(body === undefined ? {} : { 'content-type': contentType }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  // Assertions read deep into Kubernetes JSON; typing every shape here would only restate the API.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: res.status, headers: res.headers, text, body: json as Record<string, any> };
}

export const apply = (double: Pick<KubeDouble, 'url' | 'token'>, path: string, body: unknown, query = 'fieldManager=minispod&force=true') =>
  kubeRequest(double, 'PATCH', `${path}?${query}`, body, 'application/apply-patch+yaml');

/** Polls until `check` answers something truthy (or throws the last failure after `timeoutMs`). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 5000, intervalMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
