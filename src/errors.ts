// The one error hierarchy: every failure a user can fix is a LoraScriptsError with a culprit and a hint.

/** Exit codes: 1 for a failure the user can fix, 2 for a usage error, 70 for an internal error, 130 for Ctrl-C. */
export const EXIT_CODES = { userError: 1, usage: 2, internal: 70, interrupted: 130 } as const;

export interface ErrorDetails {
  /** Machine-readable code, e.g. `unknown_key`, `image_unreadable`. */
  code: string;
  /** The file, key, image or line at fault (printed first). */
  culprit?: string;
  /** What to do about it (printed after a blank line as `hint: …`). */
  hint?: string;
  cause?: unknown;
}

export class LoraScriptsError extends Error {
  readonly code: string;
  readonly culprit: string | undefined;
  readonly hint: string | undefined;
  readonly exitCode: number = EXIT_CODES.userError;

  constructor(message: string, details: ErrorDetails) {
    super(message, { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code;
    this.culprit = details.culprit;
    this.hint = details.hint;
  }

  /** `culprit: message` — the one line the CLI prints after `error: `. */
  get line(): string {
    return this.culprit ? `${this.culprit}: ${this.message}` : this.message;
  }
}

export class ConfigError extends LoraScriptsError {}
export class DatasetError extends LoraScriptsError {}
export class EngineError extends LoraScriptsError {}
export class ProtocolError extends LoraScriptsError {}
export class LoraFileError extends LoraScriptsError {}
/** A base model that is not one (a LoRA, a VAE, a truncated file…), found by src/checkpoint before any work. */
export class CheckpointError extends LoraScriptsError {}

export class UsageError extends LoraScriptsError {
  override readonly exitCode: number = EXIT_CODES.usage;
}

/** Raised when the user pressed Ctrl-C; the CLI exits 130 after the engine saved what it had. */
export class InterruptedError extends LoraScriptsError {
  override readonly exitCode: number = EXIT_CODES.interrupted;
}
