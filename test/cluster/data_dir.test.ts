/**
 * `openCluster` guards its data directory (issue 13, items 1-3), on real
 * worker threads and disks:
 * - a second open (in this process or another) is refused at once with
 *   the holder's pid, where before both ran and the second's writes
 *   vanished; a process that died leaves a lock the next open takes over;
 * - the directory records its shape: keys written by 5 nodes, then a start
 *   with 7 (or another N) is refused saying what differs, where before 10
 *   of 300 keys read nil; the same shape reads every key;
 * - a damaged record, and a directory from before records, are handled;
 * - bad options are all reported before anything is created.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataDirError, openCluster, type Cluster, type ClusterOptions } from '../../src/index.js';
import { CLUSTER_RECORD_FILE } from '../../src/cluster/cluster_record.js';

const INDEX_MODULE = fileURLToPath(new URL('../../src/index.js', import.meta.url));

async function refusedWith<E extends Error>(kind: new (...args: never[]) => E, options: ClusterOptions): Promise<E> {
  let cluster: Cluster | undefined;
  try {
    cluster = await openCluster(options);
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(kind);
    return err as E;
  }
  await cluster.close();
  throw new Error(`expected openCluster(${JSON.stringify(options)}) to be refused`);
}

/** A child process holding a cluster open on `dataDir` until killed; resolves once it is open. */
async function holdInChild(dataDir: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const script = `const { openCluster } = await import(${JSON.stringify(INDEX_MODULE)}); await openCluster({ nodes: 2, dataDir: ${JSON.stringify(dataDir)} }); console.log('open'); setInterval(() => {}, 1000);`;
  // A file, not --eval: worker threads inherit execArgv, and --input-type would break their module loads.
  const file = `${dataDir}.child.mjs`;
  await writeFile(file, script);
  const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  await new Promise<void>((done, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('open') && done());
    void exited.then(() => fail(new Error('the child exited before opening its cluster')));
  });
  return {
    pid: child.pid!,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
      await rm(file, { force: true });
    },
  };
}

describe('openCluster and its data directory', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-data-dir-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a second open of one directory at once, naming this process; after close a reopen works', async () => {
    const first = await openCluster({ nodes: 3, dataDir: dir });
    try {
      await first.put('k', 'v1');
      const err = await refusedWith(DataDirError, { nodes: 3, dataDir: dir });
      expect(err.reason).to.equal('in-use');
      expect(err.holderPid).to.equal(process.pid);
      expect(err.message).to.contain(`pid ${process.pid}`).and.contain('close it first');
      expect((await first.get('k')).values.map(String), 'the first cluster is untouched').to.deep.equal(['v1']);
    } finally {
      await first.close();
    }
    expect(await readdir(dir)).to.not.include('LOCK');
    const again = await openCluster({ nodes: 3, dataDir: dir });
    try {
      expect((await again.get('k')).values.map(String)).to.deep.equal(['v1']);
    } finally {
      await again.close();
    }
  });

  it('refuses an open while another process holds the directory, and takes it over once that process was killed', async () => {
    const holder = await holdInChild(dir);
    try {
      const err = await refusedWith(DataDirError, { nodes: 2, dataDir: dir });
      expect(err.holderPid).to.equal(holder.pid);
      expect(err.message).to.contain(`in use by process ${holder.pid}`);
    } finally {
      await holder.kill();
    }
    expect(await readdir(dir), 'SIGKILL left its lock').to.include('LOCK');
    const cluster = await openCluster({ nodes: 2, dataDir: dir });
    await cluster.close();
  });

  it('keys written by 5 nodes: a start with 7, or another N, is refused saying what differs; the same shape reads every key', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
    const five = await openCluster({ nodes: 5, dataDir: dir, replication: { n: 3 } });
    try {
      await Promise.all(keys.map((k) => five.put(k, `v-${k}`)));
    } finally {
      await five.close();
    }
    const seven = await refusedWith(ConfigError, { nodes: 7, dataDir: dir, replication: { n: 3 } });
    expect(seven.problems).to.deep.equal(['nodes: it was created for 5 nodes (n1..n5); 7 were asked (n1..n7)']);
    expect(seven.message).to.contain('openCluster({ nodes: 5, replication: { n: 3 } })');
    expect(existsSync(join(dir, 'n6')), 'nothing was created for the refused shape').to.equal(false);
    const otherN = await refusedWith(ConfigError, { nodes: 5, dataDir: dir, replication: { n: 2 } });
    expect(otherN.problems).to.deep.equal(['replicas per key (N): it was created with 3; 2 were asked']);
    // W and R are not part of the shape: another default is fine.
    const same = await openCluster({ nodes: 5, dataDir: dir, replication: { n: 3, w: 3, r: 1 } });
    try {
      const reads = await Promise.all(keys.map((k) => same.get(k, { r: 3 })));
      expect(reads.filter((r, i) => r.values.map(String).join() !== `v-${keys[i]}`).length, 'keys missing').to.equal(0);
    } finally {
      await same.close();
    }
  });

  it('refuses a damaged cluster record with advice, holding nothing; the restored record opens', async () => {
    const cluster = await openCluster({ nodes: 2, dataDir: dir });
    await cluster.close();
    const path = join(dir, CLUSTER_RECORD_FILE);
    const good = await readFile(path, 'utf8');
    await writeFile(path, good.replace('"n2"', '"n3"'));
    const err = await refusedWith(DataDirError, { nodes: 2, dataDir: dir });
    expect(err.reason).to.equal('corrupt-record');
    expect(err.message).to.contain(path).and.contain('checksum').and.contain('Restore the file from a backup');
    expect(await readdir(dir), 'the refused open released its lock').to.not.include('LOCK');
    await writeFile(path, good);
    await (await openCluster({ nodes: 2, dataDir: dir })).close();
  });

  it('a directory written before records: its node directories decide, and the first matching start records it', async () => {
    for (const id of ['n1', 'n2', 'n3']) await mkdir(join(dir, id, 'hints'), { recursive: true });
    const err = await refusedWith(ConfigError, { nodes: 4, dataDir: dir });
    expect(err.problems).to.deep.equal(['nodes: it holds the data of nodes n1, n2, n3; n1, n2, n3, n4 were asked']);
    expect(existsSync(join(dir, CLUSTER_RECORD_FILE))).to.equal(false);
    const cluster = await openCluster({ nodes: 3, dataDir: dir });
    await cluster.close();
    expect(existsSync(join(dir, CLUSTER_RECORD_FILE))).to.equal(true);
  });

  it('reports every problem of the options at once and creates nothing', async () => {
    const dataDir = join(dir, 'never');
    const err = await refusedWith(ConfigError, { nodes: 3, dataDir, replication: { n: 3, w: 4, r: 4 }, requestTimeoutMs: -5 });
    expect(err.problems).to.have.length(3);
    expect(err.message).to.contain('replication.w 4 is more than replication.n 3').and.contain('replication.r 4').and.contain('requestTimeoutMs');
    expect(existsSync(dataDir)).to.equal(false);
  });
});
