#!/usr/bin/env node
/**
 * The `ringkv` command line (commander):
 *
 *   ringkv start    serve a cluster over RESP and HTTP until SIGINT/SIGTERM
 *   ringkv status   ask a running server (HTTP GET /status) and print it
 *   ringkv repair   start an anti-entropy pass on a running server (POST /repair) and follow it
 *   ringkv explain  ask a running server where a key lives (GET /explain/:key)
 *   ringkv demo     the storage demo on worker threads (`demo.ts`)
 *   ringkv bench    the benchmarks (bench/<area>/run.js, built from a source checkout)
 *
 * `start` prints one parseable line per surface, `resp listening on
 * HOST:PORT` and `http listening on HOST:PORT`, with the ports actually
 * bound (so `--resp-port 0` can be used by scripts and tests).
 *
 * Signals: the first SIGINT or SIGTERM closes gracefully (stop accepting,
 * finish in-flight requests, flush memtables, close LMDB) and exits 0; a
 * second one, or a close still running after SHUTDOWN_DEADLINE_MS, exits 1
 * at once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import type { ClusterStatus, ExplainedExchanges, RepairReport } from '../cluster/cluster_types.js';
import { COMMITLOG_PERIODIC_SYNC_MS } from '../core/limits.js';
import { SYNC_MODE_DEFAULT } from '../cluster/node_plan.js';
import { SERVER_DEFAULTS, startServer, type RingkvServer } from '../server/start.js';
import { readStartFlags, type StartFlags, type StartSettings } from './start_flags.js';
import { DEFAULT_HTTP_URL, fetchJson } from './server_api.js';
import { addMembershipCommands } from './membership_commands.js';

/** How long a graceful shutdown may take before the process exits 1 anyway (flushing 5 memtables of 16 MB is far shorter). */
const SHUTDOWN_DEADLINE_MS = 60_000;
/** A second SIGINT/SIGTERM within this long of the first is the same request (terminal and npm both deliver Ctrl-C). */
const SIGNAL_REPEAT_MIN_MS = 1000;
/** How often a server run by `npm start` checks that npm (its parent) is still there. */
const PARENT_CHECK_INTERVAL_MS = 500;
/** How often `ringkv repair` asks for progress. */
const REPAIR_POLL_MS = 1000;
/** Benchmark areas, in the order `ringkv bench` runs them. */
const BENCH_AREAS = ['runtime', 'storage', 'fd', 'server'] as const;
/** Characters of a value `explain` prints before cutting it short. */
const VALUE_PREVIEW_CHARS = 60;

const program = new Command()
  .name('ringkv')
  .description('A Dynamo-style, leaderless, replicated key-value store for Node.js, served over RESP (Redis clients) and HTTP')
  .version(packageVersion())
  .showHelpAfterError()
  .addHelpText('after', '\nEnvironment:\n  RINGKV_LOG=debug|info|warn|error   log level (default warn)\n');

