// `npm run bench`: minispod against the bare-Express ceiling on this machine. Starts an embedded
// PostgreSQL with realistic volume, the API (as `npm start` runs it) and a bare Express app as
// child processes, drives each scenario from a separate load-generator process, and prints and
// saves the results. See docs/performance.md.
import path from 'node:path';
import { PROJECT_ROOT } from '../src/lib/migrate.js';
import { measureRawBcrypt, threadPoolSize, type RawBcryptResult } from './bcrypt-raw.js';
import { prepareDatabase, type BenchData } from './database.js';
import { pool, runLoad, runLoads, type LoadSpec } from './load.js';
import { parseOptions, type BenchOptions } from './options.js';
import { ensureBuild, monitorRss, startApi, startCeiling, type Server } from './processes.js';
import { checkTargets, formatTable, formatTargets, machineInfo, writeReport, type Report, type Row } from './report.js';
import { renewalsPhase, subscribePhase } from './billing.js';
import { jobsPhase } from './jobs.js';
import { instancesPhase } from './instances.js';
import { webhooksPhase } from './webhooks.js';
import { healthProbe, loginScenario, throughputScenarios, type Scenario, type Targets } from './scenarios.js';

const log = (line: string) => console.log(`[bench] ${line}`);

async function accessToken(base: string, email: string, password: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password }) });
  const body = (await res.json()) as { data?: { tokens?: { accessToken?: string } } };
  const token = body.data?.tokens?.accessToken;
  if (!res.ok || !token) throw new Error(`login of ${email} failed with ${res.status}: ${JSON.stringify(body)}`);
  return token;
}

async function measure(s: Scenario): Promise<Row> {
  log(`${s.name}: ${s.description} (${s.spec.connections} connections, ${s.spec.duration}s)`);
  const result = await runLoad(s.spec);
  return { scenario: s.name, description: s.description, ...result };
}

// Seconds of unrecorded load at the start of every slice, while its new connections open.
const SETTLE_SECONDS = 0.5;

/**
 * A scenario and the ceiling measured in alternating slices (ceiling, scenario, ceiling, … after a
 * warm-up of both), and the scenario's ratio to the ceiling over the same stretch of time. The
 * machine's speed drifts, by a third and more within a minute (the ceiling alone has ranged from
 * 4,300 to 9,200 req/s in one run): a ratio to a ceiling measured before the scenario carried that
 * drift (three runs of the same code gave heartbeats 33, 44 and 46%). The slices run back to back
 * in one load-generator process.
 */
async function measureAgainstCeiling(ceiling: Scenario, s: Scenario, o: BenchOptions): Promise<{ ceiling: Row; row: Row }> {
  const slice = o.duration / o.rounds;
  log(`${s.name}: ${s.description} (${s.spec.connections} connections, ${o.rounds} slices of ${slice}s, each after ${slice}s of the ceiling)`);
  const warm = (spec: LoadSpec): LoadSpec => ({ ...spec, warmup: o.warmup, duration: 0 });
  const part = (spec: LoadSpec): LoadSpec => ({ ...spec, warmup: SETTLE_SECONDS, duration: slice });
  const rounds = Array.from({ length: o.rounds }, () => [part(ceiling.spec), part(s.spec)]).flat();
  const [warmCeiling, warmScenario, ...measured] = await runLoads([warm(ceiling.spec), warm(s.spec), ...rounds]);
  if (!warmCeiling || !warmScenario) throw new Error('the load generator answered fewer runs than it was given');
  // A warm-up adds no seconds and no latencies, only its errors: an error anywhere counts.
  const c = pool([warmCeiling, ...measured.filter((_, i) => i % 2 === 0)]);
  const r = pool([warmScenario, ...measured.filter((_, i) => i % 2 === 1)]);
  return {
    ceiling: { scenario: ceiling.name, description: ceiling.description, ...c },
    row: { scenario: s.name, description: s.description, ...r, ceilingRps: c.rps, ofCeiling: Math.round((r.rps / c.rps) * 1000) / 10 },
  };
}

/** Every throughput scenario against the ceiling; the table's ceiling row is the median of the ceiling's measurements. */
async function throughputPhase([ceiling, ...scenarios]: Scenario[], report: Report, selected: (name: string) => boolean): Promise<void> {
  if (!ceiling) return;
  const chosen = scenarios.filter((s) => selected(s.name));
  const pairs: Row[] = [];
  for (const s of chosen) {
    const measured = await measureAgainstCeiling(ceiling, s, report.options);
    report.ceilingRuns.push(measured.ceiling);
    pairs.push(measured.row);
  }
  if (chosen.length === 0) report.ceilingRuns.push(await measure(ceiling));
  const sorted = [...report.ceilingRuns].sort((a, b) => a.rps - b.rps);
  const median = sorted[Math.floor((sorted.length - 1) / 2)] as Row;
  const runs = report.ceilingRuns.length;
  report.rows.push({ ...median, description: `${median.description} (median of ${runs} measurement${runs === 1 ? '' : 's'}, one alongside each scenario)` }, ...pairs);
}

