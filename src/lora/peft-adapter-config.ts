// Reads the PEFT LoraConfig that diffusers stores in `lora_adapter_metadata`, and gives each module the
// rank and kohya alpha that reproduce PEFT's scaling. Pure.
import { z } from 'zod';
import type { LoraComponent } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';

/** The LoraConfig fields that decide a module's rank and scaling. */
export interface ComponentLoraConfig {
  r: number;
  loraAlpha: number;
  /** Module-name patterns (PEFT: regex matched against the name's tail after a dot) → rank / alpha. */
  rankPattern: Readonly<Record<string, number>>;
  alphaPattern: Readonly<Record<string, number>>;
  useRslora: boolean;
}

export type AdapterConfigs = Partial<Record<LoraComponent, ComponentLoraConfig>>;

export interface ModuleScale {
  /** The rank PEFT gave this module. */
  rank: number;
  /** kohya's alpha: scale = alpha / rank, equal to PEFT's scaling. */
  alpha: number;
}

const COMPONENTS: readonly LoraComponent[] = ['unet', 'text_encoder', 'text_encoder_2'];

const patterns = <T extends z.ZodType<number>>(value: T) =>
  z
    .record(z.string(), value)
    .nullish()
    .transform((p) => p ?? {});

// Loose: LoraConfig has many more fields (target_modules, dropout, init …) that do not change the weights' scale.
const componentSchema = z.object({
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  rank_pattern: patterns(z.number().int().positive()),
  alpha_pattern: patterns(z.number().positive()),
  use_rslora: z.boolean().nullish(),
  use_dora: z.boolean().nullish(),
});

/**
 * Parses `__metadata__.lora_adapter_metadata` (a JSON string of `"unet.r"`, `"unet.lora_alpha"`, … keys).
 * Components without entries are absent; `undefined` input (no metadata) gives `{}`.
 */
export function parseAdapterMetadata(json: string | undefined, fileName: string): AdapterConfigs {
  if (json === undefined) return {};
  let flat: unknown;
  try {
    flat = JSON.parse(json);
  } catch {
    throw metadataError(fileName, '`lora_adapter_metadata` is not JSON');
  }
  if (typeof flat !== 'object' || flat === null || Array.isArray(flat))
    throw metadataError(fileName, '`lora_adapter_metadata` is not a JSON object');
  const configs: AdapterConfigs = {};
  for (const component of COMPONENTS) {
    const fields = Object.entries(flat).filter(([key]) => key.startsWith(`${component}.`));
    if (fields.length === 0) continue;
    const stripped = Object.fromEntries(fields.map(([key, value]) => [key.slice(component.length + 1), value]));
    configs[component] = componentConfig(component, stripped, fileName);
  }
  return configs;
}

function componentConfig(
  component: LoraComponent,
  fields: Record<string, unknown>,
  fileName: string,
): ComponentLoraConfig {
  const parsed = componentSchema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = `${component}.${issue?.path.join('.') ?? ''}`;
    throw metadataError(
      fileName,
      `\`lora_adapter_metadata\` field \`${field}\` is invalid: ${issue?.message ?? 'unknown problem'}`,
    );
  }
  if (parsed.data.use_dora) {
    throw new LoraFileError(
      `the ${component} adapter is DoRA (\`use_dora\`), which the kohya LoRA format cannot hold`,
      {
        code: 'dora_not_supported',
        culprit: fileName,
        hint: 'train with `use_dora` off to get a kohya/WebUI file',
      },
    );
  }
  const { r, lora_alpha, rank_pattern, alpha_pattern, use_rslora } = parsed.data;
  return {
    r,
    loraAlpha: lora_alpha,
    rankPattern: rank_pattern,
    alphaPattern: alpha_pattern,
    useRslora: use_rslora ?? false,
  };
}

/**
 * The rank and kohya alpha PEFT used for `modulePath` (the module's name inside its component, as in the file).
 * Without a config the file carries no alpha, and diffusers loads it with alpha = rank; so do we.
 */
export function moduleScale(
  config: ComponentLoraConfig | undefined,
  modulePath: string,
  tensorRank: number,
  fileName: string,
): ModuleScale {
  if (config === undefined) return { rank: tensorRank, alpha: tensorRank };
  const rank = patternValue(config.rankPattern, modulePath, fileName) ?? config.r;
  const alpha = patternValue(config.alphaPattern, modulePath, fileName) ?? config.loraAlpha;
  // rsLoRA scales by alpha/√r; kohya always divides by r, so the equivalent kohya alpha is alpha·√r.
  return { rank, alpha: config.useRslora ? alpha * Math.sqrt(rank) : alpha };
}

/** PEFT's get_pattern_key: the first pattern `p` with `re.match(rf"(.*\.)?({p})$", name)`. */
export function patternValue(
  table: Readonly<Record<string, number>>,
  modulePath: string,
  fileName: string,
): number | undefined {
  for (const [pattern, value] of Object.entries(table)) {
    let regex: RegExp;
    try {
      regex = new RegExp(`^(?:.*\\.)?(?:${pattern})$`);
    } catch {
      throw metadataError(
        fileName,
        `\`lora_adapter_metadata\` pattern \`${pattern}\` is not a valid regular expression`,
      );
    }
    if (regex.test(modulePath)) return value;
  }
  return undefined;
}

function metadataError(fileName: string, message: string): LoraFileError {
  return new LoraFileError(message, {
    code: 'invalid_adapter_metadata',
    culprit: fileName,
    hint: 'the engine writes this from the PEFT LoraConfig; save the LoRA again with a current engine',
  });
}
