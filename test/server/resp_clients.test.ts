import { expect } from 'chai';
import { spawnSync, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { startRespServer, type RespServer } from '../../src/server/resp_server.js';
import { FakeCluster } from './fake_cluster.js';

/** True when `tool` runs; otherwise the tests using it skip with a visible message. */
function hasTool(tool: string): boolean {
  const probe = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    console.log(`      SKIPPED: ${tool} is not on PATH (install Debian's redis-tools)`);
    return false;
  }
  return true;
}

/** Run a tool to completion (async, so the server on this event loop keeps serving). */
function run(tool: string, args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

describe('server/resp_clients', () => {
  let server: RespServer;
  let cluster: FakeCluster;
  beforeEach(async () => {
    cluster = new FakeCluster();
    server = await startRespServer({ cluster, port: 0 });
  });
  afterEach(async () => {
    await server.close();
  });

  describe('ioredis', () => {
    it('connects (INFO ready check, CLIENT SETINFO), reads, writes and pipelines', async () => {
      const redis = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, connectionName: 'ioredis-test' });
      try {
        await redis.connect();
        expect(await redis.set('k', 'v')).to.equal('OK');
        expect(await redis.get('k')).to.equal('v');
        expect(await redis.client('GETNAME')).to.equal('ioredis-test');
        const pipeline = redis.pipeline();
        for (let i = 0; i < 100; i++) pipeline.set(`p${i}`, `${i}`);
        for (let i = 0; i < 100; i++) pipeline.get(`p${i}`);
        const results = (await pipeline.exec())!;
        expect(results.slice(0, 100).every(([err, r]) => err === null && r === 'OK')).to.equal(true);
        expect(results.slice(100).map(([, r]) => r)).to.deep.equal(Array.from({ length: 100 }, (_, i) => `${i}`));
        expect(await redis.mget('p1', 'p2', 'none')).to.deep.equal(['1', '2', null]);
        expect(await redis.del('p1', 'p2')).to.equal(2);
        expect(await redis.exists('p1', 'p3')).to.equal(1);
        let refused: unknown = null;
        await redis.set('k', 'v', 'EX', 10).catch((e: unknown) => (refused = e));
        expect(String(refused)).to.match(/ringkv has no key expiry/);
      } finally {
        redis.disconnect();
      }
    });

    it('serves concurrent clients and binary values', async () => {
      const clients = Array.from({ length: 8 }, () => new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 }));
      try {
        await Promise.all(
          clients.map(async (redis, c) => {
            for (let i = 0; i < 25; i++) {
              const value = Buffer.from(Array.from({ length: 64 + i }, (_, j) => (j * 7 + c + i) % 256));
              await redis.set(Buffer.from([c, i, 0, 255]), value);
              expect(await redis.getBuffer(Buffer.from([c, i, 0, 255]))).to.deep.equal(value);
            }
          }),
        );
        expect(server.connections).to.equal(8);
      } finally {
        for (const redis of clients) redis.disconnect();
      }
    });

    it('siblings through KV.PUT / KV.GET with call()', async () => {
      const redis = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
      try {
        await redis.call('KV.PUT', 's', '', 'a');
        await redis.call('KV.PUT', 's', '', 'b');
        const [context, values, versions] = (await redis.call('KV.GET', 's')) as [string, string[], string[]];
        expect(values.sort()).to.deep.equal(['a', 'b']);
        expect(versions).to.have.length(2);
        await redis.call('KV.PUT', 's', context, 'ab');
        expect(((await redis.call('KV.GET', 's')) as [string, string[]])[1]).to.deep.equal(['ab']);
      } finally {
        redis.disconnect();
      }
    });
  });

  describe('redis-cli', () => {
    it('runs commands and reports errors', async function () {
      if (!hasTool('redis-cli')) return this.skip();
      const cli = (...args: string[]) => run('redis-cli', ['-h', '127.0.0.1', '-p', String(server.port), ...args]);
      expect((await cli('PING')).stdout.trim()).to.equal('PONG');
      expect((await cli('SET', 'cli', 'hello world')).stdout.trim()).to.equal('OK');
      expect((await cli('GET', 'cli')).stdout.trim()).to.equal('hello world');
      expect((await cli('DBSIZE')).stdout.trim()).to.equal('1');
      expect((await cli('INFO', 'replication')).stdout).to.contain('ringkv_replicas_per_key:3');
      expect((await cli('SET', 'cli', 'x', 'EX', '5')).stdout).to.contain('ringkv has no key expiry');
      const kvGet = (await cli('KV.GET', 'cli')).stdout.trim().split('\n');
      expect(kvGet[1]).to.equal('hello world');
      expect(Number((await cli('COMMAND', 'COUNT')).stdout.trim())).to.be.above(20);
    });

    it('works interactively (COMMAND DOCS at start-up, pipe of commands)', async function () {
      if (!hasTool('redis-cli')) return this.skip();
      const result = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(server.port)], 'SET a 1\nGET a\nKV.STATUS\nQUIT\n');
      expect(result.status).to.equal(0);
      expect(result.stdout).to.contain('OK').and.contain('1').and.contain('"members"');
      expect(result.stderr).to.equal('');
    });
  });

  describe('redis-benchmark', () => {
    it('set,get,mset with -P 16 run without errors', async function () {
      if (!hasTool('redis-benchmark')) return this.skip();
      const result = await run('redis-benchmark', ['-h', '127.0.0.1', '-p', String(server.port), '-t', 'set,get,mset', '-P', '16', '-n', '2000', '-q']);
      expect(result.status).to.equal(0);
      const output = result.stdout + result.stderr;
      for (const test of ['SET', 'GET', 'MSET']) expect(output).to.match(new RegExp(`${test}.*: [0-9.]+ requests per second`));
      expect(output).to.not.match(/error|ERR|WARNING/i);
      console.log(output.trim().split('\n').map((line) => `      ${line.split('\r').at(-1)}`).join('\n'));
    });
  });
});
