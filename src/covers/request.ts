// What a cover request may hold, for the API and the CLI alike: where the reader is, the title, and how many
// pictures of what size. Pure.
import { z } from 'zod';

/** A cover is a small picture; more than this many per request belongs in a batch job, not a request. */
export const MAX_COVERS_PER_REQUEST = 8;
export const DEFAULT_COVER_SIZE = '512x512';
const MIN_SIDE_PX = 64;
const MAX_SIDE_PX = 2048;
const SEED_MAX = 2 ** 32 - 1;

const placeName = z.string().trim().min(1).max(100);

/** `WIDTHxHEIGHT`, each side 64–2048 px and a multiple of 8 (the VAE's factor: other sizes would be cropped). */
export const coverSizeSchema = z
  .string()
  .regex(/^\d{2,4}x\d{2,4}$/, { error: 'send `WIDTHxHEIGHT`, e.g. `512x512`' })
  .refine(
    (size) =>
      size
        .split('x')
        .map(Number)
        .every((side) => side >= MIN_SIDE_PX && side <= MAX_SIDE_PX && side % 8 === 0),
    { error: `each side from ${MIN_SIDE_PX} to ${MAX_SIDE_PX} px and a multiple of 8` },
  );

export const coverRequestSchema = z
  .strictObject({
    region: placeName.optional().describe('A region (`江南`, `west`): the broadest place level'),
    province: placeName.optional().describe('A province (`浙江`)'),
    city: placeName.optional().describe('A city (`杭州`): the most specific place level, tried first'),
    title: z.string().trim().min(1).max(200).describe("The cover's title: in the prompt template, and on the picture"),
    prompt: z.string().max(1000).optional().describe("Extra prompt words: the style template's `{prompt}`"),
    n: z.number().int().min(1).max(MAX_COVERS_PER_REQUEST).default(1).describe('How many covers'),
    seed: z
      .number()
      .int()
      .min(0)
      .max(SEED_MAX)
      .optional()
      .describe('Seed of the first cover, cover i gets seed + i (default: one derived from the title and prompt)'),
    size: coverSizeSchema.default(DEFAULT_COVER_SIZE).describe('`WIDTHxHEIGHT` in px'),
    title_on_image: z.boolean().default(true).describe('Set the title on the picture, on a band across the bottom'),
  })
  .refine((request) => request.region ?? request.province ?? request.city, {
    error: 'send `city`, `province` or `region`: the place whose style the covers are made in',
    path: ['region'],
  });

export type CoverRequestInput = z.input<typeof coverRequestSchema>;
export type CoverRequest = z.output<typeof coverRequestSchema>;

/** The place as the library resolves it (city, then province, then region, then the default). */
export function placeOf(request: CoverRequest): { city?: string; province?: string; region?: string } {
  return {
    ...(request.city === undefined ? {} : { city: request.city }),
    ...(request.province === undefined ? {} : { province: request.province }),
    ...(request.region === undefined ? {} : { region: request.region }),
  };
}

export function sizeOf(request: CoverRequest): { width: number; height: number } {
  const [width, height] = request.size.split('x').map(Number) as [number, number];
  return { width, height };
}
