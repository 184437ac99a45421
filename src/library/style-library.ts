// The style library's shell: versions as content-addressed LoRA copies in the workspace, the lifecycle and region
// rules (pure, in their own files) applied over a LibraryStore, and continued trainings folded in as new versions.
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { sha256OfFile } from '../fs/file-hash.js';
import type { Job } from '../store/index.js';
import { type LifecycleAction, planStatusChange, promotedVersion } from './lifecycle.js';
import { LibraryError, noPromotedVersion, styleNotFound, versionNotFound } from './library-error.js';
import { readLoraFacts } from './lora-facts.js';
import { checkPromptTemplate } from './prompt-template.js';
import { checkRegionRule, type RegionRuleInput, regionCandidates } from './regions.js';
import type { Continuation, LibraryStore, Place, PlaceLevel, RegionMapping, Style, StyleVersion } from './types.js';

/** The folder, inside the workspace, that holds every version's file as `<sha256>.safetensors`. */
export const LIBRARY_FOLDER = 'library';
/** WebUI's weight for a `<lora:NAME>` without one; a version keeps it unless told its own. */
export const DEFAULT_STRENGTH = 1;

/** What covers (and any caller) need to render a place's style. */
export interface ResolvedStyle {
  style: string;
  version: number;
  sha256: string;
  /** Workspace-relative path of the library copy. */
  lora_path: string;
  /** The version's recommended strength. */
  strength: number;
  /** The style's template (placeholders in prompt-template.ts: `{title}`, `{prompt}`, `{style}`, `{strength}`, `{trigger_words}`). */
  prompt_template: string | null;
  trigger_words: string[];
  base_model: string | null;
  matched: PlaceLevel;
}

export interface AddVersionInput {
  style: string;
  /** The LoRA file to add (absolute); it is copied, never moved or changed. */
  file: string;
  /** Default: what the file's run record says (workspace-relative when inside the workspace). */
  base_model?: string | null;
  /** Default: the run's `trigger_word`, if its record is beside the file. */
  trigger_words?: string[];
  strength?: number;
  sample_grid?: string[];
  notes?: string;
  tags?: string[];
  /** Sets the style's template; undefined keeps it. */
  prompt_template?: string | null;
  /** The version it continues; default: the version of this style whose sha256 the file's lineage names as parent. */
  parent_version?: number | null;
}

export interface StyleSummary extends Style {
  versions: number;
  /** The version the name resolves to. */
  promoted: number | null;
}

export interface StyleDetail extends Style {
  versions: StyleVersion[];
  continuations: Continuation[];
}

export type VersionEdit = Partial<
  Pick<StyleVersion, 'trigger_words' | 'strength' | 'sample_grid' | 'notes' | 'tags' | 'base_model'>
>;

/** Where the library reads job states from when it folds finished continuations in (a JobStore fits). */
export interface JobLookup {
  getJob(id: string): Promise<Job | null>;
}

const STYLE_NAME = /^[\p{L}\p{N}_.-]{1,64}$/u;

/** Names go into `<lora:NAME:0.7>`: no spaces, colons, brackets or commas. */
export function checkStyleName(name: string): string {
  if (!STYLE_NAME.test(name)) {
    throw new LibraryError('is not a style name', {
      code: 'invalid_style_name',
      culprit: `\`${name}\``,
      hint: 'use letters, digits, `_`, `-` and `.` (at most 64), e.g. `jiangnan_style`: the name goes into `<lora:NAME:0.7>`',
    });
  }
  return name;
}

/** The style library as callers see it (covers, generate, the routes, the CLI); `openSqliteLibrary` makes one. */
export interface StyleLibrary {
  /** The absolute workspace its files live in; every path it returns is relative to it. */
  readonly workspace: string;
  addVersion(input: AddVersionInput): Promise<{ version: StyleVersion; isNew: boolean }>;
  listStyles(): Promise<StyleSummary[]>;
  /** Throws `style_not_found`. */
  getStyle(name: string): Promise<StyleDetail>;
  /** Throws `style_not_found`, `style_version_not_found`. */
  getVersion(name: string, version: number): Promise<StyleVersion>;
  /** The version the name resolves to; throws `no_promoted_version`. */
  promoted(name: string): Promise<StyleVersion>;
  setPromptTemplate(name: string, template: string | null): Promise<Style>;
  changeStatus(name: string, version: number, action: LifecycleAction): Promise<StyleVersion>;
  editVersion(name: string, version: number, edit: VersionEdit): Promise<StyleVersion>;
  setRegion(input: RegionRuleInput): Promise<RegionMapping>;
  listRegions(): Promise<RegionMapping[]>;
  removeRegion(id: number): Promise<void>;
  resolvePlace(place: Place, at: Date): Promise<ResolvedStyle | null>;
  resolveLoraName(name: string): Promise<{ path: string; strength: number } | null>;
  recordContinuation(job_id: string, style: string, parent_version: number): Promise<Continuation>;
  reconcileContinuations(jobs: JobLookup): Promise<StyleVersion[]>;
  close(): Promise<void>;
}

