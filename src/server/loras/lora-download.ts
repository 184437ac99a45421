// A LoRA file ready to stream: the file itself, or a copy converted to the other key format in a temp folder that
// is gone by the time the last byte is sent.
import { closeSync, createReadStream, fstatSync, mkdtempSync, openSync, type ReadStream, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { LoraScriptsError } from '../../errors.js';
import { convertLoraFile } from '../../lora/index.js';
import { contentDisposition, downloadName } from './download-name.js';
import type { LoraKeyFormat } from './lora-entry.js';
import { openLoraFile, renamePathsIn } from './lora-files.js';

export interface LoraDownload {
  /** The bytes to send; the stream closes its file (and removes a converted copy) when it ends or is destroyed. */
  stream: ReadStream;
  bytes: number;
  /** The name the client saves it under, and the header that says so. */
  name: string;
  contentDisposition: string;
}

/** The file at `path` in `format` (left out: as it is); a LoRA in the other format is converted first. */
export async function prepareLoraDownload(
  workspace: string,
  path: string,
  format: LoraKeyFormat | undefined,
): Promise<LoraDownload> {
  const lora = openLoraFile(workspace, path, { shouldHash: false });
  const convertTo = format === undefined || format === lora.format ? null : format;
  if (convertTo !== null && !lora.report.format.isConvertible) throw notConvertible(path, lora.report.format.variant);
  const name = downloadName(posix.basename(path), convertTo);
  const file =
    convertTo === null ? openForReading(lora.absolute) : await convertedCopy(lora.absolute, path, convertTo, name);
  return {
    stream: createReadStream('', { fd: file.fd, autoClose: true }).once('close', file.cleanup),
    bytes: file.bytes,
    name,
    contentDisposition: contentDisposition(name),
  };
}

interface OpenedFile {
  fd: number;
  bytes: number;
  cleanup: () => void;
}

function openForReading(path: string, cleanup: () => void = () => {}): OpenedFile {
  const fd = openSync(path, 'r');
  try {
    return { fd, bytes: fstatSync(fd).size, cleanup };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

async function convertedCopy(input: string, path: string, to: LoraKeyFormat, name: string): Promise<OpenedFile> {
  const folder = mkdtempSync(join(tmpdir(), 'lora-download-'));
  const remove = () => rmSync(folder, { recursive: true, force: true });
  const output = join(folder, name);
  try {
    await convertLoraFile({ input, output, to });
  } catch (error) {
    remove();
    throw renamePathsIn(error, [
      [output, name],
      [input, path],
    ]);
  }
  const opened = openForReading(output, remove);
  // Unlinked while open, the copy lives until the stream closes its descriptor and cannot outlive the server;
  // where an open file cannot be removed (Windows), the stream's close removes it.
  try {
    remove();
    return { ...opened, cleanup: () => {} };
  } catch {
    return opened;
  }
}

function notConvertible(path: string, variant: string): LoraScriptsError {
  return new LoraScriptsError(`is a ${variant} LoRA, which the other key format cannot hold`, {
    code: 'lora_not_convertible',
    culprit: `\`${path}\``,
    hint: 'download it without `format`',
  });
}
