// Pure: how a workspace file is sent — its MIME type, and whether a browser may show it or must download it.

export interface FileType {
  mime: string;
  /** Shown in the page (pictures, text); false: sent as a download, so nothing of the workspace runs as this origin. */
  inline: boolean;
}

const INLINE_TYPES: Readonly<Record<string, string>> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
  bmp: 'image/bmp',
  avif: 'image/avif',
  txt: 'text/plain; charset=utf-8',
  json: 'application/json',
  yaml: 'text/plain; charset=utf-8',
  yml: 'text/plain; charset=utf-8',
  toml: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
};

/** @example contentTypeOf('output/style/sample-10.png') // { mime: 'image/png', inline: true } */
export function contentTypeOf(path: string): FileType {
  const extension = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase() ?? '';
  const mime = INLINE_TYPES[extension];
  return mime === undefined ? { mime: 'application/octet-stream', inline: false } : { mime, inline: true };
}

/** The server's own folder (its database, its thumbnail cache) is not a workspace file to hand out. */
export function isPrivatePath(path: string): boolean {
  const first = path.replace(/^(\.\/)+/, '').split('/')[0];
  return first === '.lora-scripts';
}