program
  .command('start')
  .description('open a cluster of nodes on worker threads and serve it over RESP and HTTP until SIGINT/SIGTERM')
  // Flags arrive as text and are checked all together (start_flags.ts), so every problem is reported at once.
  .addOption(new Option('--nodes <count>', 'nodes; a data directory keeps the count it was created with').default(SERVER_DEFAULTS.nodes))
  .option('--threads <count>', 'worker threads hosting the nodes, several nodes to a thread when fewer (default: the machine\'s cores but one, at least 1, at most --nodes)')
  .option('--data-dir <dir>', 'root of the nodes\' data directories (locked while running)', SERVER_DEFAULTS.dataDir)
  .addOption(new Option('--resp-port <port>', 'RESP (Redis protocol) port; 0 picks a free one').default(SERVER_DEFAULTS.respPort))
  .addOption(new Option('--http-port <port>', 'HTTP port; 0 picks a free one').default(SERVER_DEFAULTS.httpPort))
  .option('--bind <address>', 'address both servers bind', SERVER_DEFAULTS.bind)
  .option('--n <count>', 'replicas per key, at most --nodes (default 3, or the node count if smaller); a data directory keeps the N it was created with')
  .option('--w <count|level>', 'write acknowledgements needed: a count 1..n or one|quorum|all|local_quorum|each_quorum (default: majority of n)')
  .option('--r <count|level>', 'read answers needed, as --w (default: majority of n)')
  .option('--password <password>', 'require the password on RESP (AUTH) and on every HTTP route but /health and /ready (Basic or Bearer)')
  .option('--anti-entropy <on|off>', 'active anti-entropy: replicas compare hash trees now and then and repair what differs (off: only read repair and hinted handoff)', 'on')
  .option('--protected-mode <yes|no>', 'refuse to listen beyond loopback without --password (as Redis does); no only where a firewall guards the ports', 'yes')
  .addOption(
    new Option(
      '--sync <mode>',
      'commit-log durability: batch (each replica fsyncs a write before acknowledging it) or periodic (fsync every ' +
        `${COMMITLOG_PERIODIC_SYNC_MS} ms: faster, but a write stored within ${COMMITLOG_PERIODIC_SYNC_MS} ms of a crash of every replica holding it is lost)`,
    ).default(SYNC_MODE_DEFAULT),
  )
  .option('--node-id <ids>', 'ids of the nodes this process runs, comma-separated (default n1..n<nodes>); unique across the cluster when it spans processes')
  .option('--listen <host:port>', 'run the cluster across processes: this process listens for its peers here (the address they dial, not 0.0.0.0); needs RINGKV_CLUSTER_SECRET or --cluster-secret-file')
  .option('--seeds <host:port,...>', 'peer processes to contact, this one may be among them; a new cluster forms from the nodes of every seed once all answer (default: --listen alone)')
  .option('--cluster-secret-file <file>', 'file holding the cluster secret (default: $RINGKV_CLUSTER_SECRET), the same in every process; peers prove it by HMAC before any message is accepted')
  .action(async (flags: StartFlags & { clusterSecretFile?: string }) => {
    const secret = await clusterSecret(flags.clusterSecretFile);
    if (typeof secret === 'object') {
      process.stderr.write(`ringkv start: ${secret.problem}\nringkv start: nothing was started\n`);
      process.exitCode = 1;
      return;
    }
    const read = readStartFlags({ ...flags, ...(secret !== undefined ? { clusterSecret: secret } : {}) });
    if (!read.ok) {
      for (const problem of read.problems) process.stderr.write(`ringkv start: ${problem}\n`);
      process.stderr.write(`ringkv start: nothing was started (${read.problems.length} problem${read.problems.length === 1 ? '' : 's'}); see ringkv start --help\n`);
      process.exitCode = 1;
      return;
    }
    process.exitCode = await start(read.settings);
  });

program
  .command('status')
  .description('show a running server\'s members, liveness, ring ownership and hints')
  .option('--http <url>', 'the server\'s HTTP address', DEFAULT_HTTP_URL)
  .option('--password <password>', 'the server\'s --password (default: $RINGKV_PASSWORD)')
  .option('--json', 'print the raw JSON')
  .action(async (opts: { http: string; json?: boolean; password?: string }) => {
    const status = (await fetchJson(opts.http, '/status', opts.password)) as ClusterStatus;
    process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(opts.http, status));
  });

program
  .command('explain')
  .description('show where KEY lives: its preference list, each replica\'s versions, hints pending')
  .argument('<key>', 'the key (UTF-8)')
  .option('--http <url>', 'the server\'s HTTP address', DEFAULT_HTTP_URL)
  .option('--password <password>', 'the server\'s --password (default: $RINGKV_PASSWORD)')
  .option('--json', 'print the raw JSON')
  .action(async (key: string, opts: { http: string; json?: boolean; password?: string }) => {
    const explained = (await fetchJson(opts.http, `/explain/${encodeURIComponent(key)}`, opts.password)) as ExplainJson;
    process.stdout.write(opts.json ? `${JSON.stringify(explained, null, 2)}\n` : formatExplain(key, explained));
  });

program
  .command('repair')
  .description('run an anti-entropy repair pass on every node of a running server: each exchanges every replica group it shares with every peer now; prints progress until done')
  .option('--http <url>', 'the server\'s HTTP address', DEFAULT_HTTP_URL)
  .option('--password <password>', 'the server\'s --password (default: $RINGKV_PASSWORD)')
  .option('--timeout <seconds>', 'give up waiting after this long (the pass goes on in the server)', '600')
  .option('--json', 'print the final progress as JSON')
  .action(async (opts: { http: string; json?: boolean; password?: string; timeout: string }) => {
    const timeout_s = Number(opts.timeout);
    if (!(Number.isFinite(timeout_s) && timeout_s > 0)) throw new Error(`--timeout is a number of seconds above 0, not ${JSON.stringify(opts.timeout)}`);
    let report = (await fetchJson(opts.http, '/repair', opts.password, 'POST')) as RepairReport;
    const until = Date.now() + timeout_s * 1000;
    const live = process.stdout.isTTY === true && opts.json !== true;
    while (report.running && Date.now() < until) {
      if (!opts.json) process.stdout.write(`${live ? '\r' : ''}${repairLine(report)}${live ? '' : '\n'}`);
      await new Promise((resolve) => setTimeout(resolve, REPAIR_POLL_MS));
      report = (await fetchJson(opts.http, '/repair', opts.password)) as RepairReport;
    }
    if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else process.stdout.write(`${live ? '\r' : ''}${repairLine(report)}\n${formatRepairEnd(report)}`);
    if (report.running) process.exitCode = 1;
  });

