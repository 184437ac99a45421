// Download names and their Content-Disposition header (RFC 6266 + RFC 5987).
import { describe, expect, it } from 'vitest';
import { contentDisposition, downloadName } from './download-name.js';

describe('downloadName', () => {
  it('keeps the name of a file sent as it is and marks a converted copy with its format', () => {
    expect(downloadName('demo.safetensors', null)).toBe('demo.safetensors');
    expect(downloadName('demo.safetensors', 'diffusers')).toBe('demo-diffusers.safetensors');
    expect(downloadName('pytorch_lora_weights.safetensors', 'kohya')).toBe('pytorch_lora_weights-kohya.safetensors');
  });
});

describe('contentDisposition', () => {
  it('sends an ASCII name as it is, in both parameters', () => {
    expect(contentDisposition('demo-step100.safetensors')).toBe(
      `attachment; filename="demo-step100.safetensors"; filename*=UTF-8''demo-step100.safetensors`,
    );
  });

  it('percent-encodes a non-ASCII name as UTF-8 and gives old clients an ASCII stand-in', () => {
    const header = contentDisposition('江南 (v2).safetensors');
    expect(header).toBe(
      `attachment; filename="__ (v2).safetensors"; filename*=UTF-8''%E6%B1%9F%E5%8D%97%20%28v2%29.safetensors`,
    );
    const encoded = /filename\*=UTF-8''(.*)$/.exec(header)?.[1] ?? '';
    expect(decodeURIComponent(encoded)).toBe('江南 (v2).safetensors');
  });

  it('cannot be broken out of by quotes, backslashes or line breaks in the name', () => {
    const header = contentDisposition('a"b\\c\r\nSet-Cookie: x.safetensors');
    expect(header).not.toMatch(/[\r\n]/);
    expect(header.startsWith('attachment; filename="a_b_c__Set-Cookie: x.safetensors"; ')).toBe(true);
  });
});
