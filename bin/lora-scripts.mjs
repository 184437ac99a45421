#!/usr/bin/env node
// lora-scripts entry point: checks the Node version, then runs the compiled CLI (dist/, built by `npm install`).
const [major] = process.versions.node.split('.').map(Number);
if (major < 20) {
  process.stderr.write(
    `error: Node ${process.versions.node} is too old; lora-scripts needs Node 20 or newer\n\nhint: install Node 20+ (https://nodejs.org)\n`,
  );
  process.exit(1);
}
const { main } = await import('../dist/cli/main.js');
main(process.argv);
