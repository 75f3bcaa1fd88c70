/**
 * One sync default (issue 12): `ringkv start`, `startServer` and
 * `openCluster` all default to 'batch' (an acknowledged write is fsynced on
 * W replicas), and `--help`, the receipts and the README say the same,
 * with periodic's loss window stated.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCluster } from '../src/cluster/cluster.js';
import { COMMITLOG_PERIODIC_SYNC_MS } from '../src/core/limits.js';
import { SYNC_MODE_DEFAULT } from '../src/cluster/node_plan.js';
import { startServer } from '../src/server/start.js';

const CLI = fileURLToPath(new URL('../src/cli/cli.js', import.meta.url));
const README = fileURLToPath(new URL('../../README.md', import.meta.url));

describe('cli and the one sync default', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-sync-default-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the default is batch', () => {
    expect(SYNC_MODE_DEFAULT).to.equal('batch');
  });

  it('ringkv start --help says batch is the default and states periodic\'s loss window', () => {
    const help = spawnSync(process.execPath, [CLI, 'start', '--help'], { encoding: 'utf8' });
    expect(help.status).to.equal(0);
    const text = help.stdout.replace(/\s+/g, ' ');
    expect(text).to.contain('--sync <mode>');
    expect(text).to.match(/default: "batch"/);
    expect(text).to.contain(`fsync every ${COMMITLOG_PERIODIC_SYNC_MS} ms`);
    expect(text).to.contain(`within ${COMMITLOG_PERIODIC_SYNC_MS} ms of a crash of every replica holding it is lost`);
  });

  it('openCluster without syncMode runs batch (the receipt says so); periodic only when asked', async () => {
    for (const [syncMode, expected] of [[undefined, 'batch'], ['periodic', 'periodic']] as const) {
      const cluster = await openCluster({ nodes: 1, dataDir: join(dir, expected), ...(syncMode ? { syncMode } : {}) });
      try {
        const written = await cluster.put('k', 'v');
        expect(written.receipt.sync, `syncMode ${String(syncMode)}`).to.equal(expected);
      } finally {
        await cluster.close();
      }
    }
  });

  it('startServer without syncMode runs batch', async () => {
    const server = await startServer({ nodes: 1, dataDir: dir, respPort: 0, httpPort: 0 });
    try {
      expect((await server.cluster.put('k', 'v')).receipt.sync).to.equal('batch');
    } finally {
      await server.close();
    }
  });

  it('the README says the same: batch by default, periodic opt-in with its window', () => {
    const readme = readFileSync(README, 'utf8').replace(/\s+/g, ' ');
    expect(readme).to.contain('[--sync batch|periodic]');
    expect(readme).to.match(/default is `batch`/);
    expect(readme).to.contain(`every ${COMMITLOG_PERIODIC_SYNC_MS} ms`);
    expect(readme, 'nothing calls periodic the default').to.not.match(/default( is|:)? ['`"]?periodic|periodic['`"]? \(default/i);
    expect(readme).to.match(/`periodic` \(opt-in/);
  });
});
