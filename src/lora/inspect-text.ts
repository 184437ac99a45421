// The human-readable form of an inspect report (the CLI prints it; `--json` prints the report itself). Pure.
import { fluxBlockCounts } from './flux-inspect.js';
import type { FamilyName, InspectReport, ModuleReport } from './inspect.js';
import type { TrainingSummary } from './training-summary.js';

const FAMILY_NAMES: Readonly<Record<FamilyName, string>> = {
  sd1: 'SD 1.x',
  sd2: 'SD 2.x',
  sdxl: 'SDXL',
  'sd1-or-sd2': 'SD 1.x or 2.x',
  flux: 'Flux.1',
};
const COMPONENT_NAMES = { unet: 'unet', text_encoder: 'te', text_encoder_2: 'te2' } as const;

export function formatInspectReport(report: InspectReport, options: { showLayers?: boolean } = {}): string {
  const lines: Array<[string, string]> = [
    [
      'file',
      `${report.file} (${formatBytes(report.sizeBytes)}, ${report.tensorCount} tensors: ${Object.entries(report.dtypes)
        .map(([d, n]) => `${d} ${n}`)
        .join(', ')})`,
    ],
    ['format', `${report.format.name} ${report.format.variant}${convertNote(report)}`],
  ];
  // Plain LoRA/LoCon says so in `format` already; LoHa, LoKr and DoRA get a line of their own.
  if (report.modules.length > 0 && report.network.type !== 'lora') lines.push(['network type', networkLine(report)]);
  if (report.modules.length > 0) {
    lines.push(
      ['family', familyLine(report)],
      ['layers', layersLine(report)],
      ['rank', valuesLine(report.ranks)],
      ['alpha', `${valuesLine(report.alphas)}${alphaSources(report.modules)}`],
    );
  }
  if (report.hashes) lines.push(...hashLines(report));
  if (report.training) lines.push(...trainingLines(report.training));
  if (Object.keys(report.loraScripts).length > 0) {
    lines.push([
      'lora-scripts',
      Object.entries(report.loraScripts)
        .map(([k, v]) => `${k.slice('lora_scripts.'.length)} ${shortened(v)}`)
        .join(', '),
    ]);
  }
  for (const problem of report.problems) lines.push(['warning', problem]);
  const text = lines.map(([label, value]) => `${label.padEnd(13)}${value}`).join('\n');
  return options.showLayers ? `${text}\n\n${layerTable(report.modules)}` : text;
}

function convertNote({ format, network }: InspectReport): string {
  if (format.isConvertible) return '';
  // A LyCORIS LoHa/DoRA has a peft form (`convert --to diffusers`), which peft loads and diffusers does not.
  if (format.name === 'lycoris' && (network.type === 'loha' || network.type === 'dora')) return ' (convert: peft only)';
  return ' (convert cannot rewrite it)';
}

/** The network type, and for LyCORIS ones what `merge`, `combine` and `resize` can do with it. */
function networkLine({ network }: InspectReport): string {
  return `${network.name} (merge bakes it into a checkpoint; combine and resize need a plain LoRA)`;
}

