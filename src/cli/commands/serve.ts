// `lora-scripts serve [--port N] [--host H] [--workspace DIR] [--token T] [--resume-interrupted]`: runs the studio
// server until Ctrl-C.
import { resolve } from 'node:path';
import { startServer } from '../../server/index.js';
import { SERVE_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export async function serveCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(SERVE_FLAGS, given);
  const server = await startServer({
    host: flags.host,
    port: flags.port,
    workspace: resolve(ctx.cwd, flags.workspace),
    token: flags.token,
    resumeInterrupted: flags.resumeInterrupted,
    db: flags.db,
    queue: flags.queue,
  });
  process.stdout.write('Ctrl-C stops the server\n');
  await untilStopSignal();
  // Stopping is the normal way out, so it exits 0; running jobs are marked interrupted on the next start.
  await server.close();
  return 0;
}

function untilStopSignal(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      for (const signal of STOP_SIGNALS) process.off(signal, stop);
      done();
    };
    for (const signal of STOP_SIGNALS) process.on(signal, stop);
  });
}
