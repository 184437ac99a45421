// Find-and-replace over captions: literal text, every occurrence, only captions it changes.
import { describe, expect, it } from 'vitest';
import { planReplace } from './caption-replace.js';
import { parseSettings, settingsText, triggerWordOf } from './dataset-settings.js';

describe('planReplace', () => {
  it('replaces literal text everywhere it occurs, regex characters included, and lists only changed captions', () => {
    const captions = [
      { image: 'a.png', caption: 'sks dog, sks dog on grass (1.2)' },
      { image: 'b.png', caption: 'a cat' },
      { image: 'c.png', caption: null },
      { image: 'd.png', caption: 'weight (1.2)' },
    ];
    expect(planReplace(captions, 'sks dog', 'jiangnan_style')).toEqual([
      {
        file: 'a.png',
        before: 'sks dog, sks dog on grass (1.2)',
        after: 'jiangnan_style, jiangnan_style on grass (1.2)',
      },
    ]);
    expect(planReplace(captions, '(1.2)', '$&$&').map((change) => change.after)).toEqual([
      'sks dog, sks dog on grass $&$&',
      'weight $&$&',
    ]);
  });
});

describe('dataset settings', () => {
  it('reads the trigger word, keeps unknown keys, and reads a damaged file as no settings', () => {
    const settings = parseSettings('{"trigger_word":"jiangnan_style","future_key":1}');
    expect(triggerWordOf(settings)).toBe('jiangnan_style');
    expect(JSON.parse(settingsText({ ...settings, trigger_word: null }))).toEqual({
      trigger_word: null,
      future_key: 1,
    });
    expect(parseSettings('{oops')).toEqual({});
    expect(parseSettings('[1]')).toEqual({});
    expect(triggerWordOf(parseSettings('{"trigger_word":"  "}'))).toBeNull();
    expect(parseSettings(null)).toEqual({});
  });
});
