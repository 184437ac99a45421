// The version lifecycle: one promoted version per style, promotion retires the previous one, roll-back allowed.
import { describe, expect, it } from 'vitest';
import { planStatusChange, promotedVersion } from './lifecycle.js';
import type { StyleVersion, VersionStatus } from './types.js';

function versions(...statuses: VersionStatus[]): StyleVersion[] {
  return statuses.map((status, i) => ({ style: 'jiangnan', version: i + 1, status }) as StyleVersion);
}

describe('planStatusChange', () => {
  it('promotes a draft of a style with none promoted', () => {
    expect(planStatusChange(versions('draft', 'draft'), 2, 'promote')).toEqual([{ version: 2, status: 'promoted' }]);
  });

  it('promoting retires the version promoted before, so the name means one file', () => {
    expect(planStatusChange(versions('promoted', 'draft'), 2, 'promote')).toEqual([
      { version: 1, status: 'retired' },
      { version: 2, status: 'promoted' },
    ]);
  });

  it('rolls back by promoting a retired version again', () => {
    expect(planStatusChange(versions('retired', 'promoted'), 1, 'promote')).toEqual([
      { version: 2, status: 'retired' },
      { version: 1, status: 'promoted' },
    ]);
  });

  it('retires a draft or the promoted version (the style then resolves to none)', () => {
    expect(planStatusChange(versions('draft'), 1, 'retire')).toEqual([{ version: 1, status: 'retired' }]);
    const after = versions('retired');
    expect(promotedVersion(after)).toBeNull();
  });

  it('refuses a change to the status a version already has, with a hint', () => {
    expect(() => planStatusChange(versions('promoted'), 1, 'promote')).toThrow(
      expect.objectContaining({ code: 'illegal_version_transition', message: 'version 1 is already promoted' }),
    );
    expect(() => planStatusChange(versions('retired'), 1, 'retire')).toThrow(
      expect.objectContaining({ code: 'illegal_version_transition', hint: 'promote it to use it again' }),
    );
  });
});
