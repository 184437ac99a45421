// The studio API client: the fetch wrapper, its error, the shapes it returns.
export { ApiError, api, dropTokenFromUrl, fileUrl } from './client.js';
export * from './types.js';
