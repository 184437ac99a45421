// Writes the studio's API table into README.md from the OpenAPI document the server publishes (`npm run docs`).
import { readFileSync } from 'node:fs';

const { spliceApiReference } = await import('../dist/server/api-reference.js');
const { writeFileAtomic } = await import('../dist/fs/atomic-write.js');

const file = process.argv[2] ?? 'README.md';
writeFileAtomic(file, spliceApiReference(readFileSync(file, 'utf8')));
process.stderr.write(`updated the API reference in ${file}\n`);