/**
 * Raw bcrypt, logins alone and raw bcrypt again (the login rate is compared with the mean of the
 * two raw runs around it, as the machine's speed drifts), then logins with the /health probe
 * running at the same time.
 */
async function loginPhase(data: BenchData, targets: Targets, report: Report, selected: (name: string) => boolean): Promise<void> {
  const o = report.options;
  const login = loginScenario(data, targets, o);
  if (selected('login')) {
    const concurrency = Math.min(o.loginConnections, threadPoolSize());
    const raw = async (when: string) => {
      log(`raw bcrypt ${when}: compare at cost ${o.bcryptCost}, ${concurrency} in flight (the libuv pool), ${login.spec.duration}s`);
      return measureRawBcrypt({ cost: o.bcryptCost, duration: login.spec.duration, warmup: o.warmup, concurrency });
    };
    const before = await raw('before the logins');
    report.rows.push(await measure(login));
    const after = await raw('after the logins');
    const runs = [before.comparesPerSecond, after.comparesPerSecond];
    report.rawBcrypt = { comparesPerSecond: Math.round(((runs[0] ?? 0) + (runs[1] ?? 0)) * 50) / 100, compares: before.compares + after.compares, concurrency, runs };
  }
  if (selected('health-during-logins')) {
    const probe = healthProbe(targets, o, login.spec.duration);
    log(`${probe.name}: ${probe.description}`);
    // The probe starts once the login storm is past its warmup, and ends before it does.
    const storm = runLoad({ ...login.spec, duration: login.spec.duration + 1 });
    await new Promise((r) => setTimeout(r, (o.warmup + 0.5) * 1000));
    const probed = await runLoad(probe.spec);
    await storm;
    report.rows.push({ scenario: probe.name, description: probe.description, ...probed });
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env);
  const selected = (name: string) => options.only.length === 0 || options.only.includes(name);
  const report: Report = { startedAt: new Date().toISOString(), machine: machineInfo(), options, rows: [], ceilingRuns: [], targets: [], notes: [] };
  log(`${report.machine.cpus} CPUs (${report.machine.cpuModel}), Node ${report.machine.node}; API, PostgreSQL and load generator share them`);

  ensureBuild();
  const data = await prepareDatabase(options, log);
  const servers: Server[] = [];
  try {
    const api = await startApi(data.url, options);
    servers.push(api);
    const rss = monitorRss(api.pid);
    const ceiling = await startCeiling();
    servers.push(ceiling);
    const prototypes = await startCeiling('prototypes');
    servers.push(prototypes);
    const targets: Targets = {
      api: api.base,
      ceiling: ceiling.base,
      ceilingPrototypes: prototypes.base,
      adminToken: await accessToken(api.base, data.admin.email, data.admin.password),
      userToken: await accessToken(api.base, data.userEmails[0] as string, data.userPassword),
    };

    const scenarios = throughputScenarios(data, targets, options);
    await throughputPhase(scenarios, report, selected);
    const heartbeat = scenarios.find((s) => s.name === 'heartbeat');
    if (selected('jobs') && heartbeat) await jobsPhase(data.url, heartbeat, report, log);
    if (selected('webhooks')) await webhooksPhase(data.url, api.base, targets.userToken, report, log);
    if (selected('subscribe')) await subscribePhase(data.url, api.base, { emails: data.userEmails, password: data.userPassword }, options, report, log);
    if (selected('renewals')) await renewalsPhase(data.url, report, log);
    if (selected('provision') || selected('reconcile')) await instancesPhase(data.url, heartbeat, { provision: selected('provision'), reconcile: selected('reconcile') }, report, log);
    await loginPhase(data, targets, report, selected);
    rss.stop();
    report.apiRss = rss.read();
    report.targets = checkTargets(report.rows, report.rawBcrypt, report.apiRss);
    print(report);
    if (report.rows.some((r) => r.errors + r.non2xx + r.timeouts > 0)) {
      report.notes.push('Some requests failed: the tail of the API output follows.');
      console.error(`--- last output of the API ---\n${api.output()}`);
    }
    const file = writeReport(path.join(PROJECT_ROOT, 'bench', 'results'), report);
    log(`results written to ${path.relative(PROJECT_ROOT, file)}`);
  } catch (err) {
    for (const s of servers) console.error(`--- last output of ${s.name} ---\n${s.output()}`);
    throw err;
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await data.stop();
  }
}

function print(report: Report): void {
  const raw: RawBcryptResult | undefined = report.rawBcrypt;
  console.log('');
  console.log(formatTable(report.rows));
  console.log('');
  if (raw) console.log(`raw bcrypt (cost ${report.options.bcryptCost}, ${raw.concurrency} in flight): ${raw.comparesPerSecond} compares/s, the mean of ${raw.runs?.join(' before and ')} after the logins`);
  if (report.apiRss) console.log(`API peak RSS: ${report.apiRss.peakMb} MB polled, ${report.apiRss.hwmMb ?? '?'} MB high-water mark (VmHWM)`);
  console.log('');
  console.log(formatTargets(report.targets));
  console.log('');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
