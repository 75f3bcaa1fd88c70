/**
 * `ringkv node add|decommission|remove|replace` and `ringkv transfers`
 * (issue 16), against a running server's HTTP API (POST /membership, GET
 * /transfers). A change shows its plan first, as Riak's `cluster plan`
 * does before `cluster commit`: which node receives which share of the
 * ring from whom, and the share of all copies that moves. It is committed
 * after a yes (asked on a terminal; `--yes` for scripts), then followed
 * until the new ring is committed, with the transfers' progress; `--no-wait`
 * returns once it started, and `ringkv transfers` shows it any time.
 */
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import type { ChangePlan, MembershipChange, NodeSpec, TransfersReport } from '../cluster/cluster_types.js';
import { DEFAULT_HTTP_URL, fetchJson } from './server_api.js';

/** How often a followed change is asked for its progress. */
const TRANSFERS_POLL_MS = 1000;

interface ServerFlags {
  http: string;
  password?: string;
  json?: boolean;
}

interface ChangeFlags extends ServerFlags {
  dryRun?: boolean;
  yes?: boolean;
  wait: boolean;
  timeout: string;
  dc?: string;
  rack?: string;
  weight?: string;
}

/** Add `node` and `transfers` to `program`. */
export function addMembershipCommands(program: Command): void {
  const node = program.command('node').description("change a running cluster's members: add, decommission, remove or replace a node (shows the plan, asks, then follows the transfers)");
  const common = (command: Command): Command =>
    command
      .option('--http <url>', "the server's HTTP address", DEFAULT_HTTP_URL)
      .option('--password <password>', "the server's --password (default: $RINGKV_PASSWORD)")
      .option('--dry-run', 'show the plan only')
      .option('--yes', 'commit without asking')
      .option('--no-wait', 'return once the change started (follow it with ringkv transfers)')
      .option('--timeout <seconds>', 'stop following after this long (the change goes on in the server)', '3600')
      .option('--json', 'print the plan and the final report as JSON');
  const newNode = (command: Command): Command => command.option('--dc <dc>', 'its data center (default: the first node\'s)').option('--rack <rack>', 'its rack (default: its id)').option('--weight <weight>', 'its share of the ring relative to 1');
  newNode(common(node.command('add').argument('<id>', 'the new node\'s id').description('a node joins: it takes tokens from the others and streams its ranges before it serves them'))).action(
    (id: string, flags: ChangeFlags) => run({ kind: 'join', node: spec(id, flags) }, flags),
  );
  common(node.command('decommission').argument('<id>').description('a live node leaves: it streams each of its ranges to the node taking it over, then stops')).action((id: string, flags: ChangeFlags) =>
    run({ kind: 'decommission', node: id }, flags),
  );
  common(node.command('remove').argument('<id>').description('a dead node is removed for good: its ranges are copied again from the surviving replicas')).action((id: string, flags: ChangeFlags) =>
    run({ kind: 'remove', node: id }, flags),
  );
  newNode(common(node.command('replace').argument('<dead>', 'the dead node').argument('<id>', 'the new node\'s id').description('a new node takes a dead node\'s tokens and is filled from the surviving replicas'))).action(
    (dead: string, id: string, flags: ChangeFlags) => run({ kind: 'replace', dead, node: spec(id, flags) }, flags),
  );

  program
    .command('transfers')
    .description('the membership change in progress: each transfer\'s target, sources, share of the ring, state, keys and bytes moved, rate and time left')
    .option('--http <url>', "the server's HTTP address", DEFAULT_HTTP_URL)
    .option('--password <password>', "the server's --password (default: $RINGKV_PASSWORD)")
    .option('--json', 'print the raw JSON')
    .action(async (flags: ServerFlags) => {
      const report = (await fetchJson(flags.http, '/transfers', flags.password)) as TransfersReport;
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatTransfers(report));
    });
}

function spec(id: string, flags: ChangeFlags): NodeSpec {
  const weight = flags.weight === undefined ? undefined : Number(flags.weight);
  if (weight !== undefined && !Number.isFinite(weight)) throw new Error(`--weight is a number, not ${JSON.stringify(flags.weight)}`);
  return { id, ...(flags.dc !== undefined ? { dc: flags.dc } : {}), ...(flags.rack !== undefined ? { rack: flags.rack } : {}), ...(weight !== undefined ? { weight } : {}) };
}

