/**
 * The error taxonomy crosses threads as records (`toErrorRecord` /
 * `fromErrorRecord`): every class must come back as itself, with its code,
 * its fields and its message, or a client would see a different error than
 * the actor raised (issue 12: an indeterminate write must stay
 * indeterminate, never turn into a plain failure).
 */
import { expect } from 'chai';
import {
  CorruptionError,
  IndeterminateError,
  InvalidRequestError,
  OverloadedError,
  RingkvError,
  TimeoutError,
  UnavailableError,
  fromErrorRecord,
  notHandledError,
  toErrorRecord,
} from '../../src/core/errors.js';

describe('core/errors', () => {
  const cases: [string, RingkvError, Record<string, unknown>][] = [
    ['corruption', new CorruptionError('seg-3.log', 40, 'bad crc'), { location: 'seg-3.log', offset: 40 }],
    ['unavailable', new UnavailableError(1, 2, 'n2 down'), { answered: 1, needed: 2 }],
    ['not handled', notHandledError('ask to t2/coordinator (type=put)', 'thread 2 crashed'), { answered: 0, needed: 1 }],
    ['timeout', new TimeoutError('ask to t1/replica (type=get)', 250), { what: 'ask to t1/replica (type=get)', timeout_ms: 250 }],
    ['overloaded', new OverloadedError('mailbox of t1/replica'), { resource: 'mailbox of t1/replica' }],
    ['indeterminate', new IndeterminateError('write of key-7', 'the deadline of 2000 ms passed'), { what: 'write of key-7', reason: 'the deadline of 2000 ms passed' }],
    ['indeterminate, no reason', new IndeterminateError('write of key-7'), { what: 'write of key-7', reason: '' }],
    ['invalid', new InvalidRequestError('key too long'), {}],
  ];
  for (const [name, original, fields] of cases) {
    it(`round-trips ${name} through a record (structured clone included): same class, code, fields and message`, () => {
      const record = structuredClone(toErrorRecord(original));
      const rebuilt = fromErrorRecord(record);
      expect(rebuilt).to.be.instanceOf(original.constructor);
      expect(rebuilt).to.be.instanceOf(RingkvError);
      expect((rebuilt as RingkvError).code).to.equal(original.code);
      expect(rebuilt.name).to.equal(original.name);
      expect(rebuilt.message).to.equal(original.message);
      expect(rebuilt).to.deep.include(fields);
    });
  }

  it('IndeterminateError says the write may or may not have been applied and to read before retrying', () => {
    const err = new IndeterminateError('write of key-7', 'coordinator n2 crashed mid-write');
    expect(err.code).to.equal('INDETERMINATE');
    expect(err.message).to.equal('write of key-7 may or may not have been applied (coordinator n2 crashed mid-write): read the key before retrying');
  });

  it('notHandledError says nothing was applied and to retry', () => {
    expect(notHandledError('ask to t2/coordinator (type=get)', 'thread 2 crashed').message).to.match(/was not handled: thread 2 crashed.*nothing was applied: retry/);
  });

  it('an error outside the taxonomy becomes an INTERNAL record and a plain Error (never one of the typed classes)', () => {
    const record = toErrorRecord(new TypeError('x is undefined'));
    expect(record).to.deep.equal({ name: 'TypeError', code: 'INTERNAL', message: 'x is undefined' });
    expect(fromErrorRecord(record)).to.not.be.instanceOf(RingkvError);
  });
});
