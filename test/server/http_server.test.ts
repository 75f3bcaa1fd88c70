/**
 * The HTTP API against a real server on a loopback port (port 0), driven
 * with global fetch and raw sockets, over the in-memory FakeCluster (real
 * sibling semantics): binary round trips, siblings and their resolution,
 * receipts, query validation, error mapping, body and header limits, a slow
 * client cut by the headers timeout, /status, /explain, /metrics, and a
 * graceful close that finishes an in-flight request.
 */
import { expect } from 'chai';
import { connect, type Socket } from 'node:net';
import { IndeterminateError, InvalidRequestError, OverloadedError, TimeoutError, UnavailableError } from '../../src/core/errors.js';
import type { LogRecord } from '../../src/runtime/logger.js';
import { startHttpServer, type HttpServerHandle } from '../../src/server/http_server.js';
import { INTERNAL_ERROR_MESSAGE } from '../../src/server/http_exchange.js';
import { ServerMetrics } from '../../src/server/metrics.js';
import { FakeCluster } from './fake_cluster.js';
import { parseExposition, sampleValue } from './prometheus_text.js';

/** Small limits so the limit tests run fast. */
const BODY_MAX_BYTES = 64 * 1024;
const HEADERS_TIMEOUT_MS = 400;

/** Every byte, so keys and values are binary in the full sense. */
const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** `/kv/<key>` with every byte of `key` percent-encoded. */
function kvPath(key: Buffer): string {
  return '/kv/' + [...key].map((b) => '%' + b.toString(16).padStart(2, '0')).join('');
}

