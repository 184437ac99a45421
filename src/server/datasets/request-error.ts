// Pure: the error every dataset route throws for a request it cannot serve, with its HTTP status and the field at fault.
import { LoraScriptsError } from '../../errors.js';

export type DatasetErrorStatus = 400 | 404 | 409 | 413;

export interface DatasetErrorDetails {
  code: string;
  /** What the message is about: a file, a name (printed first, as the CLI does). */
  culprit?: string;
  hint?: string;
  /** The request field at fault (`name`, `file`, `files`), for the client to point at. */
  field?: string;
}

export class DatasetRequestError extends LoraScriptsError {
  readonly status: DatasetErrorStatus;
  readonly field: string | undefined;

  constructor(status: DatasetErrorStatus, message: string, details: DatasetErrorDetails) {
    super(message, details);
    this.status = status;
    this.field = details.field;
  }

  /** The `{error}` body of the API contract. */
  get body() {
    return {
      error: {
        code: this.code,
        message: this.line,
        ...(this.hint ? { hint: this.hint } : {}),
        ...(this.field ? { field: this.field } : {}),
      },
    };
  }
}

export function datasetNotFound(name: string): DatasetRequestError {
  return new DatasetRequestError(404, 'no such dataset in the workspace', {
    code: 'dataset_not_found',
    culprit: `dataset \`${name}\``,
    hint: 'GET /api/datasets lists them; POST /api/datasets {name} makes one',
    field: 'name',
  });
}