export class StoredStyleLibrary implements StyleLibrary {
  constructor(
    private readonly store: LibraryStore,
    /** The absolute workspace the library's files live in and its paths are relative to. */
    readonly workspace: string,
  ) {}

  /** Copies the file into the library (once per content) and records it as a draft; the same bytes again → the same version. */
  async addVersion(input: AddVersionInput): Promise<{ version: StyleVersion; isNew: boolean }> {
    const style = checkStyleName(input.style);
    const template = input.prompt_template == null ? input.prompt_template : checkPromptTemplate(input.prompt_template);
    const facts = readLoraFacts(input.file, this.workspace);
    const { sha256, lora_path } = await this.copyIntoLibrary(input.file);
    await this.store.upsertStyle(style, template);
    const existing = await this.store.findVersionBySha(style, sha256);
    if (existing) return { version: existing, isNew: false };
    const versions = await this.store.listVersions(style);
    const parentSha = facts.lineage?.parent_lora?.sha256;
    const parent = input.parent_version ?? versions.find((v) => v.sha256 === parentSha)?.version ?? null;
    const version = await this.store.insertVersion({
      style,
      sha256,
      lora_path,
      source_name: basename(input.file),
      base_model: input.base_model === undefined ? facts.base_model : input.base_model,
      parent_version: parent,
      lineage: facts.lineage,
      steps: facts.steps,
      trigger_words: input.trigger_words ?? facts.trigger_words,
      strength: input.strength ?? DEFAULT_STRENGTH,
      sample_grid: input.sample_grid ?? [],
      notes: input.notes ?? '',
      tags: input.tags ?? [],
    });
    return { version, isNew: true };
  }

  async listStyles(): Promise<StyleSummary[]> {
    const styles = await this.store.listStyles();
    return Promise.all(
      styles.map(async (style) => {
        const versions = await this.store.listVersions(style.name);
        return { ...style, versions: versions.length, promoted: promotedVersion(versions)?.version ?? null };
      }),
    );
  }

  async getStyle(name: string): Promise<StyleDetail> {
    const style = await this.store.getStyle(name);
    if (!style) throw styleNotFound(name);
    const continuations = (await this.store.listContinuations()).filter((c) => c.style === name);
    return { ...style, versions: await this.store.listVersions(name), continuations };
  }

  async getVersion(name: string, version: number): Promise<StyleVersion> {
    const found = (await this.getStyle(name)).versions.find((v) => v.version === version);
    if (!found) throw versionNotFound(name, version);
    return found;
  }

  /** The promoted version, or a `no_promoted_version` error. */
  async promoted(name: string): Promise<StyleVersion> {
    const found = promotedVersion((await this.getStyle(name)).versions);
    if (!found) throw noPromotedVersion(name);
    return found;
  }

  async setPromptTemplate(name: string, template: string | null): Promise<Style> {
    await this.getStyle(name);
    return this.store.upsertStyle(name, template === null ? null : checkPromptTemplate(template));
  }

  async changeStatus(name: string, version: number, action: LifecycleAction): Promise<StyleVersion> {
    const { versions } = await this.getStyle(name);
    if (!versions.some((v) => v.version === version)) throw versionNotFound(name, version);
    await this.store.setStatuses(name, planStatusChange(versions, version, action));
    return this.getVersion(name, version);
  }

  async editVersion(name: string, version: number, edit: VersionEdit): Promise<StyleVersion> {
    await this.getVersion(name, version);
    await this.store.updateVersion(name, version, edit);
    return this.getVersion(name, version);
  }

  /** Adds the rule, or replaces the one with the same level, place and window. */
  async setRegion(input: RegionRuleInput): Promise<RegionMapping> {
    const rule = checkRegionRule(input);
    if (rule.version !== null) await this.getVersion(rule.style, rule.version);
    else await this.getStyle(rule.style);
    return this.store.upsertRegion(rule);
  }

  listRegions(): Promise<RegionMapping[]> {
    return this.store.listRegions();
  }

