import { expect } from 'chai';
import { IndeterminateError, InvalidRequestError, OverloadedError, TimeoutError, UnavailableError } from '../../src/core/errors.js';
import type { LogRecord } from '../../src/runtime/logger.js';
import type { RequestObserver } from '../../src/server/request_observer.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { startRespServer, type RespServer, type RespServerOptions } from '../../src/server/resp_server.js';
import { batchedRequests } from '../../src/server/turn_batcher.js';
import { FakeCluster } from './fake_cluster.js';
import { parseExposition, sampleValue } from './prometheus_text.js';
import { errorText, RawClient, str, type Decoded } from './resp_test_client.js';

/** A server over a fresh fake cluster; closed after each test. */
async function serve(options: Partial<RespServerOptions> = {}, cluster = new FakeCluster()): Promise<{ server: RespServer; cluster: FakeCluster; client: RawClient }> {
  const server = await startRespServer({ cluster, port: 0, ...options });
  running.push(server);
  const client = await RawClient.connect(server.port);
  clients.push(client);
  return { server, cluster, client };
}
const running: RespServer[] = [];
const clients: RawClient[] = [];

async function connect(server: RespServer): Promise<RawClient> {
  const client = await RawClient.connect(server.port);
  clients.push(client);
  return client;
}

const ok = { simple: 'OK' };

