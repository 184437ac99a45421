// The default size limits of the studio server, in one table: requests, uploads and zip archives.

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS = {
  /** A JSON body is a config or a form (a few KiB); 1 MiB leaves room for long caption lists and stops a memory flood. */
  bodyJsonBytes: 1 * MiB,
  /** One uploaded file is one training image: a 24-megapixel PNG is about 40 MiB, so 50 MiB fits any real photo. */
  uploadFileBytes: 50 * MiB,
  /** A zipped dataset unpacked: 2 GiB holds thousands of full-size images yet fits the disk of a laptop. */
  zipTotalBytes: 2 * 1024 * MiB,
  /** Files in one zip: large datasets have a few thousand images plus captions; 20 000 stops a zip of empty files. */
  zipFiles: 20_000,
  /** Open job streams (SSE): a studio page holds one or two; 1000 serves a whole team while capping sockets and timers. */
  openStreams: 1000,
} as const;

/** What `checkZipEntries` enforces by default; a file inside a zip is an upload like any other. */
export const DEFAULT_ZIP_LIMITS = {
  maxFiles: DEFAULT_LIMITS.zipFiles,
  maxTotalBytes: DEFAULT_LIMITS.zipTotalBytes,
  maxFileBytes: DEFAULT_LIMITS.uploadFileBytes,
} as const;
