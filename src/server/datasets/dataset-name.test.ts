// Dataset names: what may be a folder under datasets/, and the dataset a job's `dataset` path names.
import { describe, expect, it } from 'vitest';
import { checkDatasetName, datasetNameOfPath, isDatasetName } from './dataset-name.js';
import { DatasetRequestError } from './request-error.js';

describe('dataset names', () => {
  it.each(['cats', 'jiangnan_style', 'v-2', '江南', 'ねこ', '고양이', 'A1', 'x'.repeat(64), '江'.repeat(64)])(
    'takes %s',
    (name) => {
      expect(isDatasetName(name)).toBe(true);
    },
  );

  it.each(['', '.', '..', '.hidden', 'a/b', 'a\\b', 'a b', 'a.b', 'x'.repeat(65), 'ü', 'кот', 'a\u0000', 'C:'])(
    'refuses %j',
    (name) => {
      expect(isDatasetName(name)).toBe(false);
      const error = (() => {
        try {
          checkDatasetName(name);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(DatasetRequestError);
      expect(error).toMatchObject({ status: 400, code: 'dataset_name_invalid', field: 'name' });
    },
  );

  it('names the dataset of a job path, however it is spelled', () => {
    expect(datasetNameOfPath('datasets/cats')).toBe('cats');
    expect(datasetNameOfPath('./datasets/cats/')).toBe('cats');
    expect(datasetNameOfPath('datasets//cats')).toBe('cats');
    expect(datasetNameOfPath('datasets/cats/sub')).toBeNull();
    expect(datasetNameOfPath('data/cats')).toBeNull();
    expect(datasetNameOfPath('datasets/a b')).toBeNull();
  });
});