  async removeRegion(id: number): Promise<void> {
    if (!(await this.store.deleteRegion(id))) {
      throw new LibraryError(`no region rule with id ${id}`, {
        code: 'region_not_found',
        culprit: `region ${id}`,
        hint: '`lora-scripts region list` (or `GET /api/library/regions`) lists the rules with their ids',
      });
    }
  }

  /**
   * The style for a place at a time: the first rule (city → province → region → default, windowed rules first) whose
   * style has a usable version — the pinned one unless retired, else the promoted one. null: no rule applies.
   */
  async resolvePlace(place: Place, at: Date): Promise<ResolvedStyle | null> {
    for (const { mapping, matched } of regionCandidates(await this.store.listRegions(), place, at)) {
      const style = await this.store.getStyle(mapping.style);
      const versions = await this.store.listVersions(mapping.style);
      const version =
        mapping.version === null
          ? promotedVersion(versions)
          : versions.find((v) => v.version === mapping.version && v.status !== 'retired');
      if (!style || !version) continue;
      return {
        style: style.name,
        version: version.version,
        sha256: version.sha256,
        lora_path: version.lora_path,
        strength: version.strength,
        prompt_template: style.prompt_template,
        trigger_words: version.trigger_words,
        base_model: version.base_model,
        matched,
      };
    }
    return null;
  }

  /** `<lora:NAME>` → the promoted version's file (workspace-relative) and strength; null: not a style with one. */
  async resolveLoraName(name: string): Promise<{ path: string; strength: number } | null> {
    const version = promotedVersion(await this.store.listVersions(name));
    return version ? { path: version.lora_path, strength: version.strength } : null;
  }

  /** Remembers that train job `job_id` continues `parent_version`; reconcileContinuations folds its LoRA in. */
  async recordContinuation(job_id: string, style: string, parent_version: number): Promise<Continuation> {
    await this.getVersion(style, parent_version);
    return this.store.insertContinuation({ job_id, style, parent_version });
  }

  /**
   * Done continuation jobs become draft versions (parent: the version continued, base model, trigger words and
   * strength carried over from it unless the run says otherwise); failed, cancelled or vanished ones are closed.
   * Called before the library is read, so it needs no hook in the runner. Returns the versions added.
   */
  async reconcileContinuations(jobs: JobLookup): Promise<StyleVersion[]> {
    const added: StyleVersion[] = [];
    for (const continuation of await this.store.listContinuations('pending')) {
      const job = await jobs.getJob(continuation.job_id);
      if (job === null || job.status === 'failed' || job.status === 'cancelled') {
        await this.store.settleContinuation(continuation.job_id, 'ended', null);
        continue;
      }
      if (job.status !== 'done') continue;
      const output = job.outputs.find(
        (path) => path.endsWith('.safetensors') && !path.includes('pytorch_lora_weights'),
      );
      if (output === undefined) {
        await this.store.settleContinuation(continuation.job_id, 'ended', null);
        continue;
      }
      const parent = await this.getVersion(continuation.style, continuation.parent_version);
      const { version } = await this.addVersion({
        style: continuation.style,
        file: join(this.workspace, output),
        parent_version: parent.version,
        strength: parent.strength,
        notes: `continued from version ${parent.version} by job ${job.id}`,
        tags: parent.tags,
        ...(parent.base_model === null ? {} : { base_model: parent.base_model }),
        ...(parent.trigger_words.length > 0 ? { trigger_words: parent.trigger_words } : {}),
      });
      await this.store.settleContinuation(continuation.job_id, 'added', version.version);
      added.push(version);
    }
    return added;
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** Copy to a temp file, hash the copy (what is kept is what was hashed), rename to `<sha256>.safetensors`. */
  private async copyIntoLibrary(file: string): Promise<{ sha256: string; lora_path: string }> {
    const folder = join(this.workspace, LIBRARY_FOLDER);
    mkdirSync(folder, { recursive: true });
    const temp = join(folder, `.${randomBytes(6).toString('hex')}.tmp`);
    try {
      copyFileSync(file, temp);
      const sha256 = await sha256OfFile(temp);
      const lora_path = `${LIBRARY_FOLDER}/${sha256}.safetensors`;
      // Same name, same bytes: a copy already there is kept (a reader may have it open).
      if (!existsSync(join(this.workspace, lora_path))) renameSync(temp, join(this.workspace, lora_path));
      return { sha256, lora_path };
    } finally {
      rmSync(temp, { force: true });
    }
  }
}
