// The covers page's form as a request body (pure): one place (city, province or region), the title, how many.
import type { CoverRequestBody } from '../api/index.js';

export type CoverPlaceLevel = 'city' | 'province' | 'region';

export interface CoverForm {
  level: CoverPlaceLevel;
  place: string;
  title: string;
  prompt: string;
  /** As typed; empty: 1. */
  n: string;
  /** As typed; empty: one derived from the title. */
  seed: string;
  /** `WIDTHxHEIGHT`; empty: the server's default. */
  size: string;
  titleOnImage: boolean;
}

export const STARTING_COVER_FORM: CoverForm = {
  level: 'city',
  place: '',
  title: '',
  prompt: '',
  n: '1',
  seed: '',
  size: '512x512',
  titleOnImage: true,
};

export const COVER_SIZES = ['64x64', '256x256', '512x512', '512x768', '768x512'] as const;

export function coverBody(form: CoverForm): CoverRequestBody {
  const n = form.n.trim();
  const seed = form.seed.trim();
  const size = form.size.trim();
  return {
    [form.level]: form.place.trim(),
    title: form.title.trim(),
    ...(form.prompt.trim() === '' ? {} : { prompt: form.prompt.trim() }),
    n: n === '' ? 1 : Number(n),
    ...(seed === '' ? {} : { seed: Number(seed) }),
    ...(size === '' ? {} : { size }),
    title_on_image: form.titleOnImage,
  };
}
