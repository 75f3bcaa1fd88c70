import { expect } from 'chai';
import { ACTOR_RESTART_WINDOW_MS, ACTOR_RESTARTS_MAX } from '../../src/core/limits.js';
import { RestartBudget } from '../../src/runtime/restart_budget.js';

describe('runtime/restart_budget: the one supervision policy of the host and the simulator', () => {
  it('restarts up to ACTOR_RESTARTS_MAX failures within the window, stops at the next', () => {
    const budget = new RestartBudget();
    for (let i = 0; i < ACTOR_RESTARTS_MAX; i++) expect(budget.fail(1000 + i)).to.equal('restart');
    expect(budget.fail(1000 + ACTOR_RESTARTS_MAX)).to.equal('stop');
  });

  it('forgets failures older than the window, and all of them on reset', () => {
    const budget = new RestartBudget();
    for (let i = 0; i < ACTOR_RESTARTS_MAX; i++) expect(budget.fail(i)).to.equal('restart');
    expect(budget.fail(ACTOR_RESTART_WINDOW_MS + ACTOR_RESTARTS_MAX), 'the old failures left the window').to.equal('restart');
    expect(budget.recent).to.equal(1);
    budget.reset();
    expect(budget.recent).to.equal(0);
  });
});