describe('server/resp_server', () => {
  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await Promise.all(running.splice(0).map((server) => server.close()));
  });

  describe('commands', () => {
    it('PING, ECHO, SELECT, CLIENT, QUIT', async () => {
      const { client, server } = await serve();
      expect(await client.call('PING')).to.deep.equal({ simple: 'PONG' });
      expect(str(await client.call('ping', 'hi'))).to.equal('hi');
      expect(str(await client.call('ECHO', 'x y'))).to.equal('x y');
      expect(await client.call('SELECT', '0')).to.deep.equal(ok);
      expect(errorText(await client.call('SELECT', '1'))).to.match(/^ERR ringkv has only database 0/);
      expect(await client.call('CLIENT', 'GETNAME')).to.equal(null);
      expect(await client.call('CLIENT', 'SETNAME', 'worker-1')).to.deep.equal(ok);
      expect(str(await client.call('CLIENT', 'GETNAME'))).to.equal('worker-1');
      expect(errorText(await client.call('CLIENT', 'SETNAME', 'a b'))).to.match(/cannot contain spaces/);
      expect(await client.call('CLIENT', 'ID')).to.be.a('number');
      expect(await client.call('CLIENT', 'SETINFO', 'LIB-NAME', 'test')).to.deep.equal(ok);
      expect(errorText(await client.call('NOSUCH', 'a'))).to.equal("ERR unknown command 'NOSUCH', with args beginning with: 'a'");
      expect(errorText(await client.call('GET'))).to.equal("ERR wrong number of arguments for 'get' command");
      expect(server.connections).to.equal(1);
      expect(await client.call('QUIT')).to.deep.equal(ok);
      await client.closed();
    });

    it('GET, SET with NX/XX/GET, EX/PX refused, DEL, EXISTS, MGET, MSET', async () => {
      const { client } = await serve();
      expect(await client.call('GET', 'k')).to.equal(null);
      expect(await client.call('SET', 'k', 'v1')).to.deep.equal(ok);
      expect(str(await client.call('GET', 'k'))).to.equal('v1');
      expect(await client.call('SET', 'k', 'v2', 'NX')).to.equal(null);
      expect(await client.call('SET', 'k', 'v2', 'XX')).to.deep.equal(ok);
      expect(await client.call('SET', 'absent', 'v', 'XX')).to.equal(null);
      expect(await client.call('SET', 'fresh', 'v', 'NX')).to.deep.equal(ok);
      expect(str(await client.call('SET', 'k', 'v3', 'GET'))).to.equal('v2');
      expect(errorText(await client.call('SET', 'k', 'v', 'EX', '10'))).to.match(/^ERR ringkv has no key expiry/);
      expect(errorText(await client.call('SET', 'k', 'v', 'PX', '10'))).to.match(/^ERR ringkv has no key expiry/);
      expect(errorText(await client.call('SET', 'k', 'v', 'NX', 'XX'))).to.match(/^ERR syntax error/);
      expect(str(await client.call('GET', 'k'))).to.equal('v3');
      expect(await client.call('MSET', 'a', '1', 'b', '2', 'a', '3')).to.deep.equal(ok);
      expect(errorText(await client.call('MSET', 'a', '1', 'b'))).to.match(/wrong number of arguments/);
      expect((await client.call('MGET', 'a', 'b', 'zz')) as Decoded[]).to.deep.equal([Buffer.from('3'), Buffer.from('2'), null]);
      expect(await client.call('EXISTS', 'a', 'b', 'zz', 'a')).to.equal(3);
      expect(await client.call('DEL', 'a', 'zz', 'a')).to.equal(1);
      expect(await client.call('GET', 'a')).to.equal(null);
      expect(await client.call('EXISTS', 'a')).to.equal(0);
    });

    it('binary keys and values pass unchanged', async () => {
      const { client } = await serve();
      const key = Buffer.from([0, 255, 13, 10, 36]);
      const value = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      expect(await client.call('SET', key, value)).to.deep.equal(ok);
      expect(await client.call('GET', key)).to.deep.equal(value);
    });

    it('INFO, DBSIZE and COMMAND describe ringkv', async () => {
      const { client } = await serve();
      await client.call('MSET', 'a', '1', 'b', '2', 'c', '3');
      const info = str(await client.call('INFO'));
      for (const line of ['# Server', 'redis_version:', 'ringkv_version:', '# Clients', 'connected_clients:1', '# Keyspace', 'db0:keys=3', '# Replication', 'role:master', 'ringkv_replicas_per_key:3']) {
        expect(info).to.contain(line);
      }
      const clientsOnly = str(await client.call('INFO', 'clients'));
      expect(clientsOnly).to.contain('connected_clients').and.not.contain('# Server');
      expect(await client.call('DBSIZE')).to.equal(3);
      expect(((await client.call('CONFIG', 'GET', 'save')) as Decoded[]).map(str)).to.deep.equal(['save', '']);
      expect(((await client.call('CONFIG', 'GET', 'max*')) as Decoded[]).map(str)).to.deep.equal(['maxclients', '10000']);
      expect(errorText(await client.call('CONFIG', 'SET', 'save', ''))).to.match(/only CONFIG GET/);
      const count = await client.call('COMMAND', 'COUNT');
      expect(count).to.be.a('number').above(20);
      expect(((await client.call('COMMAND')) as Decoded[]).length).to.equal(count);
      const getInfo = ((await client.call('COMMAND', 'INFO', 'get', 'nosuch')) as Decoded[])[0] as Decoded[];
      expect(str(getInfo[0]!)).to.equal('get');
      expect(getInfo[1]).to.equal(2);
      const docs = (await client.call('COMMAND', 'DOCS', 'kv.get')) as Decoded[];
      expect(str(docs[0]!)).to.equal('kv.get');
      expect(((await client.call('COMMAND', 'LIST')) as Decoded[]).map(str)).to.include.members(['kv.put', 'mset', 'hello']);
    });

    it('HELLO 3 switches to RESP3 (maps, _ nulls); HELLO 4 is refused', async () => {
      const { client } = await serve();
      expect(errorText(await client.call('HELLO', '4'))).to.match(/^NOPROTO/);
      const hello = await client.call('HELLO', '3', 'SETNAME', 'r3');
      expect(hello).to.be.instanceOf(Map);
      expect((hello as Map<string, Decoded>).get('proto')).to.equal(3);
      expect(await client.call('GET', 'nothing')).to.equal(null);
      expect(str(await client.call('CLIENT', 'GETNAME'))).to.equal('r3');
    });
  });

  describe('ringkv commands and siblings', () => {
    it('KV.PUT without context makes siblings, KV.GET shows them, plain GET picks one deterministically, KV.PUT with context resolves', async () => {
      const { client } = await serve();
      await client.call('SET', 'k', 'first');
      expect(str(await client.call('KV.PUT', 'k', '', 'second'))).to.have.length.above(0);
      const [context, values, versions] = (await client.call('KV.GET', 'k')) as [Buffer, Buffer[], Buffer[]];
      expect(values.map(String).sort()).to.deep.equal(['first', 'second']);
      expect(versions).to.have.length(2);
      const plain = str(await client.call('GET', 'k'));
      for (let i = 0; i < 3; i++) expect(str(await client.call('GET', 'k'))).to.equal(plain);
      const greatest = versions.map(String).sort((a, b) => Number(a.split(':')[1]) - Number(b.split(':')[1])).at(-1)!;
      expect(plain).to.equal(String(values[versions.map(String).indexOf(greatest)]));
      const newContext = str(await client.call('KV.PUT', 'k', context.toString(), 'merged', 'W', '3'));
      const [after, afterValues] = (await client.call('KV.GET', 'k', 'CONSISTENCY', 'all')) as [Buffer, Buffer[]];
      expect(afterValues.map(String)).to.deep.equal(['merged']);
      expect(after.toString()).to.equal(newContext);
      const deleted = str(await client.call('KV.DEL', 'k', newContext));
      const [, gone] = (await client.call('KV.GET', 'k', 'R', '1')) as [Buffer, Buffer[]];
      expect(gone).to.deep.equal([]);
      expect(deleted).to.not.equal('');
    });

    it('plain GET answers the sibling written last by its coordinator\'s clock, not the one of the largest node id; each such read is counted', async () => {
      let now_ms = 1000;
      const cluster = new FakeCluster({ nodes: 3, n: 3, now_ms: () => now_ms });
      const metrics = new ServerMetrics({ defaultMetrics: false });
      const { client } = await serve({ observer: metrics }, cluster);
      const hidden = async (): Promise<number> => sampleValue(parseExposition(await metrics.text()), 'ringkv_get_hidden_siblings_total');
      const owners = (JSON.parse(str(await client.call('KV.EXPLAIN', 'k'))) as { preferenceList: string[] }).preferenceList;
      const [first, second] = [owners[0]!, owners[1]!];
      const [high, low] = first > second ? [first, second] : [second, first];
      /** KV.PUT without context (a sibling), coordinated by `node` (the fake coordinates at the first running owner). */
      const putAt = async (node: string, value: string, at_ms: number): Promise<void> => {
        now_ms = at_ms;
        if (node === second) await cluster.crash(first);
        expect(str(await client.call('KV.PUT', 'k', '', value))).to.not.equal('');
        await cluster.restart(first);
      };
      await putAt(high, 'older', 1000);
      expect(str(await client.call('GET', 'k')), 'one value: nothing hidden').to.equal('older');
      expect(await hidden()).to.equal(0);
      await putAt(low, 'newer', 2000);
      const [, values, versions] = (await client.call('KV.GET', 'k')) as [Buffer, Buffer[], Buffer[]];
      expect(values.map(String).sort(), 'KV.GET shows every sibling').to.deep.equal(['newer', 'older']);
      expect(versions.map(String).find((v) => v.startsWith(`${high}#`)), 'the older sibling has the larger node id').to.not.equal(undefined);
      expect(await hidden(), 'KV.GET hides nothing').to.equal(0);
      expect(str(await client.call('GET', 'k'))).to.equal('newer');
      expect((await client.call('MGET', 'k', 'absent')) as unknown[]).to.deep.equal([Buffer.from('newer'), null]);
      expect(await hidden(), 'GET and MGET each hid a sibling').to.equal(2);
      // Equal write times: the greater dot wins (actor id first).
      await putAt(low, 'tie-low', 3000);
      await putAt(high, 'tie-high', 3000);
      expect(str(await client.call('GET', 'k'))).to.equal('tie-high');
      expect(str(await client.call('SET', 'k', 'replaced', 'GET')), 'SET GET answers by the same rule').to.equal('tie-high');
      expect(await hidden()).to.equal(4);
    });

    it('KV.EXPLAIN and KV.STATUS answer JSON; bad options are usage errors', async () => {
      const { client } = await serve();
      await client.call('SET', 'k', 'v');
      const explained = JSON.parse(str(await client.call('KV.EXPLAIN', 'k'))) as { preferenceList: string[]; replicas: { versions: { value: { utf8: string } }[] }[] };
      expect(explained.preferenceList).to.have.length(3);
      expect(explained.replicas[0]!.versions[0]!.value).to.deep.equal({ utf8: 'v' });
      const status = JSON.parse(str(await client.call('KV.STATUS'))) as { members: unknown[] };
      expect(status.members).to.have.length(5);
      expect(errorText(await client.call('KV.GET', 'k', 'R'))).to.match(/^ERR syntax error/);
      expect(errorText(await client.call('KV.GET', 'k', 'CONSISTENCY', 'most'))).to.match(/unknown consistency level/);
      expect(errorText(await client.call('KV.GET', 'k', 'R', '9'))).to.match(/^ERR invalid request: a replica count of 9/);
      expect(errorText(await client.call('KV.PUT', 'k', '!!', 'v'))).to.match(/^ERR invalid request: a causal context/);
    });
  });

  describe('errors', () => {
    it("maps the error taxonomy to Redis's own prefixes and keeps serving; an unknown error is generic, its detail logged", async () => {
      const logged: LogRecord[] = [];
      const { client, cluster } = await serve({ log: (record) => logged.push(record) });
      const cases: [Error, RegExp][] = [
        [new UnavailableError(1, 2, '2 of 3 replicas are down'), /^CLUSTERDOWN only 1 of the 2 required replicas answered/],
        [new TimeoutError('get of k', 5000), /^TRYAGAIN get of k got no answer within 5000 ms/],
        [new OverloadedError('mailbox of n1/coordinator (4096 messages)'), /^BUSY mailbox of n1/],
        [new InvalidRequestError('value too large'), /^ERR invalid request: value too large/],
        [new IndeterminateError('write of key "k"', 'no answer within 1500 ms'), /^ERR write of key "k" may or may not have been applied \(no answer within 1500 ms\): read the key before retrying$/],
        [new Error('boom'), /^ERR internal error: the request may not have completed; if it was a write, read the key before retrying; the server log has the detail$/],
      ];
      for (const [failure, expected] of cases) {
        cluster.failWith(failure);
        expect(errorText(await client.call('GET', 'k'))).to.match(expected);
        expect(errorText(await client.call('SET', 'k', 'v'))).to.match(expected);
      }
      const internal = logged.filter((r) => r.level === 'error' && r.msg === 'internal error');
      expect(internal, 'each unknown error is logged').to.have.length(2);
      expect(String(internal[0]!.fields?.['error']), 'with its detail').to.match(/boom/);
      cluster.failWith(null);
      expect(await client.call('SET', 'k', 'v')).to.deep.equal(ok);
    });

    it('answers CLUSTERDOWN when too few replicas run', async () => {
      const { client, cluster } = await serve({}, new FakeCluster({ nodes: 3 }));
      await cluster.crash('n1');
      await cluster.crash('n2');
      expect(errorText(await client.call('SET', 'k', 'v'))).to.match(/^CLUSTERDOWN only 1 of the 2 required replicas/);
      expect(str(await client.call('KV.PUT', 'k', '', 'v', 'W', '1'))).to.not.equal('');
    });
  });

  describe('pipelining', () => {
    it('issues a pipeline concurrently and answers in request order', async () => {
      const cluster = new FakeCluster({ latencyMs: 30 });
      const { client } = await serve({}, cluster);
      const commands = Array.from({ length: 50 }, (_, i) => `*3\r\n$3\r\nSET\r\n$${`k${i}`.length}\r\nk${i}\r\n$${`v${i}`.length}\r\nv${i}\r\n`);
      const started = Date.now();
      client.send(commands.join(''));
      for (let i = 0; i < 50; i++) expect(await client.reply()).to.deep.equal(ok);
      // Sequential service would take 50 x (get + put) x 30 ms = 3 s.
      expect(cluster.maxInFlight).to.be.at.least(50);
      client.send(Array.from({ length: 50 }, (_, i) => `GET k${i}\r\n`).join(''));
      for (let i = 0; i < 50; i++) expect(str(await client.reply())).to.equal(`v${i}`);
      expect(Date.now() - started).to.be.below(2000);
    });

    it("batches a pipeline's writes through the cluster: one putMany for 100 SETs and an MSET, and no read before a plain SET", async () => {
      const fake = new FakeCluster({ latencyMs: 5 });
      const server = await startRespServer({ cluster: batchedRequests(fake), port: 0 });
      running.push(server);
      const client = await connect(server);
      const sets = Array.from({ length: 100 }, (_, i) => `SET key${i} value${i}\r\n`).join('');
      client.send(`${sets}MSET a 1 b 2 c 3\r\n`);
      for (let i = 0; i <= 100; i++) expect(await client.reply()).to.deep.equal(ok);
      expect(fake.calls.put, 'every write reached the cluster').to.equal(103);
      expect(fake.calls.get, 'a plain SET is one round trip').to.equal(0);
      expect(fake.putManyCalls, 'batched, not one call per write').to.be.at.most(3);
      client.send('MGET key0 key99 b\r\n');
      expect(((await client.reply()) as Buffer[]).map(String)).to.deep.equal(['value0', 'value99', '2']);
    });

    it('an overwrite SET supersedes siblings; SET NX still reads first and refuses an existing key', async () => {
      const fake = new FakeCluster();
      const { client } = await serve({}, fake);
      await fake.put('k', 'one');
      await fake.put('k', 'two');
      expect(await client.call('SET', 'k', 'three')).to.deep.equal(ok);
      expect((await fake.get('k')).values.map(String)).to.deep.equal(['three']);
      expect(await client.call('SET', 'k', 'four', 'NX')).to.equal(null);
      expect(str(await client.call('GET', 'k'))).to.equal('three');
    });

    it('keeps per-key order inside a pipeline: SET then GET of one key sees the write, two SETs land in order', async () => {
      const { client } = await serve({}, new FakeCluster({ latencyMs: 5 }));
      client.send('SET k a\r\nGET k\r\nSET k b\r\nSET k c\r\nKV.GET k\r\nDEL k\r\nGET k\r\n');
      expect(await client.reply()).to.deep.equal(ok);
      expect(str(await client.reply())).to.equal('a');
      expect(await client.reply()).to.deep.equal(ok);
      expect(await client.reply()).to.deep.equal(ok);
      const [, values] = (await client.reply()) as [Buffer, Buffer[]];
      expect(values.map(String)).to.deep.equal(['c']);
      expect(await client.reply()).to.equal(1);
      expect(await client.reply()).to.equal(null);
    });

    it('a session change in a pipeline applies to the commands after it', async () => {
      const { client } = await serve({ password: 'secret' });
      client.send('GET k\r\nAUTH secret\r\nGET k\r\n');
      expect(errorText(await client.reply())).to.equal('NOAUTH Authentication required.');
      expect(await client.reply()).to.deep.equal(ok);
      expect(await client.reply()).to.equal(null);
    });
  });

  describe('password mode', () => {
    it('allows only AUTH, HELLO, PING and QUIT before authentication, and small bulks', async () => {
      const { client, server } = await serve({ password: 'secret' });
      expect(await client.call('PING')).to.deep.equal({ simple: 'PONG' });
      expect(errorText(await client.call('GET', 'k'))).to.equal('NOAUTH Authentication required.');
      expect(errorText(await client.call('INFO'))).to.equal('NOAUTH Authentication required.');
      expect(errorText(await client.call('AUTH', 'wrong'))).to.match(/^WRONGPASS/);
      expect(errorText(await client.call('AUTH', 'admin', 'secret'))).to.match(/^WRONGPASS/);
      expect(errorText(await client.call('HELLO', '3'))).to.match(/^NOAUTH/);
      expect(await client.call('AUTH', 'default', 'secret')).to.deep.equal(ok);
      expect(await client.call('SET', 'k', 'x'.repeat(100_000))).to.deep.equal(ok);

      const other = await connect(server);
      const hello = (await other.call('HELLO', '3', 'AUTH', 'default', 'secret')) as Map<string, Decoded>;
      expect(hello.get('proto')).to.equal(3);
      expect((await other.call('GET', 'k')) as Buffer).to.have.length(100_000);

      const stranger = await connect(server);
      stranger.command('SET', 'k', 'x'.repeat(100_000));
      expect(errorText(await stranger.reply())).to.match(/^ERR Protocol error: bulk length 100000 over the limit of 16384/);
      await stranger.closed();
    });

    it('AUTH without a configured password is an error', async () => {
      const { client } = await serve();
      expect(errorText(await client.call('AUTH', 'x'))).to.match(/^ERR AUTH called without any password configured/);
    });
  });

  describe('malformed frames get a protocol error and the connection closes', () => {
    const cases: [string, string, RegExp][] = [
      ['negative bulk length', '*1\r\n$-5\r\n', /invalid bulk length -5/],
      ['negative array count', '*-2\r\n', /invalid multibulk count -2/],
      ['non-numeric length', '*1\r\n$abc\r\n', /invalid bulk length '\$abc'/],
      ['bulk over the limit', `*2\r\n$3\r\nSET\r\n$${1024 * 1024 + 1}\r\n`, /bulk length 1048577 over the limit of 1048576/],
      ['array over the limit', '*70000\r\n', /multibulk count 70000 over the limit of 65536/],
      ['endless length line', `*1\r\n$${'9'.repeat(40)}`, /bulk length line longer than 32 bytes/],
      ['wrong type byte in an array', '*1\r\n:12\r\n', /expected '\$', got ':'/],
      ['reply type byte at the start', '+OK\r\n', /expected '\*' or an inline command, got '\+'/],
      ['bulk without CRLF', '*1\r\n$4\r\nPINGxx', /bulk string not terminated by CRLF/],
      ['unbalanced quotes inline', 'SET "k v\r\n', /unbalanced quotes/],
      ['endless inline line', 'x'.repeat(70 * 1024), /inline command longer than 65536 bytes/],
    ];
    for (const [name, frame, expected] of cases) {
      it(name, async () => {
        const { client, server } = await serve({ limits: { bulkMaxBytes: 1024 * 1024 } });
        client.send(`PING\r\n${frame}`);
        expect(await client.reply()).to.deep.equal({ simple: 'PONG' });
        expect(errorText(await client.reply())).to.match(/^ERR Protocol error: /).and.match(expected);
        await client.closed();
        const fresh = await connect(server);
        expect(await fresh.call('PING')).to.deep.equal({ simple: 'PONG' });
        expect(server.stats().protocolErrors).to.equal(1);
      });
    }

    it('a request over the query buffer is refused', async () => {
      const { client, server } = await serve({ limits: { bulkMaxBytes: 64 * 1024, queryBufferMaxBytes: 128 * 1024 } });
      client.command('MSET', 'a', 'x'.repeat(60_000), 'b', 'x'.repeat(60_000), 'c', 'x'.repeat(60_000));
      expect(errorText(await client.reply())).to.match(/^ERR Protocol error: .*query buffer/);
      await client.closed();
      expect(server.stats().peakBufferedBytes).to.be.at.most(128 * 1024);
    });
  });

  describe('connections', () => {
    it('refuses clients beyond clientsMax', async () => {
      const { server, client } = await serve({ limits: { clientsMax: 2 } });
      const second = await connect(server);
      expect(await second.call('PING')).to.deep.equal({ simple: 'PONG' });
      const third = await connect(server);
      expect(errorText(await third.reply())).to.equal('ERR max number of clients reached');
      await third.closed();
      expect(server.stats().rejectedConnections).to.equal(1);
      expect(await client.call('PING')).to.deep.equal({ simple: 'PONG' });
    });

    it('closes idle connections, but not one waiting for a reply', async () => {
      const cluster = new FakeCluster({ latencyMs: 400 });
      const { client, server } = await serve({ limits: { idleTimeoutMs: 150 } }, cluster);
      const busy = await connect(server);
      busy.command('GET', 'k');
      await client.closed(2000);
      expect(await busy.reply()).to.equal(null);
    });

    it('close() finishes requests in flight and writes their replies, then closes', async () => {
      const cluster = new FakeCluster({ latencyMs: 100 });
      const { client, server } = await serve({}, cluster);
      client.send('SET a 1\r\nSET b 2\r\n');
      await new Promise((resolve) => setTimeout(resolve, 20));
      const closing = server.close();
      expect(await client.reply()).to.deep.equal(ok);
      expect(await client.reply()).to.deep.equal(ok);
      await closing;
      await client.closed();
      expect(String((await cluster.get('b')).values[0])).to.equal('2');
      expect(server.connections).to.equal(0);
    });

    it('stops reading a client that does not read its replies (backpressure)', async () => {
      const { server, client, cluster } = await serve({ limits: { replyPendingMaxBytes: 64 * 1024 } });
      await client.call('SET', 'big', 'x'.repeat(512 * 1024));
      client.socket.pause();
      // Sent in batches over time: what was read before the backlog built up is served, the rest waits unread.
      for (let batch = 0; batch < 10; batch++) {
        for (let i = 0; i < 20; i++) client.command('GET', 'big');
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      // 200 x 512 KB = 100 MB of replies asked for; the server stops serving once a few wait in its socket.
      const stats = server.stats();
      expect(stats.connections).to.equal(1);
      expect(cluster.calls.get - 1, 'reads issued while the client reads nothing').to.be.at.most(40);
      // At most the bound plus the replies of one batch read before the bound was crossed.
      expect(stats.pendingReplyBytesMax).to.be.below(64 * 1024 + 21 * (512 * 1024 + 16));
      console.log(`      gets issued while paused: ${cluster.calls.get - 1} of 200, reply bytes waiting: ${stats.pendingReplyBytesMax}`);
      client.socket.resume();
      for (let i = 0; i < 200; i++) expect(((await client.reply(10_000)) as Buffer).length).to.equal(512 * 1024);
    });

    it('reports every request to the observer', async () => {
      const seen: [string, string][] = [];
      const observer: RequestObserver = { request: (surface, command, seconds, outcome) => {
        expect(surface).to.equal('resp');
        expect(seconds).to.be.at.least(0);
        seen.push([command, outcome]);
      } };
      const { client } = await serve({ observer });
      await client.call('SET', 'k', 'v');
      await client.call('GET', 'k');
      await client.call('NOPE');
      await client.call('SET', 'k', 'v', 'EX', '1');
      expect(seen).to.deep.equal([['SET', 'ok'], ['GET', 'ok'], ['UNKNOWN', 'error'], ['SET', 'error']]);
    });
  });
});
