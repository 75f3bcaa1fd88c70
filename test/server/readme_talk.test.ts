/**
 * The README's "Talk to it" steps, run in order against a real server
 * (`startServer`, a 5-node cluster on worker threads, free loopback ports),
 * each answer checked. The steps are read from README.md itself: every
 * `redis-cli` line is sent with ioredis and every `curl` line with fetch
 * (ports 6380 and 8080 replaced by the server's), so a README step that
 * stops working, or a new step with no expectation here, fails this test.
 *
 * The sequence matters: the RESP steps leave `greeting` with two siblings
 * (SET hello, then KV.PUT without context: hi), and the README's HTTP PUT
 * without a context must supersede both, as SET would, so the GET that
 * follows answers 200 hello (issue 13 item 7: it used to add a third
 * sibling and answer 300 Multiple Choices).
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startServer, type RingkvServer } from '../../src/server/start.js';

/** README.md at the repository root (this file runs from dist/test/server/). */
const README_PATH = fileURLToPath(new URL('../../../README.md', import.meta.url));

/** What one step answered: a RESP reply, or an HTTP response read whole. */
type Answer = { resp: unknown } | { status: number; headers: Headers; body: string };

/** The expected answer of each README step, by the step's command line (comments stripped, spaces collapsed). */
const EXPECTED: Record<string, (answer: Answer) => void> = {
  'redis-cli -p 6380 SET greeting hello': (a) => expect(resp(a)).to.equal('OK'),
  'redis-cli -p 6380 GET greeting': (a) => expect(resp(a)).to.equal('hello'),
  'redis-cli -p 6380 KV.GET greeting': (a) => {
    const [context, values, versions] = resp(a) as [string, string[], string[]];
    expect(context).to.be.a('string').and.not.equal('');
    expect(values).to.deep.equal(['hello']);
    expect(versions).to.have.length(1);
  },
  'redis-cli -p 6380 KV.PUT greeting "" hi': (a) => expect(resp(a)).to.be.a('string').and.not.equal(''),
  'redis-cli -p 6380 KV.EXPLAIN greeting': (a) => {
    const explained = JSON.parse(resp(a) as string) as { preferenceList: string[]; replicas: { versions: unknown[] }[] };
    expect(explained.preferenceList).to.have.length(3);
    // The KV.PUT without context made a sibling: the owners hold both versions.
    expect(explained.replicas.some((replica) => replica.versions.length === 2)).to.equal(true);
  },
  'curl -X PUT --data-binary hello http://127.0.0.1:8080/kv/greeting': (a) => expect(http(a).status).to.equal(204),
  'curl -i http://127.0.0.1:8080/kv/greeting': (a) => {
    const answer = http(a);
    expect(answer.status, `body: ${answer.body}`).to.equal(200);
    expect(answer.body).to.equal('hello');
    expect(answer.headers.get('x-ringkv-context')).to.be.a('string').and.not.equal('');
  },
  'curl http://127.0.0.1:8080/status': (a) => {
    const answer = http(a);
    expect(answer.status).to.equal(200);
    const status = JSON.parse(answer.body) as { members: { id: string; running: boolean }[] };
    expect(status.members.map((m) => m.id)).to.deep.equal(['n1', 'n2', 'n3', 'n4', 'n5']);
    expect(status.members.every((m) => m.running)).to.equal(true);
  },
  'curl http://127.0.0.1:8080/metrics': (a) => {
    const answer = http(a);
    expect(answer.status).to.equal(200);
    expect(answer.body).to.match(/^ringkv_requests_total\{surface="http",command="kv.put",outcome="ok"\} 1$/m);
  },
};

describe('README "Talk to it", step by step against a real server', function () {
  this.timeout(120_000);
  let dir: string;
  let server: RingkvServer;
  let redis: Redis;

  before(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'ringkv-readme-'));
    server = await startServer({ dataDir: dir, respPort: 0, httpPort: 0 });
    redis = new Redis({ port: server.resp.port, host: '127.0.0.1', maxRetriesPerRequest: 0, lazyConnect: true });
    await redis.connect();
  });
  after(async () => {
    redis?.disconnect();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('every step answers what the README says, in order', async () => {
    const steps = talkSteps(readFileSync(README_PATH, 'utf8'));
    expect(steps.filter((step) => step.startsWith('curl')), 'the README shows HTTP steps').to.have.length.at.least(2);
    expect(Object.keys(EXPECTED).filter((step) => !steps.includes(step)), 'expected steps missing from the README').to.deep.equal([]);
    for (const step of steps) {
      const check = EXPECTED[step];
      expect(check, `README step with no expectation in this test (add one): ${step}`).to.not.equal(undefined);
      const answer = await run(step);
      try {
        check!(answer);
      } catch (err) {
        (err as Error).message = `README step "${step}": ${(err as Error).message}`;
        throw err;
      }
    }
  });

  /** Run one step against the test server. */
  function run(step: string): Promise<Answer> {
    const [tool, ...args] = shellWords(step);
    if (tool === 'redis-cli') return runRedisCli(args);
    if (tool === 'curl') return runCurl(args);
    throw new Error(`README step uses ${tool}, which this test cannot run: ${step}`);
  }

  async function runRedisCli(args: string[]): Promise<Answer> {
    expect(args.slice(0, 2), 'redis-cli steps name the default RESP port').to.deep.equal(['-p', '6380']);
    const [command, ...rest] = args.slice(2);
    return { resp: await redis.call(command!, ...rest) };
  }

  async function runCurl(args: string[]): Promise<Answer> {
    let method = 'GET';
    let body: string | undefined;
    let target: string | undefined;
    for (let i = 0; i < args.length; i++) {
      const arg = args[i]!;
      if (arg === '-X') method = args[++i]!;
      else if (arg === '--data-binary') {
        body = args[++i]!;
        if (method === 'GET') method = 'POST';
      } else if (arg === '-i') continue; // show headers: the answer keeps them anyway
      else if (arg.startsWith('-')) throw new Error(`curl flag ${arg} is not known to this test; teach runCurl`);
      else target = arg;
    }
    expect(target, 'a curl step names a URL on the default HTTP port').to.match(/^http:\/\/127\.0\.0\.1:8080\//);
    const res = await fetch(target!.replace(':8080', `:${server.http.port}`), { method, ...(body !== undefined ? { body } : {}) });
    return { status: res.status, headers: res.headers, body: await res.text() };
  }
});

/**
 * The command lines of the first ```sh block under "## Talk to it": each
 * line without its trailing comment, spaces collapsed; comment-only lines
 * and blank lines dropped.
 */
function talkSteps(readme: string): string[] {
  const section = readme.split(/^## Talk to it$/m)[1];
  expect(section, 'README has a "## Talk to it" section').to.be.a('string');
  const block = /```sh\n([\s\S]*?)```/.exec(section!)?.[1];
  expect(block, 'the section has a ```sh block').to.be.a('string');
  return block!
    .split('\n')
    .map((line) => stripComment(line).trim().replace(/\s+/g, ' '))
    .filter((line) => line !== '');
}

/** `line` without a `#` comment outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote !== null) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

/** Split a command line into words as a POSIX shell does for plain words and quoted strings ("" is an empty word). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (const match of line.matchAll(pattern)) words.push(match[1] ?? match[2] ?? match[3]!);
  return words;
}

function resp(answer: Answer): unknown {
  expect(answer).to.have.property('resp');
  return (answer as { resp: unknown }).resp;
}

function http(answer: Answer): { status: number; headers: Headers; body: string } {
  expect(answer).to.have.property('status');
  return answer as { status: number; headers: Headers; body: string };
}