program
  .command('demo')
  .description('run the storage demo: replicas on worker threads, a crash, a restart, every key read back')
  .option('--dir <dir>', 'data directory (default: a temporary one, removed afterwards)')
  .action(async (opts: { dir?: string }) => {
    const { runDemo } = await import('./demo.js');
    process.exitCode = await runDemo(opts.dir);
  });

program
  .command('bench')
  .description(`run a benchmark (${BENCH_AREAS.join(', ')}), or all of them in turn; results go to bench/results/<area>.json`)
  .argument('[area]', `one of ${BENCH_AREAS.join(', ')} (default: all)`)
  .option('--quick', 'a shorter run')
  .action((area: string | undefined, opts: { quick?: boolean }) => {
    process.exitCode = runBench(area, opts.quick === true);
  });

addMembershipCommands(program);

await program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`ringkv: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});

// --- start -----------------------------------------------------------------

/** The cluster secret: the file's contents (trailing newline dropped), else $RINGKV_CLUSTER_SECRET, else none. */
async function clusterSecret(file: string | undefined): Promise<string | undefined | { problem: string }> {
  if (file === undefined) return process.env.RINGKV_CLUSTER_SECRET || undefined;
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (err) {
    return { problem: `--cluster-secret-file ${file}: ${err instanceof Error ? err.message : String(err)}; give a readable file holding the cluster secret` };
  }
}

/** Start serving, print where, and wait for a signal; resolves with the exit code only on a failed start. */
async function start(opts: StartSettings): Promise<number> {
  let server: RingkvServer;
  try {
    server = await startServer({
      nodes: opts.nodes,
      ...(opts.nodeIds !== undefined ? { nodeIds: opts.nodeIds } : {}),
      ...(opts.peers !== undefined ? { peers: opts.peers } : {}),
      dataDir: opts.dataDir,
      respPort: opts.respPort,
      httpPort: opts.httpPort,
      bind: opts.bind,
      protectedMode: opts.protectedMode,
      syncMode: opts.sync,
      antiEntropy: opts.antiEntropy,
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.n !== undefined ? { n: opts.n } : {}),
      ...(opts.w !== undefined ? { w: opts.w } : {}),
      ...(opts.r !== undefined ? { r: opts.r } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
    });
  } catch (err) {
    process.stderr.write(`ringkv start: ${startError(err, opts)}\n`);
    return 1;
  }
  const status = await server.cluster.status();
  const { n, w, r, strict } = status.replication;
  const host = server.bind.includes(':') ? `[${server.bind}]` : server.bind;
  const out = [
    `ringkv ${packageVersion()}: ${status.members.length} nodes, N=${n} W=${w} R=${r}${strict ? ' (strict quorum)' : ''}, sync ${opts.sync}, data in ${server.dataDir}`,
    `resp listening on ${host}:${server.resp.port}${opts.password !== undefined ? ' (AUTH required)' : ''}   try: redis-cli -h ${server.bind} -p ${server.resp.port}`,
    `http listening on ${host}:${server.http.port}${opts.password !== undefined ? ' (password required but on /health, /ready)' : ''}   try: curl${opts.password !== undefined ? ' -u any:<password>' : ''} http://${host}:${server.http.port}/status`,
    ...(opts.peers !== undefined ? [`peers listening on ${opts.peers.listen}: this process runs ${opts.nodeIds?.join(', ') ?? 'its nodes'} of ${status.members.length}; the others are reached over TCP (cluster secret required)`] : []),
    'ring:',
    ...memberRows(status),
    ...storageFailures(status),
    'running; Ctrl-C (SIGINT) or SIGTERM stops it gracefully',
    '',
  ];
  // Handlers first: a supervisor may signal as soon as it reads "running", and without a handler SIGTERM kills at once.
  stopOnSignals(server);
  process.stdout.write(out.join('\n'));
  return 0;
}

