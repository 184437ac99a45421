// The typed error every src/lora function throws for a bad or unconvertible LoRA file (part of src/errors.ts).
export { LoraFileError } from '../errors.js';
