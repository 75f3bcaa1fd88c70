/**
 * MULTI/EXEC as real client libraries use it, against a real server
 * (`startServer` on free loopback ports over a cluster on worker threads):
 * ioredis `multi()` and redis-py `pipeline(transaction=True)`. A transaction
 * answers each command's reply, DISCARD applies nothing, and a command the
 * server refuses while queueing makes EXEC fail with EXECABORT and apply
 * nothing (before MULTI was implemented, the queued writes were applied
 * while the client was told its transaction failed).
 *
 * redis-py comes from Debian's python3-redis; without it the redis-py test
 * skips with a message.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer, type RingkvServer } from '../../src/server/start.js';

/**
 * A python3 that can import redis: the one on PATH, else Debian's (where
 * python3-redis installs it, when PATH starts with another python, e.g.
 * pyenv's); null, saying why the test skips, when there is none.
 */
function redisPython(): string | null {
  for (const interpreter of ['python3', '/usr/bin/python3']) {
    const probe = spawnSync(interpreter, ['-c', 'import redis'], { encoding: 'utf8' });
    if (probe.error === undefined && probe.status === 0) return interpreter;
  }
  console.log("      SKIPPED: redis-py is not installed (python3 -c 'import redis' failed; install Debian's python3-redis)");
  return null;
}

/** Run a python program with `args` (async, so the server on this event loop keeps serving); resolves with its stdout. */
function python(interpreter: string, program: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(interpreter, ['-c', program, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => (status === 0 ? resolve(stdout) : reject(new Error(`${interpreter} exited ${status}: ${stderr}`))));
  });
}

/**
 * redis-py's transactions: one that runs (results per command, a run-time
 * error in its slot with raise_on_error=False), one aborted by an unknown
 * command, and WATCH. Prints what it saw as JSON.
 */
const REDIS_PY_PROGRAM = `
import json, sys, redis
r = redis.Redis(host='127.0.0.1', port=int(sys.argv[1]), decode_responses=True)
out = {}
p = r.pipeline(transaction=True)
p.set('py:a', '1')
p.get('py:a')
p.mset({'py:b': '2', 'py:c': '3'})
p.mget('py:a', 'py:b', 'py:c')
p.delete('py:b')
p.exists('py:b')
out['results'] = p.execute()
p = r.pipeline(transaction=True)
p.set('py:d', '4')
p.set('py:e', '5', ex=10)
p.get('py:d')
out['slots'] = [('error: ' + str(x)) if isinstance(x, Exception) else x for x in p.execute(raise_on_error=False)]
p = r.pipeline(transaction=True)
p.set('py:f', '6')
p.execute_command('NOSUCH', 'x')
try:
    p.execute()
    out['aborted'] = None
except redis.ResponseError as e:
    out['aborted'] = str(e)
out['f'] = r.get('py:f')
p = r.pipeline(transaction=True)
try:
    p.watch('py:a')
    out['watch'] = None
except redis.ResponseError as e:
    out['watch'] = str(e)
p.reset()
print(json.dumps(out))
`;

describe('server/resp_multi_clients: MULTI/EXEC from client libraries', function () {
  this.timeout(120_000);
  let dir: string;
  let server: RingkvServer;
  let redis: Redis;

  before(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-multi-'));
    server = await startServer({ nodes: 3, dataDir: dir, respPort: 0, httpPort: 0 });
    redis = new Redis({ port: server.resp.port, host: '127.0.0.1', maxRetriesPerRequest: 0, lazyConnect: true });
    await redis.connect();
  });
  after(async () => {
    redis?.disconnect();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ioredis multi(): EXEC answers each command in order, a failing one with its own error', async () => {
    const results = (await redis.multi().set('io:a', '1').get('io:a').set('io:b', '2', 'EX', 5).mset('io:c', '3', 'io:d', '4').mget('io:a', 'io:b', 'io:c').del('io:d').exec())!;
    expect(results).to.have.length(6);
    expect(results[0]).to.deep.equal([null, 'OK']);
    expect(results[1]).to.deep.equal([null, '1']);
    expect(String(results[2]![0])).to.match(/ringkv has no key expiry/);
    expect(results.slice(3)).to.deep.equal([
      [null, 'OK'],
      [null, ['1', null, '3']],
      [null, 1],
    ]);
    expect(await redis.mget('io:a', 'io:b', 'io:c', 'io:d')).to.deep.equal(['1', null, '3', null]);
  });

  it('ioredis: DISCARD applies nothing', async () => {
    expect(await redis.multi({ pipeline: false })).to.equal('OK');
    expect(await redis.set('io:discarded', 'x')).to.equal('QUEUED');
    expect(await redis.del('io:a')).to.equal('QUEUED');
    expect(await redis.discard()).to.equal('OK');
    expect(await redis.get('io:discarded')).to.equal(null);
    expect(await redis.get('io:a')).to.equal('1');
  });

  it('ioredis multi() with an unknown command: EXECABORT, and nothing is applied', async () => {
    let failure: (Error & { previousErrors?: Error[] }) | null = null;
    await redis
      .multi()
      .set('io:aborted', 'x')
      .call('NOSUCH', 'arg')
      .exec()
      .catch((err: Error) => (failure = err));
    expect(failure).to.not.equal(null);
    expect(failure!.message).to.equal('EXECABORT Transaction discarded because of previous errors.');
    expect(failure!.previousErrors?.map((e) => e.message)).to.deep.equal(["ERR unknown command 'NOSUCH', with args beginning with: 'arg'"]);
    expect(await redis.get('io:aborted')).to.equal(null);
  });

  it('redis-py pipeline(transaction=True): results per command, EXECABORT applies nothing, WATCH refused', async function () {
    const interpreter = redisPython();
    if (interpreter === null) return this.skip();
    const seen = JSON.parse(await python(interpreter, REDIS_PY_PROGRAM, String(server.resp.port))) as Record<string, unknown>;
    expect(seen.results).to.deep.equal([true, '1', true, ['1', '2', '3'], 1, 0]);
    const slots = seen.slots as unknown[];
    expect(slots[0]).to.equal(true);
    expect(String(slots[1])).to.match(/^error: .*ringkv has no key expiry/);
    expect(slots[2]).to.equal('4');
    // redis-py raises the queueing error rather than EXECABORT (redis.io "EXECABORT error").
    expect(seen.aborted).to.match(/unknown command 'NOSUCH'/);
    expect(seen.f).to.equal(null);
    expect(seen.watch).to.match(/WATCH is not supported by ringkv/);
  });
});
