/** Table tests of the hint replayer's per-owner gates: liveness pauses and full-jitter backoff. */
import { expect } from 'chai';
import { HintReplaySchedule } from '../../src/core/hint_replay_schedule.js';
import { HINT_REPLAY_BACKOFF_BASE_MS, HINT_REPLAY_BACKOFF_MAX_MS } from '../../src/core/limits.js';

describe('core/hint_replay_schedule', function () {
  it('counts a member never heard of as due, and pauses on every status but alive', function () {
    const cases: { status: 'alive' | 'suspect' | 'down' | 'left'; replay: boolean; due: boolean }[] = [
      { status: 'suspect', replay: false, due: false },
      { status: 'down', replay: false, due: false },
      { status: 'left', replay: false, due: false },
      { status: 'alive', replay: true, due: true },
    ];
    for (const { status, replay, due } of cases) {
      const schedule = new HintReplaySchedule();
      expect(schedule.due('n2', 0), 'unknown counts as alive').to.equal(true);
      expect(schedule.liveness('n2', status), status).to.equal(replay);
      expect(schedule.due('n2', 0), status).to.equal(due);
      expect(schedule.isPaused('n2'), status).to.equal(!due);
      expect(schedule.due('n3', 0), 'other owners are untouched').to.equal(true);
    }
  });

  it('backs off with a doubling full-jitter ceiling up to the cap, and resets on success or alive', function () {
    const schedule = new HintReplaySchedule();
    const almostOne = 0.999999;
    let ceiling = HINT_REPLAY_BACKOFF_BASE_MS;
    for (let failure = 1; failure <= 12; failure++) {
      const delay = schedule.failed('n2', schedule.roundToken('n2'), 1000, almostOne);
      expect(delay, `failure ${failure}`).to.equal(Math.floor(almostOne * Math.min(ceiling, HINT_REPLAY_BACKOFF_MAX_MS)));
      expect(schedule.due('n2', 1000 + delay! - 1)).to.equal(delay === 0);
      expect(schedule.due('n2', 1000 + delay!)).to.equal(true);
      expect(schedule.failures('n2')).to.equal(failure);
      ceiling *= 2;
    }
    expect(schedule.failed('n2', schedule.roundToken('n2'), 0, 0)).to.equal(0); // full jitter: a draw of 0 waits nothing
    schedule.succeeded('n2');
    expect(schedule.failures('n2')).to.equal(0);
    schedule.failed('n2', schedule.roundToken('n2'), 0, 0.5);
    expect(schedule.liveness('n2', 'alive')).to.equal(true);
    expect(schedule.failures('n2')).to.equal(0);
    expect(schedule.due('n2', 0)).to.equal(true);
  });

  it('sets no backoff for a round that began before the latest alive', function () {
    const schedule = new HintReplaySchedule();
    const token = schedule.roundToken('n2');
    schedule.liveness('n2', 'down');
    schedule.liveness('n2', 'alive');
    expect(schedule.failed('n2', token, 0, 0.9)).to.equal(null);
    expect(schedule.due('n2', 0)).to.equal(true);
    expect(schedule.failed('n2', schedule.roundToken('n2'), 0, 0.9)).to.equal(Math.floor(0.9 * HINT_REPLAY_BACKOFF_BASE_MS));
    expect(schedule.due('n2', 0)).to.equal(false);
  });
});
