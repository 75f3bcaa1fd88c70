import { expect } from 'chai';
import fc from 'fast-check';
import { pickCompaction, sizeTieredBuckets } from '../../storage/compaction_policy.js';

const MB = 1024 * 1024;
const t = (fileNumber: number, mb: number) => ({ fileNumber, bytes: mb * MB });

describe('storage/compaction_policy (size-tiered)', () => {
  it('waits until a tier has the minimum number of tables', () => {
    expect(pickCompaction([t(1, 10), t(2, 11), t(3, 12)])).to.deep.equal([]);
    expect(pickCompaction([t(1, 10), t(2, 11), t(3, 12), t(4, 9)]).map((x) => x.fileNumber)).to.deep.equal([4, 1, 2, 3]);
  });

  it('keeps different tiers apart', () => {
    const buckets = sizeTieredBuckets([t(1, 10), t(2, 100), t(3, 11), t(4, 105), t(5, 1000)]);
    expect(buckets.map((b) => b.map((x) => x.fileNumber))).to.deep.equal([[1, 3], [2, 4], [5]]);
  });

  it('groups all small tables together whatever their ratio', () => {
    const small = [t(1, 0.1), t(2, 1), t(3, 3), t(4, 0.5)];
    expect(pickCompaction(small).length).to.equal(4);
  });

  it('prefers the fullest bucket and caps it at the maximum', () => {
    const many = Array.from({ length: 40 }, (_, i) => t(i, 50 + (i % 3)));
    const few = [t(100, 500), t(101, 510), t(102, 520), t(103, 530)];
    const pick = pickCompaction([...few, ...many]);
    expect(pick.length).to.equal(32);
    expect(pick.every((x) => x.fileNumber < 100)).to.equal(true);
  });

  it('partitions every table into exactly one bucket (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1 << 30 }), { maxLength: 80 }), (sizes) => {
        const tables = sizes.map((bytes, fileNumber) => ({ fileNumber, bytes }));
        const flat = sizeTieredBuckets(tables).flat().map((x) => x.fileNumber).sort((a, b) => a - b);
        expect(flat).to.deep.equal(tables.map((x) => x.fileNumber));
        const pick = pickCompaction(tables);
        expect(pick.length === 0 || pick.length >= 4).to.equal(true);
        expect(pick.length).to.be.at.most(32);
      }),
    );
  });
});
