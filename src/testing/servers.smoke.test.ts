// The test servers themselves: a real PostgreSQL and a real Redis start, answer and stop.
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startPostgresServer } from './postgres-server.js';
import { startRedisServer } from './redis-server.js';

describe('test servers', () => {
  it('starts PostgreSQL, makes a database in it, and stops', async () => {
    const server = await startPostgresServer();
    try {
      const url = await server.createDatabase();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query('SELECT current_database() AS name');
      await client.end();
      expect(rows[0].name).toMatch(/^test_/);
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('starts Redis, answers a SET/GET, and stops', async () => {
    const server = await startRedisServer();
    const client = new Redis(server.url);
    try {
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
    } finally {
      client.disconnect();
      await server.stop();
    }
  }, 60_000);
});
