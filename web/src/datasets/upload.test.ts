// Folder uploads are sent as paths inside the chosen folder.
import { describe, expect, it } from 'vitest';
import { uploadNames } from './upload.js';

describe('uploadNames', () => {
  it('drops the chosen folder, keeping subfolders', () => {
    expect(uploadNames(['cats/a.png', 'cats/a.txt', 'cats/more/b.png'])).toEqual(['a.png', 'a.txt', 'more/b.png']);
  });
  it('leaves plain files and mixed tops as they are', () => {
    expect(uploadNames(['a.png', 'b.png'])).toEqual(['a.png', 'b.png']);
    expect(uploadNames(['x/a.png', 'y/b.png'])).toEqual(['x/a.png', 'y/b.png']);
  });
});
