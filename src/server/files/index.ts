// Serving workspace files: what type each is sent as, which are private, and their cached thumbnails.
export { contentTypeOf, type FileType, isPrivatePath } from './content-type.js';
/**
 * @example const thumb = await thumbnailOf(workspace, file, await stat(file), 256); // thumb.path is a JPEG
 */
export { THUMB_SIZES, type Thumbnail, thumbnailOf } from './thumbnail.js';
