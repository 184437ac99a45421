// Pure: the lexical rules for a relative path sent by a client (API paths and zip entry names share them).

/** Splits `requested` into its segments, dropping `.` and empty ones (`a//./b` → `a`, `b`), or says what is wrong. */
export function splitRelativePath(requested: string): { segments: string[] } | { problem: string } {
  if (requested === '') return { problem: 'is empty' };
  if (requested.includes('\0')) return { problem: 'contains a NUL byte' };
  // A backslash is a separator on Windows, so `..\\x` would climb there while looking like one name here.
  if (requested.includes('\\')) return { problem: 'contains a backslash; use `/` between folders' };
  if (requested.startsWith('/')) return { problem: 'is absolute; give a path relative to the workspace' };
  if (/^[A-Za-z]:/.test(requested)) return { problem: 'starts with a drive letter; give a relative path' };
  const segments = requested.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) return { problem: 'has a `..` segment; give a path inside the workspace' };
  return { segments };
}
