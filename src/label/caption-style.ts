// Trigger word, prefix and suffix around a drafted caption, pure: the same for every captioner.

export interface CaptionStyle {
  triggerWord?: string;
  prefix?: string;
  suffix?: string;
}

/** `styledCaption('a stone bridge', {triggerWord: 'jn_style'})` → `jn_style, a stone bridge`. Empty parts are left out. */
export function styledCaption(body: string, style: CaptionStyle): string {
  const parts = [style.triggerWord, style.prefix, body, style.suffix];
  return parts
    .filter((p): p is string => Boolean(p?.trim()))
    .map((p) => p.trim())
    .join(', ');
}
