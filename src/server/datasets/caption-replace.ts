// Pure: find-and-replace over a dataset's captions — literal text, every occurrence, only the captions it changes.

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
    return [{ file: image, before: caption, after: caption.replaceAll(find, replace) }];
  });
}
