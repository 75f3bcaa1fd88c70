/**
 * The dot lease (storage/dot_lease.ts): counters never repeat under one epoch
 * across clean closes, crashes (unsynced bytes lost, torn tails) and
 * reopens; a run under periodic sync that did not close, a corrupt or a
 * missing record, or a store that cut off a corrupt commit-log tail
 * (`untrusted`) start a new epoch. `SEED=<n>` replays the property run.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { DOT_LEASE_BLOCK } from '../../src/core/limits.js';
import { Prng, seedFrom } from '../../src/core/prng.js';
import { DOT_LEASE_FILE, DotLease } from '../../storage/dot_lease.js';
import { SimFileSystem } from '../../storage/sim_fs.js';

const DIR = '/node/data';
const SEED = seedFrom(process.env['SEED'], Date.now());

function opener(seed: number) {
  const prng = new Prng(seed);
  return (fs: SimFileSystem, periodic = false): Promise<DotLease> => DotLease.open({ fs, dir: DIR, random: () => prng.next(), periodic });
}

async function takeAll(lease: DotLease, n: number, floor = 0): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await lease.take(floor));
  return out;
}

describe('dot lease', () => {
  it('hands out increasing counters, synchronously inside the leased block', async () => {
    const lease = await opener(1)(new SimFileSystem());
    expect(lease.recovery).to.equal('new');
    const first = lease.take(0);
    expect(first, 'no promise while the block covers it').to.equal(1);
    expect(await takeAll(lease, 3)).to.deep.equal([2, 3, 4]);
    expect(lease.take(10)).to.equal(10);
    expect(lease.take(0)).to.equal(11);
  });

  it('resumes the epoch after a clean close, above the whole recorded block', async () => {
    const open = opener(2);
    const fs = new SimFileSystem();
    const lease = await open(fs, true);
    const used = await takeAll(lease, 5);
    await lease.close();
    const again = await open(fs, true);
    expect(again.recovery).to.equal('resumed');
    expect(again.epoch).to.equal(lease.epoch);
    expect(again.take(0)).to.be.greaterThan(Math.max(...used, DOT_LEASE_BLOCK));
  });

  it('after a crash under batch sync resumes the epoch and never repeats a counter', async () => {
    const open = opener(3);
    let fs = new SimFileSystem();
    const lease = await open(fs);
    const used = await takeAll(lease, DOT_LEASE_BLOCK + 50); // crosses a block: the next one was leased durably first
    fs = fs.crash(new Prng(3));
    const again = await open(fs);
    expect(again.recovery).to.equal('resumed');
    expect(again.epoch).to.equal(lease.epoch);
    expect(again.take(0)).to.be.greaterThan(Math.max(...used));
  });

  it('after a crash of a periodic-sync run starts a new epoch', async () => {
    const open = opener(4);
    let fs = new SimFileSystem();
    const lease = await open(fs, true);
    await takeAll(lease, 10);
    fs = fs.crash(new Prng(4));
    const again = await open(fs, false);
    expect(again.recovery).to.equal('unclean-periodic');
    expect(again.epoch).to.not.equal(lease.epoch);
  });

  it('a corrupt record starts a new epoch; so does a missing one', async () => {
    const open = opener(5);
    const fs = new SimFileSystem();
    const lease = await open(fs);
    await lease.close();
    fs.flipBit(`${DIR}/${DOT_LEASE_FILE}`, 3);
    const corrupt = await open(fs);
    expect(corrupt.recovery).to.equal('corrupt');
    expect(corrupt.epoch).to.not.equal(lease.epoch);
    await fs.remove(`${DIR}/${DOT_LEASE_FILE}`);
    const fresh = await open(fs);
    expect(fresh.recovery).to.equal('new');
  });

  it("opened untrusted (the store cut off a corrupt commit-log tail) starts a new epoch even after a clean close", async () => {
    const open = opener(6);
    const fs = new SimFileSystem();
    const lease = await open(fs);
    await takeAll(lease, 5);
    await lease.close();
    const untrusted = await DotLease.open({ fs, dir: DIR, random: () => 0.25, periodic: false, untrusted: true });
    expect(untrusted.recovery).to.equal('corrupt-log-tail');
    expect(untrusted.epoch).to.not.equal(lease.epoch);
    await untrusted.close();
    const trusted = await open(fs);
    expect(trusted.recovery, 'the new epoch is what a later trusted open resumes').to.equal('resumed');
    expect(trusted.epoch).to.equal(untrusted.epoch);
  });

  it(`never repeats a (epoch, counter) pair across seeded lives of takes, closes and crashes (SEED=${SEED})`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ takes: fc.integer({ min: 0, max: 3 * DOT_LEASE_BLOCK }), floor: fc.nat(4 * DOT_LEASE_BLOCK), end: fc.constantFrom('close', 'crash'), periodic: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        fc.integer(),
        async (lives, diskSeed) => {
          const open = opener(diskSeed);
          const crashPrng = new Prng(diskSeed ^ 0x51);
          let fs = new SimFileSystem();
          const seen = new Set<string>();
          for (const life of lives) {
            const lease = await open(fs, life.periodic);
            for (let i = 0; i < life.takes; i++) {
              const counter = await lease.take(i === 0 ? life.floor : 0);
              const pair = `${lease.epoch}:${counter}`;
              if (seen.has(pair)) throw new Error(`counter ${pair} handed out twice`);
              seen.add(pair);
            }
            if (life.end === 'close') await lease.close();
            else fs = fs.crash(crashPrng);
          }
        },
      ),
      { seed: SEED, numRuns: 25 },
    );
  });
});
