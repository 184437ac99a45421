// The datasets part of the HTTP contract: every request and response body of /api/datasets as a zod schema.
import { z } from '@hono/zod-openapi';
import { isDatasetName, MAX_NAME_CHARS } from './dataset-name.js';
import { MAX_TRIGGER_WORD_CHARS } from './dataset-settings.js';

/** A caption longer than this is not a caption (CLIP reads 75 tokens); it also bounds a lint call's work. */
export const MAX_CAPTION_CHARS = 10_000;

const datasetName = z.string().refine(isDatasetName, {
  error: `send a dataset name of at most ${MAX_NAME_CHARS} letters, digits, \`_\`, \`-\` or CJK characters`,
});

export const datasetParamsSchema = z.object({ name: datasetName });

const isoTime = z.iso.datetime();

export const datasetSummarySchema = z
  .strictObject({
    name: z.string(),
    /** Workspace-relative: `datasets/<name>`. */
    path: z.string(),
    images: z.number().int().nonnegative(),
    /** Pictures with a non-empty `<stem>.txt` caption. */
    captioned: z.number().int().nonnegative(),
    trigger_word: z.string().nullable(),
    /** The newest change to the folder, a picture, a caption or the settings. */
    updated_at: isoTime,
  })
  .meta({ id: 'Dataset' });

export const datasetListSchema = z
  .strictObject({ datasets: z.array(datasetSummarySchema) })
  .meta({ id: 'DatasetList' });

export const newDatasetBodySchema = z.strictObject({ name: datasetName }).meta({ id: 'NewDataset' });

const uploadedFile = z
  .custom<File>((value) => value instanceof File, { error: 'send a file part' })
  .meta({
    type: 'string',
    format: 'binary',
  });

/** One or more `files` parts; a folder upload sends each file's relative path as its filename. */
export const uploadFormSchema = z
  .strictObject({
    // Optional here so that a form of only unknown parts is refused naming them; no file at all is refused later.
    files: z
      .union([uploadedFile, z.array(uploadedFile)], { error: 'send each file as a `files` part with a filename' })
      .optional(),
  })
  .meta({ id: 'DatasetUploadForm' });

export const uploadResultSchema = z
  .strictObject({
    dataset: datasetSummarySchema,
    /** Dataset-relative paths of the files written. */
    added: z.array(z.string()),
    skipped: z.array(z.strictObject({ file: z.string(), reason: z.string() })),
  })
  .meta({ id: 'DatasetUpload' });

export const datasetDetailSchema = z
  .strictObject({
    name: z.string(),
    path: z.string(),
    trigger_word: z.string().nullable(),
    images: z.array(
      z.strictObject({
        /** Relative to the dataset folder. */
        file: z.string(),
        /** Relative to the workspace, for `/api/files/{path}`. */
        path: z.string(),
        caption: z.string().nullable(),
        /** After EXIF orientation, as training sees it; 0 when the picture cannot be read. */
        width: z.number().int().nonnegative(),
        height: z.number().int().nonnegative(),
        bytes: z.number().int().nonnegative(),
      }),
    ),
  })
  .meta({ id: 'DatasetDetail' });

const caption = z
  .string()
  .max(MAX_CAPTION_CHARS, { error: `send a caption of at most ${MAX_CAPTION_CHARS} characters` });
const imageFile = z.string().min(1, { error: 'send the picture, relative to the dataset folder' });

export const captionLintSchema = z
  .strictObject({
    findings: z.array(
      z.strictObject({
        rule: z.string(),
        severity: z.enum(['error', 'warning', 'info']),
        message: z.string(),
        hint: z.string(),
      }),
    ),
    /** CLIP tokens of the caption; the text encoder reads `limit`, the rest is cut. */
    tokens: z.strictObject({ count: z.number().int().nonnegative(), limit: z.number().int().positive() }),
  })
  .meta({ id: 'CaptionLint' });

export const captionEditBodySchema = z.strictObject({ file: imageFile, caption }).meta({ id: 'CaptionEdit' });

export const captionSavedSchema = z
  .strictObject({ file: z.string(), caption: z.string(), lint: captionLintSchema })
  .meta({ id: 'CaptionSaved' });

export const lintBodySchema = z
  .strictObject({ caption, file: imageFile.optional() })
  .meta({ id: 'CaptionLintRequest' });

const replaceText = z.string().max(1000, { error: 'send at most 1000 characters' });

export const replaceBodySchema = z
  .strictObject({
    find: replaceText.min(1, { error: 'send the text to find' }),
    replace: replaceText,
    /** true: only say what would change. */
    dry_run: z.boolean().default(false),
  })
  .meta({ id: 'CaptionReplace' });

export const replaceResultSchema = z
  .strictObject({ changed: z.array(z.strictObject({ file: z.string(), before: z.string(), after: z.string() })) })
  .meta({ id: 'CaptionReplaceResult' });

const triggerWord = z
  .string()
  .trim()
  .min(1, { error: 'send a trigger word, or null for none' })
  .max(MAX_TRIGGER_WORD_CHARS, { error: `send a trigger word of at most ${MAX_TRIGGER_WORD_CHARS} characters` })
  .refine((word) => !/[,\p{Cc}]/u.test(word), {
    error: 'a trigger word holds no comma or control character (captions separate tags with commas)',
  });

export const settingsBodySchema = z
  .strictObject({ trigger_word: triggerWord.nullable() })
  .meta({ id: 'DatasetSettings' });

export const datasetReportSchema = z
  .strictObject({
    job_id: z.string(),
    images: z.array(
      z.strictObject({
        file: z.string(),
        path: z.string(),
        status: z.enum(['ok', 'warning', 'excluded']),
        reasons: z.array(z.strictObject({ code: z.string(), message: z.string(), hint: z.string() })),
      }),
    ),
    summary: z.strictObject({
      images: z.number().int(),
      kept: z.number().int(),
      excluded: z.number().int(),
      warnings: z.number().int(),
      rotated_upright: z.number().int(),
      by_rule: z.record(z.string(), z.number().int()),
    }),
  })
  .meta({ id: 'DatasetReport' });