describe('server/http_server', function () {
  this.timeout(10_000);
  let cluster: FakeCluster;
  let metrics: ServerMetrics;
  let server: HttpServerHandle;
  let logged: LogRecord[];
  const url = (path: string): string => `http://127.0.0.1:${server.port}${path}`;

  beforeEach(async () => {
    cluster = new FakeCluster({ nodes: 5, n: 3 });
    metrics = new ServerMetrics({ cluster, defaultMetrics: false, statusCacheMs: 0 });
    logged = [];
    server = await startHttpServer({
      cluster,
      port: 0,
      metrics,
      limits: { bodyMaxBytes: BODY_MAX_BYTES, headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 5_000, closeGraceMs: 2_000 },
      log: (record) => logged.push(record),
    });
  });

  afterEach(async () => {
    await server.close();
  });

  it('round-trips binary keys and values: PUT 204, GET 200 raw, DELETE 204, then GET 404', async () => {
    const key = Buffer.concat([Buffer.from('k/'), ALL_BYTES.subarray(0, 40)]);
    const value = Buffer.concat([ALL_BYTES, ALL_BYTES.subarray(0, 7)]);
    const put = await fetch(url(kvPath(key)), { method: 'PUT', body: value });
    expect(put.status).to.equal(204);
    const putContext = put.headers.get('x-ringkv-context');
    expect(putContext).to.match(/^[A-Za-z0-9_-]+$/);
    const receipt = JSON.parse(put.headers.get('x-ringkv-receipt') ?? 'null') as { op: string; acks: unknown[]; required: string; version: string };
    expect(receipt.op).to.equal('write');
    expect(receipt.required).to.equal('quorum (2)');
    expect(receipt.acks).to.have.length(3);
    expect(put.headers.get('x-ringkv-version')).to.equal(receipt.version);

    const get = await fetch(url(kvPath(key)));
    expect(get.status).to.equal(200);
    expect(get.headers.get('content-type')).to.equal('application/octet-stream');
    expect(Buffer.from(await get.arrayBuffer()).equals(value)).to.equal(true);
    expect(get.headers.get('x-ringkv-context')).to.equal(putContext);
    expect(get.headers.get('x-ringkv-version')).to.equal(receipt.version);
    expect(JSON.parse(get.headers.get('x-ringkv-receipt') ?? 'null')).to.include({ op: 'read' });
    // The fake stored the decoded bytes, not the escapes.
    expect((await cluster.get(key)).values[0]?.equals(value)).to.equal(true);

    const del = await fetch(url(kvPath(key)), { method: 'DELETE', headers: { 'x-ringkv-context': putContext ?? '' } });
    expect(del.status).to.equal(204);
    const gone = await fetch(url(kvPath(key)));
    expect(gone.status).to.equal(404);
    expect(await gone.text()).to.equal('');
    // The tombstone's context still comes back, so the next write supersedes it.
    expect(gone.headers.get('x-ringkv-context')).to.match(/^[A-Za-z0-9_-]+$/);
    expect((await fetch(url('/kv/never-written'))).status).to.equal(404);
  });

  it('answers siblings with 300 and a JSON list; a PUT with their context resolves them to 200', async () => {
    const path = kvPath(Buffer.from('cart'));
    // Two writers that read the same version and each write with that read's context are concurrent.
    expect((await fetch(url(path), { method: 'PUT', body: 'first' })).status).to.equal(204);
    const before = (await fetch(url(path))).headers.get('x-ringkv-context') ?? '';
    expect(before).to.not.equal('');
    expect((await fetch(url(path), { method: 'PUT', body: Buffer.from([0, 1, 2]), headers: { 'x-ringkv-context': before } })).status).to.equal(204);
    expect((await fetch(url(path), { method: 'PUT', body: 'second writer', headers: { 'x-ringkv-context': before } })).status).to.equal(204);
    const conflicted = await fetch(url(path));
    expect(conflicted.status).to.equal(300);
    const context = conflicted.headers.get('x-ringkv-context') ?? '';
    const body = (await conflicted.json()) as { siblings: { value: string; version: string }[]; context: string };
    expect(body.context).to.equal(context);
    const values = body.siblings.map((s) => Buffer.from(s.value, 'base64').toString('hex')).sort();
    expect(values).to.deep.equal([Buffer.from([0, 1, 2]).toString('hex'), Buffer.from('second writer').toString('hex')].sort());
    for (const sibling of body.siblings) expect(sibling.version).to.match(/^.+:\d+$/);

    const resolved = await fetch(url(path), { method: 'PUT', body: 'merged', headers: { 'x-ringkv-context': context } });
    expect(resolved.status).to.equal(204);
    const after = await fetch(url(path));
    expect(after.status).to.equal(200);
    expect(await after.text()).to.equal('merged');
  });

  it('passes r, w, consistency and strict through, and refuses bad query parameters with 400', async () => {
    const path = kvPath(Buffer.from('q'));
    expect((await fetch(url(`${path}?w=3&strict=true`), { method: 'PUT', body: 'v' })).status).to.equal(204);
    const one = await fetch(url(`${path}?consistency=one`));
    expect(one.status).to.equal(200);
    expect(JSON.parse(one.headers.get('x-ringkv-receipt') ?? '{}')).to.include({ required: 'one (1)' });
    expect(JSON.parse((await fetch(url(`${path}?r=all`))).headers.get('x-ringkv-receipt') ?? '{}')).to.include({ required: 'all (3)' });

    const bad: [string, RegExp][] = [
      [`${path}?r=0`, /r="0" is neither a replica count/],
      [`${path}?r=two`, /one, quorum, all, local_quorum, each_quorum/],
      [`${path}?r=1.5`, /neither a replica count/],
      [`${path}?consistency=most`, /consistency="most" is not a level/],
      [`${path}?R=2`, /unknown query parameter "R"/],
      [`${path}?r=1&consistency=one`, /either r or consistency/],
      [`${path}?r=1&r=2`, /given 2 times/],
      [`${path}?r=4`, /outside 1\.\.3/], // well formed, refused by the cluster
      ['/kv/bad%zzescape', /bad percent escape/],
      ['/kv/a/b', /percent-encode "\/" inside a key as %2F/],
      ['/status?verbose=1', /this route takes none/],
    ];
    for (const [path, message] of bad) {
      const res = await fetch(url(path));
      expect(res.status, path).to.equal(400);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error, path).to.equal('INVALID_REQUEST');
      expect(body.message, path).to.match(message);
    }
    const badPut = await fetch(url(`${path}?strict=maybe`), { method: 'PUT', body: 'v' });
    expect(badPut.status).to.equal(400);
    expect(((await badPut.json()) as { message: string }).message).to.match(/strict="maybe" is not a boolean/);
    expect((await fetch(url(`${path}?w=each_quorum`), { method: 'DELETE' })).status).to.equal(204);
  });

  it('maps the error taxonomy to status codes with a JSON body', async () => {
    const cases: [Error, number, string][] = [
      [new InvalidRequestError('nope'), 400, 'INVALID_REQUEST'],
      [new UnavailableError(1, 2), 503, 'UNAVAILABLE'],
      [new TimeoutError('ask to n2/replica', 1000), 504, 'TIMEOUT'],
      [new OverloadedError('mailbox of n1/coordinator (4096 messages)'), 503, 'OVERLOADED'],
      [new IndeterminateError('write of key "k"', 'no answer within 1500 ms'), 500, 'INDETERMINATE'],
      [new Error('a bug'), 500, 'INTERNAL'],
    ];
    for (const [error, status, code] of cases) {
      cluster.failWith(error);
      for (const [method, body] of [['GET', undefined], ['PUT', 'v'], ['DELETE', undefined]] as const) {
        const res = await fetch(url('/kv/k'), { method, body });
        expect(res.status, `${method} ${code}`).to.equal(status);
        // An error outside the taxonomy is not sent as is (no raw "a bug"): a generic message with advice; the detail is logged.
        expect(await res.json()).to.deep.equal({ error: code, message: code === 'INTERNAL' ? INTERNAL_ERROR_MESSAGE : error.message });
        expect(res.headers.get('retry-after')).to.equal(code === 'OVERLOADED' ? '1' : null);
      }
    }
    const internal = logged.filter((r) => r.level === 'error' && r.msg === 'internal error');
    expect(internal).to.have.length(3);
    expect(String(internal[0]!.fields?.['error']), 'the log has the detail').to.match(/a bug/);
    cluster.failWith(null);
    const unknown = await fetch(url('/nowhere'));
    expect(unknown.status).to.equal(404);
    expect(((await unknown.json()) as { error: string }).error).to.equal('NOT_FOUND');
    const wrongMethod = await fetch(url('/status'), { method: 'POST', body: 'x' });
    expect(wrongMethod.status).to.equal(405);
    expect(wrongMethod.headers.get('allow')).to.equal('GET');
    // A crashed majority is a real UnavailableError from the fake, not a switch.
    await cluster.crash('n1');
    await cluster.crash('n2');
    await cluster.crash('n3');
    await cluster.crash('n4');
    expect((await fetch(url('/kv/k'))).status).to.equal(503);
  });

  it('refuses a body over the limit with 413, declared or chunked, and keeps serving', async () => {
    const exact = await fetch(url('/kv/exact'), { method: 'PUT', body: Buffer.alloc(BODY_MAX_BYTES, 7) });
    expect(exact.status).to.equal(204);
    const declared = await fetch(url('/kv/big'), { method: 'PUT', body: Buffer.alloc(BODY_MAX_BYTES + 1) });
    expect(declared.status).to.equal(413);
    expect(((await declared.json()) as { error: string }).error).to.equal('PAYLOAD_TOO_LARGE');
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 8; i++) yield Buffer.alloc(16 * 1024, i);
    };
    const chunked = await fetch(url('/kv/big'), { method: 'PUT', body: ReadableStream.from(chunks()), duplex: 'half' } as RequestInit);
    expect(chunked.status).to.equal(413);
    expect(cluster.calls.put).to.equal(1);
    expect((await fetch(url('/kv/big'))).status).to.equal(404);
  });

  it('answers a declared oversize body at once and closes without reading the rest', async () => {
    const socket = await openSocket(server.port);
    socket.write(`PUT /kv/huge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${1024 * 1024 * 1024}\r\n\r\n`);
    socket.write(Buffer.alloc(1024));
    const answer = await readUntilClosed(socket, 5_000);
    expect(answer.text).to.match(/^HTTP\/1\.1 413 /);
    expect(answer.text).to.match(/connection: close/i);
    expect(answer.closedAfter_ms).to.be.below(4_000);
  });

  it('closes a slow client that does not finish its headers within the headers timeout', async () => {
    const socket = await openSocket(server.port);
    socket.write('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ');
    const answer = await readUntilClosed(socket, 5_000);
    expect(answer.closedAfter_ms).to.be.at.least(HEADERS_TIMEOUT_MS - 50);
    expect(answer.closedAfter_ms).to.be.below(HEADERS_TIMEOUT_MS + 1_500);
    expect(answer.text).to.match(/^(HTTP\/1\.1 408 |$)/);
    expect((await fetch(url('/status'))).status).to.equal(200);
  });

  it('refuses headers over the header limit with 431', async () => {
    const res = await fetch(url('/status'), { headers: { 'x-big': 'a'.repeat(20 * 1024) } });
    expect(res.status).to.equal(431);
  });

  it('serves /status and /explain/:key as JSON, bytes as base64', async () => {
    const key = Buffer.from([0xff, 0x00, 0x41]);
    await fetch(url(kvPath(key)), { method: 'PUT', body: Buffer.from([9, 8, 7]) });
    const status = await fetch(url('/status'));
    expect(status.status).to.equal(200);
    const body = (await status.json()) as { members: { id: string; running: boolean }[]; replication: { n: number } };
    expect(body.members.map((m) => m.id)).to.deep.equal(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(body.replication.n).to.equal(3);

    const explain = await fetch(url(`/explain/${kvPath(key).slice('/kv/'.length)}`));
    expect(explain.status).to.equal(200);
    const explained = (await explain.json()) as { key: string; preferenceList: string[]; replicas: { node: string; versions: { value: string | null }[] }[] };
    expect(Buffer.from(explained.key, 'base64').equals(key)).to.equal(true);
    expect(explained.preferenceList).to.have.length(3);
    expect(explained.replicas).to.have.length(3);
    for (const replica of explained.replicas) expect(replica.versions.map((v) => v.value)).to.deep.equal([Buffer.from([9, 8, 7]).toString('base64')]);
  });

  it('exposes every request in /metrics as valid Prometheus text', async () => {
    await fetch(url('/kv/m'), { method: 'PUT', body: 'v' });
    await fetch(url('/kv/m'));
    await fetch(url('/kv/m'));
    await fetch(url('/kv/m?r=zero'));
    await fetch(url('/nowhere'));
    const res = await fetch(url('/metrics'));
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal(metrics.contentType);
    const text = await res.text();
    const exp = parseExposition(text);
    expect(sampleValue(exp, 'ringkv_requests_total', { surface: 'http', command: 'kv.put', outcome: 'ok' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_requests_total', { surface: 'http', command: 'kv.get', outcome: 'ok' })).to.equal(2);
    expect(sampleValue(exp, 'ringkv_requests_total', { surface: 'http', command: 'kv.get', outcome: 'error' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_requests_total', { surface: 'http', command: 'unrouted', outcome: 'error' })).to.equal(1);
    expect(sampleValue(exp, 'ringkv_request_duration_seconds_count', { surface: 'http', command: 'kv.get' })).to.equal(3);
    expect(sampleValue(exp, 'ringkv_cluster_members')).to.equal(5);
    expect(text).to.include('# TYPE ringkv_requests_total counter\n');
    expect(text).to.include('\nringkv_requests_total{surface="http",command="kv.put",outcome="ok"} 1\n');
    // The scrape itself is reported once it has been served.
    const again = parseExposition(await (await fetch(url('/metrics'))).text());
    expect(sampleValue(again, 'ringkv_requests_total', { surface: 'http', command: 'metrics', outcome: 'ok' })).to.equal(1);
  });

  it('closes gracefully: stops accepting, finishes the in-flight request, then resolves', async () => {
    await fetch(url('/kv/slow'), { method: 'PUT', body: 'kept' });
    cluster.latencyMs = 300;
    const inFlight = fetch(url('/kv/slow'));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closeStarted_ms = performance.now();
    const closed = server.close().then(() => ({ after_ms: performance.now() - closeStarted_ms, clusterBusy: cluster.inFlight }));
    // While the in-flight request is still being served, new connections are refused.
    const connectError = await openSocket(server.port).then(
      (socket) => (socket.destroy(), null),
      (err: NodeJS.ErrnoException) => err.code,
    );
    expect(connectError).to.equal('ECONNREFUSED');
    const res = await inFlight;
    expect(res.status).to.equal(200);
    expect(res.headers.get('connection')).to.equal('close');
    expect(await res.text()).to.equal('kept');
    // Close waited for the cluster's answer (300 ms after the request began, ~250 ms after close) to be sent.
    const { after_ms, clusterBusy } = await closed;
    expect(clusterBusy).to.equal(0);
    expect(after_ms).to.be.at.least(200);
  });
});

describe('server/http_server connection limits', function () {
  this.timeout(10_000);

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const server = await startHttpServer({ cluster: new FakeCluster(), port: 0, limits: { keepAliveTimeoutMs: 300 } });
    try {
      const socket = await openSocket(server.port);
      socket.write('GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      const answer = await readUntilClosed(socket, 5_000);
      expect(answer.text).to.match(/^HTTP\/1\.1 200 /);
      // node:http keeps the socket about 1 s past the timeout it advertises, so clients close first (no reuse race).
      expect(answer.closedAfter_ms).to.be.at.least(250);
      expect(answer.closedAfter_ms).to.be.below(3_000);
    } finally {
      await server.close();
    }
  });

  it('drops connections beyond the connection limit and serves again once one closes', async () => {
    const server = await startHttpServer({ cluster: new FakeCluster(), port: 0, limits: { connectionsMax: 2 } });
    try {
      const held = [await openSocket(server.port), await openSocket(server.port)];
      const extra = await openSocket(server.port);
      const dropped = await readUntilClosed(extra, 2_000);
      expect(dropped.text).to.equal('');
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await fetch(`http://127.0.0.1:${server.port}/status`)).status).to.equal(200);
    } finally {
      await server.close();
    }
  });
});

/** A connected raw socket to the server. */
function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the socket, and how long that took; fails after `limit_ms`. */
function readUntilClosed(socket: Socket, limit_ms: number): Promise<{ text: string; closedAfter_ms: number }> {
  const started = performance.now();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the socket open for ${limit_ms} ms`));
    }, limit_ms);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined); // a reset after the answer still counts as closed
    socket.once('close', () => {
      clearTimeout(timer);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedAfter_ms: performance.now() - started });
    });
  });
}
