import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RawBcryptResult } from './bcrypt-raw.js';
import type { LoadResult } from './load.js';
import type { BenchOptions } from './options.js';

export interface Row extends LoadResult {
  scenario: string;
  description: string;
  /** Requests per second of the ceiling, measured in slices alternating with this scenario's. */
  ceilingRps?: number;
  /** Requests per second relative to that ceiling, percent. */
  ofCeiling?: number;
}

export interface Target {
  goal: string;
  measured: string;
  met: boolean;
}

export interface Report {
  startedAt: string;
  machine: { cpus: number; cpuModel: string; memoryMb: number; node: string; platform: string };
  options: BenchOptions;
  rows: Row[];
  /** The ceiling as measured alongside each throughput scenario; `rows` shows the median one. */
  ceilingRuns: Row[];
  rawBcrypt?: RawBcryptResult;
  apiRss?: { peakMb: number; hwmMb: number | undefined };
  targets: Target[];
  notes: string[];
}

export const machineInfo = () => ({
  cpus: os.availableParallelism(),
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  memoryMb: Math.round(os.totalmem() / 2 ** 20),
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
});

const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }));

/** A Markdown table, so the same text reads well in a terminal, the README and an issue. */
export function formatTable(rows: Row[]): string {
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'ceiling req/s', 'of ceiling'];
  const lines = rows.map((r) => [
    r.scenario,
    fmt(r.rps, r.rps < 100 ? 1 : 0),
    fmt(r.p50),
    fmt(r.p99),
    fmt(r.max),
    fmt(r.non2xx + r.errors + r.timeouts),
    fmt(r.ceilingRps),
    r.ofCeiling === undefined ? '-' : `${fmt(r.ofCeiling, 1)}%`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const pad = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [pad(header), rule, ...lines.map(pad)].join('\n');
}

/** The issue's targets, checked against this run. */
export function checkTargets(rows: Row[], raw: RawBcryptResult | undefined, rss: Report['apiRss']): Target[] {
  const row = (name: string) => rows.find((r) => r.scenario === name);
  const targets: Target[] = [];
  const hb = row('heartbeat');
  if (hb?.ofCeiling !== undefined) {
    targets.push({ goal: 'heartbeat >= 50% of ceiling, p99 < 50 ms', measured: `${fmt(hb.ofCeiling, 1)}%, p99 ${hb.p99} ms`, met: hb.ofCeiling >= 50 && hb.p99 < 50 });
  }
  for (const name of ['workers-list', 'services', 'services-public', 'users-search']) {
    const r = row(name);
    if (r?.ofCeiling !== undefined) targets.push({ goal: `${name} >= 30% of ceiling`, measured: `${fmt(r.ofCeiling, 1)}%`, met: r.ofCeiling >= 30 });
  }
  const search = row('workers-search');
  if (search) targets.push({ goal: 'workers-search p99 < 100 ms at 10 connections', measured: `p99 ${search.p99} ms, ${fmt(search.rps)} req/s`, met: search.p99 < 100 });
  const stats = row('workers-stats');
  if (stats) targets.push({ goal: 'workers-stats p99 < 50 ms at 10 connections', measured: `p99 ${stats.p99} ms, ${fmt(stats.rps)} req/s`, met: stats.p99 < 50 });
  const login = row('login');
  if (login && raw) {
    const pct = (login.rps / raw.comparesPerSecond) * 100;
    targets.push({ goal: 'login >= 90% of raw bcrypt compares/s', measured: `${fmt(login.rps, 2)} vs ${fmt(raw.comparesPerSecond, 2)}/s = ${fmt(pct, 1)}%`, met: pct >= 90 });
  }
  const jobs = row('jobs');
  if (jobs) targets.push({ goal: 'jobs >= 300 completed/s through the queue', measured: `${fmt(jobs.rps)}/s (${fmt(row('jobs-during-heartbeats')?.rps)}/s while heartbeats run)`, met: jobs.rps >= 300 });
  const hbJobs = row('heartbeat-during-jobs');
  if (hbJobs?.ofCeiling !== undefined) targets.push({ goal: 'heartbeats during jobs >= 75% of heartbeats alone', measured: `${fmt(hbJobs.ofCeiling, 1)}%`, met: hbJobs.ofCeiling >= 75 });
  const subscribe = row('subscribe');
  if (subscribe) targets.push({ goal: 'subscribe p99 < 250 ms, no errors', measured: `p99 ${subscribe.p99} ms, ${fmt(subscribe.rps, 1)}/s, ${subscribe.non2xx + subscribe.errors} errors`, met: subscribe.p99 < 250 && subscribe.non2xx + subscribe.errors + subscribe.timeouts === 0 });
  const renewals = row('renewals');
  if (renewals) targets.push({ goal: '10,000 due renewals in under 60 s, one CHARGE each', measured: `${renewals.requests} in ${fmt(renewals.seconds, 1)} s, ${renewals.non2xx} without exactly one charge`, met: renewals.seconds < 60 && renewals.non2xx === 0 && renewals.errors === 0 });
  const webhooks = row('webhooks');
  if (webhooks) {
    targets.push({
      goal: 'webhooks >= 200 deliveries/s, each verified and delivered once',
      measured: `${fmt(webhooks.rps)}/s, event to receipt p50 ${webhooks.p50} ms, p99 ${webhooks.p99} ms, ${webhooks.non2xx} unverified, duplicate or missing`,
      met: webhooks.rps >= 200 && webhooks.non2xx + webhooks.errors === 0,
    });
  }
  const provision = row('provision');
  if (provision) targets.push({ goal: 'provision >= 20 instances/s to RUNNING on the simulated cluster', measured: `${provision.requests} in ${fmt(provision.seconds, 1)} s = ${fmt(provision.rps)}/s`, met: provision.rps >= 20 && provision.non2xx === 0 });
  const reconcile = row('reconcile');
  if (reconcile) targets.push({ goal: 'one reconcile pass over 2,000 live instances in under 10 s', measured: `${reconcile.requests} in ${fmt(reconcile.seconds, 1)} s`, met: reconcile.seconds < 10 && reconcile.requests >= 2000 && reconcile.errors === 0 });
  const hbRec = row('heartbeat-during-reconcile');
  if (hbRec?.ofCeiling !== undefined) targets.push({ goal: 'heartbeats during a reconcile pass >= 75% of heartbeats alone', measured: `${fmt(hbRec.ofCeiling, 1)}%`, met: hbRec.ofCeiling >= 75 });
  const probe = row('health-during-logins');
  if (probe) targets.push({ goal: '/health p99 < 20 ms during the login storm', measured: `p99 ${probe.p99} ms`, met: probe.p99 < 20 });
  const errors = rows.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0);
  targets.push({ goal: 'no errors in any scenario', measured: `${errors} errors`, met: errors === 0 });
  if (rss) targets.push({ goal: 'API peak RSS < 250 MB', measured: `${rss.peakMb} MB polled, ${rss.hwmMb ?? '?'} MB kernel high-water mark`, met: Math.max(rss.peakMb, rss.hwmMb ?? 0) < 250 });
  return targets;
}

export function formatTargets(targets: Target[]): string {
  return targets.map((t) => `${t.met ? 'MET    ' : 'NOT MET'}  ${t.goal}: ${t.measured}`).join('\n');
}

export function writeReport(dir: string, report: Report): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${report.startedAt.replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}
