import { expect } from 'chai';
import fc from 'fast-check';
import { seedFrom } from '../../src/core/prng.js';
import { RespParser, splitInline, type ParseResult, type RespParserLimits } from '../../src/server/resp_parser.js';
import { encodeReplyToBuffer, array, bulk, error, integer, map, NULL, OK } from '../../src/server/resp_writer.js';
import { encodeCommand } from './resp_test_client.js';

const SEED = seedFrom(process.env['SEED'], Date.now());
const LIMITS: RespParserLimits = { bulkMaxBytes: 4096, arrayMaxElements: 64, inlineMaxBytes: 1024, queryBufferMaxBytes: 16 * 1024 };

/** Feed `bytes` in chunks cut at `cuts` and collect every result. */
function parseAll(bytes: Buffer, cuts: number[], limits = LIMITS): ParseResult[] {
  const parser = new RespParser(limits);
  const results: ParseResult[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    parser.push(bytes.subarray(at, cut));
    at = cut;
    for (let r = parser.next(); r !== null; r = parser.next()) {
      results.push(r);
      if (r.type === 'error') return results;
    }
    expect(parser.bufferedBytes).to.be.at.most(limits.queryBufferMaxBytes);
  }
  return results;
}

describe('server/resp_parser', () => {
  it('parses any split of a stream of commands into the same commands (seeded property)', () => {
    const arg = fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a));
    const command = fc.array(arg, { minLength: 1, maxLength: 8 });
    try {
      fc.assert(
        fc.property(fc.array(command, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 30 }), (commands, cuts) => {
          const bytes = Buffer.concat(commands.map(encodeCommand));
          const results = parseAll(bytes, cuts.map((c) => c % (bytes.length + 1)));
          expect(results).to.deep.equal(commands.map((args) => ({ type: 'command', args, inline: false })));
        }),
        { seed: SEED, numRuns: 200 },
      );
    } catch (err) {
      console.log(`      replay with SEED=${SEED}`);
      throw err;
    }
  });

  it('parses inline commands with quotes and skips empty requests', () => {
    const results = parseAll(Buffer.from('\r\nSET "a b" \'c\\\'d\' "\\x41\\n"\r\n*0\r\n*-1\r\nPING\n'), []);
    expect(results).to.deep.equal([
      { type: 'command', args: [Buffer.from('SET'), Buffer.from('a b'), Buffer.from("c'd"), Buffer.from('A\n')], inline: true },
      { type: 'command', args: [Buffer.from('PING')], inline: true },
    ]);
    expect(splitInline(Buffer.from('"open'))).to.equal(null);
    expect(splitInline(Buffer.from('"a"b'))).to.equal(null);
  });

  const malformed: [string, string, RegExp][] = [
    ['negative bulk length', '*1\r\n$-2\r\n', /invalid bulk length -2/],
    ['$-1 in a request', '*1\r\n$-1\r\n', /invalid bulk length -1/],
    ['negative count', '*-3\r\n', /invalid multibulk count -3/],
    ['non-numeric count', '*x\r\n', /invalid multibulk count/],
    ['count with a plus sign', '*+1\r\n', /invalid multibulk count/],
    ['bulk over limit', '*1\r\n$4097\r\n', /over the limit of 4096/],
    ['count over limit', '*65\r\n', /over the limit of 64/],
    ['endless length line', `*${'1'.repeat(40)}`, /line longer than 32 bytes/],
    ['length line without CR', '*1\n', /not terminated by CRLF/],
    ['wrong type inside an array', '*1\r\n+PING\r\n', /expected '\$', got '\+'/],
    ['reply type at the start', ':1\r\n', /expected '\*' or an inline command/],
    ['missing CRLF after a bulk', '*1\r\n$1\r\nab\r\n', /not terminated by CRLF/],
    ['inline over limit', 'a'.repeat(2000), /inline command longer than 1024/],
    ['query buffer over limit', `*5\r\n${'$4000\r\n'.concat('x'.repeat(4000), '\r\n').repeat(5)}`, /query buffer/],
  ];
  for (const [name, frame, expected] of malformed) {
    it(`refuses ${name}, and stays failed`, () => {
      for (const cuts of [[], [1], [2, 3, 4, 5, 6, 7]]) {
        const results = parseAll(Buffer.from(frame), cuts);
        expect(results.at(-1)).to.have.property('type', 'error');
        expect((results.at(-1) as { message: string }).message).to.match(expected);
      }
      const parser = new RespParser(LIMITS);
      parser.push(Buffer.from(frame));
      while (parser.next()?.type === 'command');
      parser.push(Buffer.from('PING\r\n'));
      expect(parser.next()).to.have.property('type', 'error');
      expect(parser.bufferedBytes).to.equal(0);
    });
  }

  it('a large bulk arriving in small chunks keeps the buffer within four times the bytes held, and shrinks after', () => {
    const limits = { ...LIMITS, bulkMaxBytes: 4 * 1024 * 1024, queryBufferMaxBytes: 8 * 1024 * 1024 };
    const parser = new RespParser(limits);
    const bytes = encodeCommand(['SET', 'k', Buffer.alloc(4 * 1024 * 1024, 7)]);
    let maxCapacity = 0;
    for (let at = 0; at < bytes.length; at += 1000) {
      parser.push(bytes.subarray(at, at + 1000));
      maxCapacity = Math.max(maxCapacity, parser.capacityBytes);
      const result = parser.next();
      if (result !== null) expect(result).to.have.property('type', 'command');
    }
    expect(maxCapacity).to.be.at.most(4 * (4 * 1024 * 1024 + 64));
    expect(parser.next()).to.equal(null);
    expect(parser.capacityBytes).to.be.at.most(16 * 1024);
  });

  it('lifts bounds when told (authentication)', () => {
    const parser = new RespParser({ ...LIMITS, bulkMaxBytes: 16 });
    parser.push(Buffer.from('*1\r\n$4\r\nPING\r\n'));
    expect(parser.next()).to.have.property('type', 'command');
    parser.setLimits(LIMITS);
    parser.push(encodeCommand(['ECHO', 'x'.repeat(100)]));
    expect(parser.next()).to.have.property('type', 'command');
  });
});

describe('server/resp_writer', () => {
  it('encodes every reply type in RESP2 and RESP3', () => {
    const reply = array([OK, error('ERR bad\r\nthing'), integer(-3), bulk('hé'), bulk(Buffer.from([0, 13, 10])), NULL, map([['a', integer(1)]])]);
    expect(encodeReplyToBuffer(reply, 2).toString('latin1')).to.equal(
      '*7\r\n+OK\r\n-ERR bad thing\r\n:-3\r\n$3\r\nh\xc3\xa9\r\n$3\r\n\x00\r\n\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n',
    );
    expect(encodeReplyToBuffer(reply, 3).toString('latin1')).to.contain('_\r\n%1\r\n$1\r\na\r\n:1\r\n');
  });
});
