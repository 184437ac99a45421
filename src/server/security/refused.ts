// The one error a request gets refused with: an HTTP status and a code, so the server renders it without a lookup.
import { LoraScriptsError } from '../../errors.js';

/**
 * 400 bad input, 401 no or wrong token, 403 not allowed from here, 404 no such thing, 409 not in this state,
 * 413 too large, 429 too many at once.
 */
export type RefusalStatus = 400 | 401 | 403 | 404 | 409 | 413 | 429;

/** What the client is told: `message` is one line that names the field or path and says what to do. */
export interface Refusal {
  status: RefusalStatus;
  code: string;
  message: string;
  hint?: string;
  /** The request field at fault (`name`, `config.train_data_dir`), for the client to point at. */
  field?: string;
}

export interface RefusalDetails {
  code: string;
  /** What the message is about: a path, a name (printed first, as the CLI does). */
  culprit?: string;
  hint?: string;
  field?: string;
}

export class RequestRefused extends LoraScriptsError {
  readonly status: RefusalStatus;
  readonly field: string | undefined;

  constructor(status: RefusalStatus, message: string, details: RefusalDetails) {
    super(message, details);
    this.status = status;
    this.field = details.field;
  }

  /** The response body: the culprit leads the message, as the CLI prints it. */
  get refusal(): Refusal {
    return {
      status: this.status,
      code: this.code,
      message: this.line,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(this.field ? { field: this.field } : {}),
    };
  }
}

/** A path or name as it can be shown in a message: quoted in backticks, control characters such as NUL escaped. */
export function showPath(path: string): string {
  return `\`${JSON.stringify(path).slice(1, -1)}\``;
}