/** Plan, ask, commit, follow. */
async function run(change: MembershipChange, flags: ChangeFlags): Promise<void> {
  const timeout_s = Number(flags.timeout);
  if (!(Number.isFinite(timeout_s) && timeout_s > 0)) throw new Error(`--timeout is a number of seconds above 0, not ${JSON.stringify(flags.timeout)}`);
  const plan = (await fetchJson(flags.http, '/membership', flags.password, 'POST', { change, dryRun: true })) as ChangePlan;
  if (!flags.json) process.stdout.write(formatPlan(plan));
  if (flags.dryRun) {
    if (flags.json) process.stdout.write(`${JSON.stringify(plan, null, 2)}\n`);
    return;
  }
  if (!flags.yes) {
    if (!process.stdin.isTTY) throw new Error('not committed: pass --yes to commit without asking (stdin is not a terminal), or --dry-run to only plan');
    const answer = await ask('commit this change? [y/N] ');
    if (!/^y(es)?$/i.test(answer.trim())) {
      process.stdout.write('not committed\n');
      process.exitCode = 1;
      return;
    }
  }
  await fetchJson(flags.http, '/membership', flags.password, 'POST', { change, dryRun: false });
  if (!flags.json) process.stdout.write('committed: the change runs in the server\n');
  if (!flags.wait) return;
  const live = process.stdout.isTTY === true && flags.json !== true;
  const until = Date.now() + timeout_s * 1000;
  let report = (await fetchJson(flags.http, '/transfers', flags.password)) as TransfersReport;
  while (report.change !== null && Date.now() < until) {
    if (!flags.json) process.stdout.write(`${live ? '\r' : ''}${progressLine(report)}${live ? '' : '\n'}`);
    await new Promise((resolve) => setTimeout(resolve, TRANSFERS_POLL_MS));
    report = (await fetchJson(flags.http, '/transfers', flags.password)) as TransfersReport;
  }
  if (flags.json) process.stdout.write(`${JSON.stringify({ plan, transfers: report }, null, 2)}\n`);
  else if (report.change === null) process.stdout.write(`${live ? '\r' : ''}done: the new ring is committed on every node (ring version ${report.ringVersion})\n`);
  else {
    process.stdout.write(`${live ? '\n' : ''}still running when --timeout passed; it goes on in the server (ringkv transfers shows it)\n`);
    process.exitCode = 1;
  }
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function describeChange(change: MembershipChange): string {
  switch (change.kind) {
    case 'join':
      return `join ${change.node.id}`;
    case 'decommission':
      return `decommission ${change.node}`;
    case 'remove':
      return `remove ${change.node} (dead)`;
    case 'replace':
      return `replace ${change.dead} (dead) with ${change.node.id}`;
  }
}

/** The plan as the operator reads it before committing. */
export function formatPlan(plan: ChangePlan): string {
  const members = [...new Set([...Object.keys(plan.before), ...Object.keys(plan.after)])];
  const lines = [
    `plan: ${describeChange(plan.change)}`,
    `  moves ${percent(plan.movedShare)} of all copies of the data, in ${plan.transfers.length} transfer${plan.transfers.length === 1 ? '' : 's'}`,
    '  ownership (share of the ring):',
    ...members.map((m) => `    ${m.padEnd(12)} ${(plan.before[m] === undefined ? '-' : percent(plan.before[m]!)).padStart(6)} -> ${(plan.after[m] === undefined ? 'leaves' : percent(plan.after[m]!)).padStart(6)}`),
    '  transfers (target <- sources, first tried first):',
    ...plan.transfers.map((t) => `    ${t.target.padEnd(12)} <- ${t.sources.join(',').padEnd(20)} ${percent(t.share).padStart(6)} of the ring, ${t.ranges} range${t.ranges === 1 ? '' : 's'}`),
  ];
  return `${lines.join('\n')}\n`;
}

function progressLine(report: TransfersReport): string {
  const done = report.transfers.filter((t) => t.state === 'verified').length;
  const keys = report.transfers.reduce((sum, t) => sum + t.keysFetched, 0);
  const rate = report.transfers.reduce((sum, t) => sum + t.bytesPerSecond, 0);
  const eta = Math.max(0, ...report.transfers.map((t) => t.etaMs ?? 0));
  return `${report.phase}: ${done}/${report.transfers.length} transfers verified, ${keys.toLocaleString('en-US')} keys copied, ${bytes(rate)}/s${eta > 0 ? `, about ${Math.ceil(eta / 1000)} s left` : ''}`;
}

function bytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1 << 10 ? `${(n / (1 << 10)).toFixed(1)} KiB` : `${Math.round(n)} B`;
}

/** `ringkv transfers` as a table. */
export function formatTransfers(report: TransfersReport): string {
  if (report.change === null) return `no membership change in progress (ring version ${report.ringVersion})\n`;
  const rows = [['transfer', 'target', 'sources', 'share', 'state', 'pass', 'keys', 'bytes', 'rate', 'time left']];
  for (const t of report.transfers) {
    rows.push([
      t.id,
      t.target,
      t.sources.join(','),
      percent(t.share),
      t.state,
      String(t.pass),
      t.keysFetched.toLocaleString('en-US'),
      bytes(t.bytes),
      `${bytes(t.bytesPerSecond)}/s`,
      t.etaMs === null ? '-' : `${Math.ceil(t.etaMs / 1000)} s`,
    ]);
  }
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => row[col]!.length)));
  const errors = report.transfers.filter((t) => t.error !== undefined).map((t) => `  ${t.id}: ${t.error}`);
  return [
    `${describeChange(report.change)}: ${report.phase}, for ${((report.startedAgoMs ?? 0) / 1000).toFixed(1)} s (ring version ${report.ringVersion})`,
    ...rows.map((row) => `  ${row.map((cell, col) => cell.padEnd(widths[col]!)).join('  ')}`.trimEnd()),
    ...errors,
    '',
  ].join('\n');
}