/** Long JSON values (a model's architecture) would bury the report; `--json` has them whole. */
function shortened(value: string, maxChars = 100): string {
  return value.length > maxChars ? `${value.slice(0, maxChars - 1)}… (${value.length} chars; --json shows all)` : value;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function familyLine({ family }: InspectReport): string {
  const name = family.name ? FAMILY_NAMES[family.name] : 'unknown';
  const claim =
    family.metadataSays && family.metadataSays !== family.name
      ? `; metadata says ${FAMILY_NAMES[family.metadataSays]}`
      : '';
  return `${name} (${family.basis}${claim})`;
}

function layersLine({ layers, family, modules }: InspectReport): string {
  if (family.name === 'flux') return fluxLayersLine(layers, modules);
  const parts = [
    `unet ${layers.unet}`,
    `text encoder ${layers.textEncoder}`,
    ...(layers.textEncoder2 > 0 ? [`text encoder 2 ${layers.textEncoder2}`] : []),
  ];
  return `${layers.total} (${parts.join(', ')})`;
}

/** Flux's transformer by block kind: `38 (double blocks 24 in 2, single blocks 12 in 2, other 2)`. */
function fluxLayersLine(layers: InspectReport['layers'], modules: readonly ModuleReport[]): string {
  const { double, single, other } = fluxBlockCounts(modules);
  const parts = [
    `double blocks ${double.modules} in ${double.blocks}`,
    `single blocks ${single.modules} in ${single.blocks}`,
    ...(other > 0 ? [`other ${other}`] : []),
    ...(layers.textEncoder + layers.textEncoder2 > 0
      ? [`text encoder ${layers.textEncoder + layers.textEncoder2}`]
      : []),
  ];
  return `${layers.total} (${parts.join(', ')})`;
}

function valuesLine(values: InspectReport['ranks']): string {
  if (values.length === 0) return '-';
  return values.map(({ value, count }) => `${value ?? 'n/a'} ×${count}`).join(', ');
}

function alphaSources(modules: readonly ModuleReport[]): string {
  const sources = new Set(modules.map((m) => m.alphaSource).filter((s) => s !== null && s !== 'tensor'));
  if (sources.has('rank')) return ' (no alpha stored: alpha = rank, scale 1)';
  return sources.has('lora_adapter_metadata') ? ' (from lora_adapter_metadata)' : '';
}

function hashLines({ hashes }: InspectReport): Array<[string, string]> {
  if (!hashes) return [];
  const stored =
    hashes.storedModelHash === null
      ? 'computed: no sshs_model_hash stored'
      : hashes.storedModelHashMatches
        ? 'sshs_model_hash, matches the data'
        : 'sshs_model_hash, DOES NOT match the data';
  return [
    ['hash', `${hashes.webuiLoraHash} (A1111 LoRA hash; ${stored})`],
    ['', `addnet sha256 ${hashes.addnetSha256}`],
    ['', `file sha256 ${hashes.fileSha256} (A1111 model hash ${hashes.webuiModelHash}, legacy ${hashes.legacyHash})`],
  ];
}

function trainingLines(t: TrainingSummary): Array<[string, string]> {
  const lines: Array<[string, string]> = [];
  const base = [t.baseModel.name, t.baseModel.version, t.baseModel.hash].filter(Boolean).join(', ');
  const run = [
    t.outputName ?? t.title,
    base && `base ${base}`,
    t.steps !== null
      ? `${t.steps}${t.maxSteps !== null && t.maxSteps !== t.steps ? `/${t.maxSteps}` : ''} steps`
      : t.maxSteps !== null
        ? `${t.maxSteps} steps planned`
        : null,
    t.epoch !== null
      ? `epoch ${t.epoch}${t.epochs !== null ? `/${t.epochs}` : ''}`
      : t.epochs !== null
        ? `${t.epochs} epochs`
        : null,
    t.resolution && `resolution ${t.resolution}`,
  ].filter(Boolean);
  if (run.length > 0) lines.push(['training', run.join(', ')]);
  const network = [
    t.network.module,
    t.network.dim && `dim ${t.network.dim}`,
    t.network.alpha && `alpha ${t.network.alpha}`,
    t.network.args && `args ${JSON.stringify(t.network.args)}`,
  ].filter(Boolean);
  if (network.length > 0) lines.push(['network', network.join(', ')]);
  const lr = [
    t.learningRate.base && `lr ${t.learningRate.base}`,
    t.learningRate.unet && `unet ${t.learningRate.unet}`,
    t.learningRate.textEncoder && `text encoder ${t.learningRate.textEncoder}`,
    t.optimizer,
    t.scheduler,
    // kohya's `no` means no mixed precision: everything in fp32.
    t.mixedPrecision && `computed in ${t.mixedPrecision === 'no' ? 'fp32' : t.mixedPrecision}`,
  ].filter(Boolean);
  if (lr.length > 0) lines.push(['optimizer', lr.join(', ')]);
  if (t.trainImages !== null || t.datasets.length > 0) {
    const folders = t.datasets
      .map((d) => `${d.name}: ${d.images ?? '?'} images × ${d.repeats ?? '?'} repeats`)
      .join(', ');
    lines.push([
      'dataset',
      [t.trainImages !== null ? `${t.trainImages} training images` : null, folders].filter(Boolean).join('; '),
    ]);
  }
  if (t.topTags.length > 0)
    lines.push([
      'tags',
      `${t.topTags
        .slice(0, 10)
        .map(({ tag, count }) => `${tag} ${count}`)
        .join(', ')} (${t.distinctTags} distinct)`,
    ]);
  if (t.startedAt || t.finishedAt) lines.push(['trained', [t.startedAt, t.finishedAt].filter(Boolean).join(' → ')]);
  return lines;
}

function layerTable(modules: readonly ModuleReport[]): string {
  const rows = modules.map((m) => [
    m.name,
    m.component ? COMPONENT_NAMES[m.component] : '?',
    m.kind + (m.isConv ? ' conv' : ''),
    String(m.rank ?? '-'),
    String(m.alpha ?? '-'),
    m.dtype,
  ]);
  const header = ['layer', 'part', 'kind', 'rank', 'alpha', 'dtype'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows]
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}
