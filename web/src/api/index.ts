// The studio API client: the fetch wrapper, its error, the shapes it returns.
export { ApiError, adoptTokenFromUrl, api, fileUrl, withToken } from './client.js';
export * from './types.js';
