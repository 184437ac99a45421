// Pure: the error every dataset route throws for a request it cannot serve, with its HTTP status and the field at fault.
import { RequestRefused } from '../security/index.js';

/** A RequestRefused of the dataset routes; the app renders its status, hint and field like any other. */
export class DatasetRequestError extends RequestRefused {}

export function datasetNotFound(name: string): DatasetRequestError {
  return new DatasetRequestError(404, 'no such dataset in the workspace', {
    code: 'dataset_not_found',
    culprit: `dataset \`${name}\``,
    hint: 'GET /api/datasets lists them; POST /api/datasets {name} makes one',
    field: 'name',
  });
}
