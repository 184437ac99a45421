// resolveInWorkspace on real folders and symlinks in a temp dir: lexical refusals, then escapes through symlinks.
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RequestRefused } from './refused.js';
import { resolveInWorkspace } from './workspace-path.js';

let sandbox: string;
let workspace: string;
let outside: string;

beforeEach(() => {
  sandbox = realpathSync(mkdtempSync(join(tmpdir(), 'workspace-path-')));
  workspace = join(sandbox, 'workspace');
  outside = join(sandbox, 'outside');
  mkdirSync(join(workspace, 'datasets', 'cats'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(workspace, 'datasets', 'cats', '001.png'), 'png');
  writeFileSync(join(outside, 'secret.txt'), 'secret');
});
afterEach(() => rmSync(sandbox, { recursive: true, force: true }));

function refusal(requested: string): RequestRefused {
  try {
    resolveInWorkspace(workspace, requested);
  } catch (error) {
    if (error instanceof RequestRefused) return error;
    throw error;
  }
  throw new Error(`expected ${requested} to be refused`);
}

describe('resolveInWorkspace: paths inside the workspace', () => {
  it('resolves existing files and folders', () => {
    expect(resolveInWorkspace(workspace, 'datasets/cats/001.png')).toBe(join(workspace, 'datasets', 'cats', '001.png'));
    expect(resolveInWorkspace(workspace, 'datasets/cats/')).toBe(join(workspace, 'datasets', 'cats'));
    expect(resolveInWorkspace(workspace, './datasets//cats/./001.png')).toBe(
      join(workspace, 'datasets', 'cats', '001.png'),
    );
  });

  it('resolves a path whose last parts do not exist yet, such as a new output file', () => {
    expect(resolveInWorkspace(workspace, 'outputs/run-1/lora.safetensors')).toBe(
      join(workspace, 'outputs', 'run-1', 'lora.safetensors'),
    );
  });

  it('takes names that only start with dots as names, and `.` as the workspace itself', () => {
    mkdirSync(join(workspace, '..hidden'));
    expect(resolveInWorkspace(workspace, '..hidden/x')).toBe(join(workspace, '..hidden', 'x'));
    expect(resolveInWorkspace(workspace, '...')).toBe(join(workspace, '...'));
    expect(resolveInWorkspace(workspace, '.')).toBe(workspace);
  });

  it('follows a symlink that stays inside the workspace, returning the real path', () => {
    symlinkSync(join(workspace, 'datasets', 'cats'), join(workspace, 'cats-link'));
    expect(resolveInWorkspace(workspace, 'cats-link/001.png')).toBe(join(workspace, 'datasets', 'cats', '001.png'));
    expect(resolveInWorkspace(workspace, 'cats-link/new.txt')).toBe(join(workspace, 'datasets', 'cats', 'new.txt'));
  });

  it('works when the workspace itself is reached through a symlink', () => {
    const linkedWorkspace = join(sandbox, 'workspace-link');
    symlinkSync(workspace, linkedWorkspace);
    expect(resolveInWorkspace(linkedWorkspace, 'datasets/cats/001.png')).toBe(
      join(workspace, 'datasets', 'cats', '001.png'),
    );
  });
});

describe('resolveInWorkspace: lexical refusals name the path and say why', () => {
  it.each([
    ['', 'is empty'],
    ['/etc/passwd', 'is absolute'],
    ['../outside/secret.txt', '`..` segment'],
    ['datasets/../../outside', '`..` segment'],
    ['datasets/..', '`..` segment'],
    ['..', '`..` segment'],
    ['datasets\\..\\..\\outside', 'backslash'],
    ['C:/Windows', 'drive letter'],
    ['c:secret', 'drive letter'],
    ['datasets/cats\0.png', 'NUL byte'],
  ])('refuses %j', (requested, why) => {
    const error = refusal(requested);
    expect(error).toMatchObject({ status: 400, code: 'path_unsafe' });
    expect(error.message).toContain(why);
    expect(error.culprit).toBe(`\`${JSON.stringify(requested).slice(1, -1)}\``);
    expect(error.refusal.message).toBe(`${error.culprit}: ${error.message}`);
  });

  it('shows a NUL byte escaped, so the message stays one printable line', () => {
    expect(refusal('a\0b').culprit).toBe('`a\\u0000b`');
  });
});

describe('resolveInWorkspace: symlinks that lead outside', () => {
  it('refuses a symlink to a file outside the workspace', () => {
    symlinkSync(join(outside, 'secret.txt'), join(workspace, 'innocent.txt'));
    expect(refusal('innocent.txt')).toMatchObject({ status: 403, code: 'path_outside_workspace' });
  });

  it('refuses a path through a symlinked folder that leads outside', () => {
    symlinkSync(outside, join(workspace, 'datasets', 'escape'));
    const error = refusal('datasets/escape/secret.txt');
    expect(error).toMatchObject({ status: 403, code: 'path_outside_workspace' });
    expect(error.refusal.message).toContain('`datasets/escape/secret.txt`: leads outside the workspace');
  });

  it('refuses a file that does not exist yet under a symlinked folder that leads outside', () => {
    symlinkSync(outside, join(workspace, 'outputs'));
    expect(refusal('outputs/run-1/lora.safetensors')).toMatchObject({ code: 'path_outside_workspace' });
    expect(refusal('outputs/new.txt')).toMatchObject({ code: 'path_outside_workspace' });
  });

  it('refuses a symlink to the folder that holds the workspace', () => {
    symlinkSync(sandbox, join(workspace, 'up'));
    expect(refusal('up/outside/secret.txt')).toMatchObject({ code: 'path_outside_workspace' });
    expect(refusal('up')).toMatchObject({ code: 'path_outside_workspace' });
  });

  it('refuses a symlink to a sibling whose name starts like the workspace', () => {
    const sibling = `${workspace}-evil`;
    mkdirSync(sibling);
    symlinkSync(sibling, join(workspace, 'sibling'));
    expect(refusal('sibling/x.txt')).toMatchObject({ code: 'path_outside_workspace' });
  });

  it('refuses a dangling symlink, which a write would follow to wherever it points', () => {
    symlinkSync(join(outside, 'not-yet.txt'), join(workspace, 'dangling.txt'));
    expect(refusal('dangling.txt')).toMatchObject({ status: 403, code: 'path_unresolvable' });
    symlinkSync(join(outside, 'no-folder'), join(workspace, 'dangling-folder'));
    expect(refusal('dangling-folder/new.txt')).toMatchObject({ code: 'path_unresolvable' });
  });

  it('refuses a symlink loop', () => {
    symlinkSync(join(workspace, 'loop-b'), join(workspace, 'loop-a'));
    symlinkSync(join(workspace, 'loop-a'), join(workspace, 'loop-b'));
    expect(refusal('loop-a/x')).toMatchObject({ status: 403, code: 'path_unresolvable' });
  });
});
