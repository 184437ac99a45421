// The covers form's body passes the server's own request schema.
import { describe, expect, it } from 'vitest';
import { coverRequestSchema } from '../../../src/covers/request.js';
import { coverBody, STARTING_COVER_FORM } from './index.js';

describe('coverBody', () => {
  it('puts the place under its level and leaves empty fields to the server', () => {
    const body = coverBody({ ...STARTING_COVER_FORM, place: ' 杭州 ', title: '雨中江南', size: '64x64' });
    expect(body).toEqual({ city: '杭州', title: '雨中江南', n: 1, size: '64x64', title_on_image: true });
    expect(coverRequestSchema.parse(body)).toMatchObject({ city: '杭州', n: 1, size: '64x64' });
  });

  it('sends seed, count, prompt and a region as typed', () => {
    const body = coverBody({
      ...STARTING_COVER_FORM,
      level: 'region',
      place: '江南',
      title: 'Rainy Jiangnan',
      prompt: 'stone bridge',
      n: '2',
      seed: '7',
      titleOnImage: false,
    });
    expect(body).toEqual({
      region: '江南',
      title: 'Rainy Jiangnan',
      prompt: 'stone bridge',
      n: 2,
      seed: 7,
      size: '512x512',
      title_on_image: false,
    });
    expect(coverRequestSchema.safeParse(body).success).toBe(true);
  });
});
