// Public API of the generate stage.
/** `await renderStrengths({baseModel, lora, prompts, seeds: [0], strengths: [0, 0.7], …})` → one PNG per cell. */
export { renderStrengths, type RenderStrengthsOptions, type RenderedImage } from './render-strengths.js';
/** `await writeStrengthGrid(images, 'grid.png', 128)`: a column per strength, a row per prompt and seed. */
export { writeStrengthGrid } from './grid.js';