/** The first SIGINT/SIGTERM closes gracefully and exits 0; a second one, or the deadline, exits 1. */
function stopOnSignals(server: RingkvServer): void {
  let stopping = false;
  let firstSignal_ms = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // Ctrl-C under `npm start` reaches this process twice at once: from the terminal (the whole
      // process group) and forwarded by npm. Only a signal sent again later means "exit now".
      if (Date.now() - firstSignal_ms < SIGNAL_REPEAT_MIN_MS) return;
      process.stderr.write(`${signal} again: exiting without finishing the shutdown\n`);
      process.exit(1);
    }
    stopping = true;
    firstSignal_ms = Date.now();
    process.stdout.write(`${signal}: stopping (finishing requests in flight, flushing memtables, closing LMDB); send it again to exit at once\n`);
    setTimeout(() => {
      process.stderr.write(`shutdown still running after ${SHUTDOWN_DEADLINE_MS} ms: exiting\n`);
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    server.close().then(
      () => {
        process.stdout.write('stopped cleanly\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  followNpm(onSignal);
}

/**
 * Run by `npm start` (the script `exec`s node, so npm forwards SIGINT and
 * SIGTERM to this process), the server also follows npm: if npm dies without
 * forwarding (SIGKILL), this process is re-parented and stops as if it had
 * been sent SIGHUP, instead of living on as an orphan holding the ports. A
 * server started any other way (a shell's `&`, a supervisor) outlives its
 * parent as usual.
 */
function followNpm(onSignal: (signal: NodeJS.Signals) => void): void {
  if (process.env.npm_lifecycle_event !== 'start') return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onSignal('SIGHUP');
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
}

/** A start failure said so the user knows what to change. */
function startError(err: unknown, opts: StartSettings): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'EADDRINUSE') return `${message}: another process uses that port; pick others with --resp-port and --http-port (${opts.respPort}, ${opts.httpPort} were asked)`;
  if (code === 'EADDRNOTAVAIL') return `${message}: ${opts.bind} is not an address of this machine; check --bind`;
  if (code === 'EACCES') return `${message}: not allowed to bind that port or write ${opts.dataDir}; use a port above 1023 or another --data-dir`;
  return message;
}

// --- status and explain ----------------------------------------------------

/** What GET /explain/:key answers (bytes as base64). */
interface ExplainJson {
  position: number;
  preferenceList: string[];
  fallbacks: string[];
  replicas: { node: string; running: boolean; versions: { version: string; value: string | null; ts_ms: number }[] | null; error?: string }[];
  hintsPending: Record<string, Record<string, number>>;
  antiEntropy?: ExplainedExchanges;
}

/** One line of repair progress. */
function repairLine(report: RepairReport): string {
  return `repair: ${report.pairsDone}/${report.pairsTotal} (node, group, peer) exchanges done, ${report.keysRepaired} keys repaired${report.running ? '...' : ''}`;
}

/** What `ringkv repair` prints at the end: done, or what is left and why it may be. */
function formatRepairEnd(report: RepairReport): string {
  const skipped = Object.entries(report.nodes).filter(([, p]) => p === null).map(([node]) => node);
  const lines: string[] = [];
  if (skipped.length > 0) lines.push(`not asked (stopped, or no anti-entropy): ${skipped.join(', ')}`);
  if (!report.running) {
    lines.push('repair pass complete: every replica group was exchanged with every peer');
  } else {
    lines.push('still running when --timeout passed (it goes on in the server; run `ringkv repair` again to see it). Left:');
    for (const [node, p] of Object.entries(report.nodes)) if (p !== null && p.pending.length > 0) lines.push(`  ${node}: ${p.pending.join(' ')}  (group>peer; a peer that is down waits until it is back)`);
  }
  return `${lines.join('\n')}\n`;
}

/** `ringkv status` as a table. */
function formatStatus(base: string, status: ClusterStatus): string {
  const { n, w, r, strict, dcs } = status.replication;
  const running = status.members.filter((m) => m.running).length;
  const lines = [
    `ringkv at ${base}: ${status.members.length} members (${running} running), N=${n} W=${w} R=${r} ${strict ? 'strict' : 'sloppy'} quorum, replicas per DC ${JSON.stringify(dcs)}`,
    ...memberRows(status),
    ...storageFailures(status),
  ];
  return `${lines.join('\n')}\n`;
}

/** One row per member: id, dc/rack, running, ownership %, how many observers see it alive, hints held, keys. */
function memberRows(status: ClusterStatus): string[] {
  const hosts = status.members.some((m) => m.host !== undefined);
  const rows = [['member', ...(hosts ? ['process'] : []), 'dc/rack', 'running', 'storage', 'ownership', 'seen alive by', 'hints held', 'keys (est.)']];
  for (const m of status.members) {
    const observers = Object.values(m.seenBy);
    rows.push([
      m.id,
      ...(hosts ? [m.host ?? '?'] : []),
      `${m.dc}/${m.rack}`,
      m.running ? 'yes' : 'NO',
      m.storage === undefined || m.storage === null ? '?' : m.storage.state === 'ok' ? 'ok' : 'FAILED',
      `${(m.ownership * 100).toFixed(1)}%`,
      `${observers.filter((s) => s === 'alive').length}/${observers.length}`,
      m.hintsHeld === null ? '?' : String(m.hintsHeld),
      m.keysEstimate === null ? '?' : m.keysEstimate.toLocaleString('en-US'),
    ]);
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  return rows.map((row) => `  ${row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ')}`.trimEnd());
}

/** A line per member whose storage failed: the cause and what to do. */
function storageFailures(status: ClusterStatus): string[] {
  return status.members.flatMap((m) =>
    m.storage?.state === 'failed' ? [`  ${m.id}: storage FAILED (treated as down): ${m.storage.cause}; ${m.storage.advice}`] : [],
  );
}

/** `ringkv explain KEY` as readable text. */
function formatExplain(key: string, explained: ExplainJson): string {
  const lines = [
    `key ${JSON.stringify(key)} at ring position ${explained.position}`,
    `preference list: ${explained.preferenceList.join(', ')}`,
    `fallbacks (hints go here when an owner is down): ${explained.fallbacks.join(', ') || 'none'}`,
  ];
  for (const replica of explained.replicas) {
    if (replica.versions === null) {
      lines.push(`  ${replica.node}: could not be asked (${replica.running ? replica.error ?? 'no answer' : 'stopped'})`);
      continue;
    }
    lines.push(`  ${replica.node}: ${replica.versions.length === 0 ? 'holds nothing for this key' : `${replica.versions.length} version(s)`}`);
    for (const v of replica.versions) {
      lines.push(`    ${v.version.padEnd(12)} ${v.value === null ? '(tombstone)' : preview(v.value)}  written ${new Date(v.ts_ms).toISOString()}`);
    }
  }
  const holders = Object.entries(explained.hintsPending);
  if (holders.length === 0) lines.push('hints pending for its owners: none');
  for (const [holder, byOwner] of holders) {
    lines.push(`hints pending on ${holder}: ${Object.entries(byOwner).map(([owner, count]) => `${count} for ${owner}`).join(', ')}`);
  }
  const ae = explained.antiEntropy;
  if (ae === undefined) lines.push('anti-entropy: off');
  else {
    lines.push(`anti-entropy of its replica group ${ae.group}:`);
    for (const x of ae.exchanges) {
      const when = x.lastSuccessAgeMs === null ? 'never completed since the node started' : `last completed ${(x.lastSuccessAgeMs / 1000).toFixed(1)} s ago`;
      lines.push(`  ${x.node} with ${x.peer}: ${when}${x.lastOutcome !== null ? `, last outcome ${x.lastOutcome}` : ''}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A base64 value shown as quoted UTF-8 when it is printable text, else as base64; cut at VALUE_PREVIEW_CHARS. */
function preview(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  const text = bytes.toString('utf8');
  const printable = Buffer.from(text, 'utf8').equals(bytes) && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text);
  const shown = printable ? JSON.stringify(text) : `base64:${base64}`;
  return shown.length > VALUE_PREVIEW_CHARS ? `${shown.slice(0, VALUE_PREVIEW_CHARS)}... (${bytes.length} bytes)` : shown;
}

// --- bench -----------------------------------------------------------------

/** Run one benchmark area, or all in turn; the exit code is the first failure's. */
function runBench(area: string | undefined, quick: boolean): number {
  if (area !== undefined && !(BENCH_AREAS as readonly string[]).includes(area)) {
    process.stderr.write(`ringkv bench: unknown area '${area}'; choose one of ${BENCH_AREAS.join(', ')}, or none for all\n`);
    return 2;
  }
  let exitCode = 0;
  for (const each of area === undefined ? BENCH_AREAS : [area]) {
    const script = fileURLToPath(new URL(`../../bench/${each}/run.js`, import.meta.url));
    if (!existsSync(script)) {
      process.stderr.write(`ringkv bench: ${script} is missing; run 'npm run build' in a source checkout\n`);
      return 2;
    }
    process.stdout.write(`\n=== bench ${each}${quick ? ' --quick' : ''} ===\n`);
    const status = spawnSync(process.execPath, [script, ...(quick ? ['--quick'] : [])], { stdio: 'inherit' }).status ?? 1;
    if (status !== 0 && exitCode === 0) exitCode = status;
  }
  return exitCode;
}

// --- version -------------------------------------------------------------

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
