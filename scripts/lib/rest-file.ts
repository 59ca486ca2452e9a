/**
 * Runs `.rest` files (VS Code REST Client format) top to bottom: `###` separates requests,
 * `@name = value` declares file variables (resolved when used), `# @name x` names a request,
 * `{{x.response.body.$.a.b[0]}}` and `{{x.response.headers.Name}}` read earlier responses,
 * `{{$timestamp}}`, `{{$guid}}` and `{{$randomInt min max}}` are system variables. The status a
 * request expects is the first HTTP status (2xx-5xx) in its `###` title, otherwise any 2xx.
 */
import { randomInt, randomUUID } from 'node:crypto';

export interface RestRequest {
  title: string;
  name?: string;
  method: string;
  url: string;
  headers: [string, string][];
  body?: string;
  expect?: number;
}

export interface RestResult {
  title: string;
  method: string;
  url: string;
  status: number;
  ok: boolean;
  expected: string;
  body: unknown;
}

const METHOD_LINE = /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(\S+)(\s+HTTP\/[\d.]+)?$/;

export function parseRestFile(text: string): { variables: Map<string, string>; requests: RestRequest[] } {
  const variables = new Map<string, string>();
  const requests: RestRequest[] = [];
  for (const block of text.split(/^###/m)) {
    const lines = block.split('\n');
    const title = (lines.shift() ?? '').trim();
    let name: string | undefined;
    let i = 0;
    for (; i < lines.length; i++) {
      const line = (lines[i] ?? '').trim();
      const variable = /^@([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line);
      if (variable) variables.set(variable[1] as string, (variable[2] as string).trim());
      else if (/^(#|\/\/)\s*@name\s+/.test(line)) name = line.replace(/^(#|\/\/)\s*@name\s+/, '').trim();
      else if (METHOD_LINE.test(line)) break;
    }
    if (i >= lines.length) continue;
    const [, method, url] = METHOD_LINE.exec((lines[i] ?? '').trim()) as RegExpExecArray;
    const headers: [string, string][] = [];
    for (i++; i < lines.length && (lines[i] ?? '').trim() !== ''; i++) {
      const line = (lines[i] ?? '').trim();
      if (line.startsWith('#') || line.startsWith('//')) continue;
      const colon = line.indexOf(':');
      headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
    }
    const body = lines.slice(i + 1).filter((l) => !/^\s*(#|\/\/)/.test(l)).join('\n').trim();
    const expect = /\b([2-5]\d\d)\b/.exec(title)?.[1];
    requests.push({ title, name, method: method as string, url: url as string, headers, body: body || undefined, expect: expect ? Number(expect) : undefined });
  }
  return { variables, requests };
}

function jsonPath(value: unknown, path: string): unknown {
  const parts = path.replace(/^\$\.?/, '').match(/[^.[\]]+/g) ?? [];
  return parts.reduce<unknown>((v, key) => (v === null || v === undefined ? undefined : (v as Record<string, unknown>)[key]), value);
}

export async function runRestFile(text: string, options: { baseUrl?: string; log?: (r: RestResult) => void } = {}): Promise<RestResult[]> {
  const { variables, requests } = parseRestFile(text);
  if (options.baseUrl) variables.set('baseUrl', options.baseUrl);
  const responses = new Map<string, { body: unknown; headers: Headers }>();

  const resolve = (input: string, depth = 0): string =>
    input.replace(/\{\{\s*([^}]+?)\s*\}\}/g, (_m, expr: string) => {
      if (depth > 10) throw new Error(`variable cycle at {{${expr}}}`);
      if (expr === '$timestamp') return String(Math.floor(Date.now() / 1000));
      if (expr === '$guid') return randomUUID();
      const rand = /^\$randomInt\s+(-?\d+)\s+(-?\d+)$/.exec(expr);
      if (rand) return String(randomInt(Number(rand[1]), Number(rand[2])));
      const ref = /^([A-Za-z0-9_-]+)\.response\.(body|headers)\.(.+)$/.exec(expr);
      if (ref) {
        const response = responses.get(ref[1] as string);
        if (!response) throw new Error(`{{${expr}}}: request '${ref[1]}' has not run`);
        const value = ref[2] === 'headers' ? response.headers.get(ref[3] as string) : jsonPath(response.body, ref[3] as string);
        if (value === undefined || value === null) throw new Error(`{{${expr}}} is empty`);
        return typeof value === 'string' ? value : JSON.stringify(value);
      }
      const variable = variables.get(expr);
      if (variable === undefined) throw new Error(`unknown variable {{${expr}}}`);
      return resolve(variable, depth + 1);
    });

  const results: RestResult[] = [];
  for (const req of requests) {
    const url = resolve(req.url);
    const res = await fetch(url, {
      method: req.method,
      headers: req.headers.map(([k, v]) => [k, resolve(v)] as [string, string]),
      body: req.body === undefined ? undefined : resolve(req.body),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    if (req.name) responses.set(req.name, { body, headers: res.headers });
    const ok = req.expect === undefined ? res.status >= 200 && res.status < 300 : res.status === req.expect;
    const result = { title: req.title, method: req.method, url, status: res.status, ok, expected: req.expect ? String(req.expect) : '2xx', body };
    options.log?.(result);
    results.push(result);
  }
  return results;
}
