// The studio server: the HTTP app (testable without a socket) and the shell that serves it.
/**
 * The Hono app with every route; tests call `app.request()`.
 * @example const app = createApp({ store, workspace, policy: accessPolicy({ host, port }), version: TOOL_VERSION });
 */
export { type AppDeps, createApp, OPENAPI_PATH, type StudioApp } from './app.js';
/**
 * Opens the workspace's store and listens.
 * @example const { url, close } = await startServer({ host: '127.0.0.1', port: 6008, workspace: 'workspace' });
 */
export { type RunningServer, type ServeOptions, STORE_FILE, startServer } from './serve.js';
/**
 * The queue runner and the train executor, for a server or a worker of its own.
 * @example const runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env }) });
 */
export { type JobExecutor, type JobRunner, startJobRunner, trainExecutor } from './runner/index.js';
