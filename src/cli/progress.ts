// Terminal view of a training run: a progress bar on a TTY, plain lines otherwise. Writes to stderr only.
import type { EngineEvent } from '../engine/index.js';

export interface ProgressView {
  onEvent(event: EngineEvent): void;
  /** A message between events (e.g. conversion results); clears the bar first. */
  note(line: string): void;
  finish(): void;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** One status line: `epoch 2/10 step 40/600 [=====>    ] loss 0.1130 1.23 it/s 180 GFLOP/s ETA 7:35`. */
export function progressLine(
  event: Extract<EngineEvent, { type: 'progress' }>,
  epochs: number,
  meanStepMs = event.step_ms,
  width = 24,
): string {
  const fraction = event.step / Math.max(1, event.total_steps);
  const filled = Math.round(fraction * width);
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? '>' : '') + ' '.repeat(width - filled);
  const itPerS = 1000 / Math.max(meanStepMs, 1e-6);
  const eta = (event.total_steps - event.step) / itPerS;
  // Achieved compute next to it/s: how close the step runs to what the device can do (GFLOP/s reads better on a CPU).
  const throughput =
    event.tflops === undefined
      ? ''
      : event.tflops >= 1
        ? ` ${event.tflops.toFixed(1)} TFLOP/s`
        : ` ${(event.tflops * 1000).toFixed(0)} GFLOP/s`;
  return `epoch ${event.epoch}/${epochs} step ${event.step}/${event.total_steps} [${bar}] loss ${event.loss_smoothed.toFixed(4)} ${itPerS.toFixed(2)} it/s${throughput} ETA ${formatDuration(eta)}`;
}

export function createProgressView(stream: NodeJS.WriteStream, isQuiet = false): ProgressView {
  const isTty = Boolean(stream.isTTY) && !process.env.CI;
  let epochs = 0;
  let barShown = false;
  let lastPlainPercent = -1;
  // Step time averaged over the last ~20 steps: the first steps are slow (warm-up) and single steps are noisy.
  let meanStepMs: number | undefined;
  const clearBar = () => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  const say = (line: string) => {
    if (isQuiet) return;
    clearBar();
    stream.write(`${line}\n`);
  };
  return {
    note: say,
    finish: clearBar,
    onEvent(event) {
      switch (event.type) {
        case 'hello':
          return say(`engine ${event.engine} on ${event.device} (${event.dtype}: ${event.dtype_reason})`);
        case 'stage':
          return say(event.message);
        case 'started': {
          epochs = event.epochs;
          const targets = event.targets
            .map((t) => `${t.name}: ${t.unet}${t.text_encoder ? ` + ${t.text_encoder} text-encoder` : ''}`)
            .join(', ');
          say(
            `${event.family} base model (${event.prediction_type}), ${event.resolution} px, ${event.num_images} images`,
          );
          const denoiser = event.family === 'flux' ? 'transformer' : 'UNet'; // `layers.unet` counts the denoiser's
          say(
            `LoRA on ${event.layers.unet} ${denoiser} + ${event.layers.text_encoder} text-encoder layers (${targets}); ${event.trainable_params.toLocaleString('en')} trainable parameters`,
          );
          return say(
            `training ${event.total_steps} steps over ${event.epochs} epochs (${event.steps_per_epoch} steps each)`,
          );
        }
        case 'progress': {
          meanStepMs =
            meanStepMs === undefined || event.step <= 2 ? event.step_ms : 0.95 * meanStepMs + 0.05 * event.step_ms;
          if (isQuiet) return;
          if (isTty) {
            stream.write(`\r\x1b[2K${progressLine(event, epochs, meanStepMs)}`);
            barShown = event.step !== event.total_steps;
            if (!barShown) stream.write('\n'); // the last bar stays on screen as the run's summary
            return;
          }
          const percent = Math.floor((event.step / event.total_steps) * 10) * 10;
          if (percent !== lastPlainPercent || event.step === event.total_steps) {
            lastPlainPercent = percent;
            say(progressLine(event, epochs, meanStepMs));
          }
          return;
        }
        case 'warning':
          return say(`warning: ${event.message}${event.hint ? `\n  hint: ${event.hint}` : ''}`);
        case 'validation':
          return say(
            `validation loss ${event.loss.toFixed(4)} at step ${event.step} (${event.images} held-out pictures)`,
          );
        case 'sample':
          return say(`sample at step ${event.step}: ${event.path}`);
        default:
          return;
      }
    },
  };
}
