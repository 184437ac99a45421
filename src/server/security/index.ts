// The security core of the studio server: access (Host, Origin, token), workspace paths, zip entries, size limits.
export type { AccessOptions, AccessPolicy, RequestFacts } from './access.js';
export { accessPolicy, checkRequest, isLoopbackHost, newToken } from './access.js';
export { DEFAULT_LIMITS, DEFAULT_ZIP_LIMITS } from './limits.js';
export type { Refusal, RefusalStatus } from './refused.js';
export { RequestRefused } from './refused.js';
export { resolveInWorkspace } from './workspace-path.js';
export type { ZipEntry, ZipLimits } from './zip-check.js';
export { checkZipEntries } from './zip-check.js';
