// The `ss_*` / `modelspec.*` training metadata sd-scripts (and we) write, summarised for `inspect`
// (docs/formats/ss-metadata.md §2, §3). Pure; a malformed value becomes a problem line, never an exception.

export interface DatasetFolder {
  name: string;
  images: number | null;
  repeats: number | null;
}

export interface TrainingSummary {
  outputName: string | null;
  title: string | null;
  baseModel: { name: string | null; version: string | null; hash: string | null };
  network: { module: string | null; dim: string | null; alpha: string | null; args: Record<string, string> | null };
  steps: number | null;
  maxSteps: number | null;
  epoch: number | null;
  epochs: number | null;
  resolution: string | null;
  learningRate: { base: string | null; unet: string | null; textEncoder: string | null };
  optimizer: string | null;
  scheduler: string | null;
  /** `ss_mixed_precision`: `no` (fp32), `fp16` or `bf16`. */
  mixedPrecision: string | null;
  trainImages: number | null;
  datasets: DatasetFolder[];
  /** Tags over all dataset folders, most frequent first (at most 20). */
  topTags: Array<{ tag: string; count: number }>;
  distinctTags: number;
  startedAt: string | null;
  finishedAt: string | null;
}

const TOP_TAGS = 20;

/** null when the file carries no training metadata at all. */
export function summarizeTraining(
  metadata: Readonly<Record<string, string>>,
  problems: string[],
): TrainingSummary | null {
  if (!Object.keys(metadata).some((key) => key.startsWith('ss_') || key.startsWith('modelspec.'))) return null;
  const text = (key: string) => present(metadata[key]);
  const tags = tagCounts(metadata.ss_tag_frequency, problems);
  return {
    outputName: text('ss_output_name'),
    title: text('modelspec.title'),
    baseModel: {
      name: text('ss_sd_model_name'),
      version: text('ss_base_model_version') ?? text('modelspec.architecture'),
      hash: text('ss_new_sd_model_hash')?.slice(0, 10) ?? text('ss_sd_model_hash'),
    },
    network: {
      module: text('ss_network_module'),
      dim: text('ss_network_dim'),
      alpha: text('ss_network_alpha'),
      args: networkArgs(metadata.ss_network_args, problems),
    },
    steps: integer(metadata.ss_steps),
    maxSteps: integer(metadata.ss_max_train_steps),
    epoch: integer(metadata.ss_epoch),
    epochs: integer(metadata.ss_num_epochs),
    resolution: text('ss_resolution') ?? text('modelspec.resolution'),
    learningRate: { base: text('ss_learning_rate'), unet: text('ss_unet_lr'), textEncoder: text('ss_text_encoder_lr') },
    optimizer: text('ss_optimizer'),
    scheduler: text('ss_lr_scheduler'),
    mixedPrecision: text('ss_mixed_precision'),
    trainImages: integer(metadata.ss_num_train_images),
    datasets: datasetFolders(metadata.ss_dataset_dirs, problems),
    topTags: tags.slice(0, TOP_TAGS),
    distinctTags: tags.length,
    startedAt: unixTime(metadata.ss_training_started_at),
    finishedAt: unixTime(metadata.ss_training_finished_at),
  };
}

/** sd-scripts writes Python's `str(None)` for unset values. */
function present(value: string | undefined): string | null {
  return value === undefined || value === 'None' || value === '' ? null : value;
}

function integer(value: string | undefined): number | null {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}

function unixTime(value: string | undefined): string | null {
  const seconds = Number(value);
  return value !== undefined && Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000).toISOString() : null;
}

function parseJson(value: string | undefined, key: string, problems: string[]): unknown {
  if (present(value) === null) return undefined;
  try {
    return JSON.parse(value!);
  } catch {
    problems.push(`metadata \`${key}\` is not JSON`);
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function networkArgs(value: string | undefined, problems: string[]): Record<string, string> | null {
  const parsed = parseJson(value, 'ss_network_args', problems);
  return isRecord(parsed) ? Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)])) : null;
}

/** `ss_dataset_dirs`: `{"10_mychar": {"n_repeats": 10, "img_count": 25}}`. */
function datasetFolders(value: string | undefined, problems: string[]): DatasetFolder[] {
  const parsed = parseJson(value, 'ss_dataset_dirs', problems);
  if (!isRecord(parsed)) return [];
  return Object.entries(parsed).map(([name, entry]) => ({
    name,
    images: isRecord(entry) && typeof entry.img_count === 'number' ? entry.img_count : null,
    repeats: isRecord(entry) && typeof entry.n_repeats === 'number' ? entry.n_repeats : null,
  }));
}

/** `ss_tag_frequency`: `{"10_mychar": {"1girl": 25}}`, merged over folders. */
function tagCounts(value: string | undefined, problems: string[]): Array<{ tag: string; count: number }> {
  const parsed = parseJson(value, 'ss_tag_frequency', problems);
  if (!isRecord(parsed)) return [];
  const counts = new Map<string, number>();
  for (const folder of Object.values(parsed)) {
    if (!isRecord(folder)) continue;
    for (const [tag, count] of Object.entries(folder))
      if (typeof count === 'number') counts.set(tag, (counts.get(tag) ?? 0) + count);
  }
  return [...counts]
    .map(([tag, count]) => ({ tag, count }))
    .sort((a, b) => b.count - a.count || (a.tag < b.tag ? -1 : 1));
}
