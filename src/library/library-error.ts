// The one error class of the style library; server/http-errors.ts maps each code to its status.
import { LoraScriptsError } from '../errors.js';

/**
 * Codes: `style_not_found`, `style_version_not_found`, `region_not_found` (404); `illegal_version_transition`,
 * `no_promoted_version` (409); `invalid_prompt_template`, `invalid_region`, `library_file_unreadable` (400).
 */
export class LibraryError extends LoraScriptsError {}

export function styleNotFound(name: string): LibraryError {
  return new LibraryError('no such style in the library', {
    code: 'style_not_found',
    culprit: `style \`${name}\``,
    hint: '`lora-scripts library list` (or `GET /api/library/styles`) lists the styles; `library add` makes one',
  });
}

export function versionNotFound(style: string, version: number): LibraryError {
  return new LibraryError(`style \`${style}\` has no version ${version}`, {
    code: 'style_version_not_found',
    culprit: `style \`${style}\``,
    hint: '`lora-scripts library show STYLE` lists its versions',
  });
}

export function noPromotedVersion(style: string): LibraryError {
  return new LibraryError('has no promoted version', {
    code: 'no_promoted_version',
    culprit: `style \`${style}\``,
    hint: 'promote one with `lora-scripts library promote STYLE VERSION`',
  });
}
