// Pure: find-and-replace over a dataset's captions — literal text, every occurrence, only the captions it changes.
// The replacement is literal too: a function, so `$&` or `$1` in it is not read as a pattern.

export interface CaptionChange {
  file: string;
  before: string;
  after: string;
}

export function planReplace(
  captions: readonly { image: string; caption: string | null }[],
  find: string,
  replace: string,
): CaptionChange[] {
  return captions.flatMap(({ image, caption }) => {
    if (caption === null || !caption.includes(find)) return [];
    return [{ file: image, before: caption, after: caption.replaceAll(find, () => replace) }];
  });
}
