/**
 * Job specs: Markdown with front matter (`engine`, `cwd`, `yolo`, `lock`,
 * `timeout`), then the prompt. Parsed with gray-matter (YAML front matter).
 */

import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import matter from 'gray-matter';
import { recoverSpecSource } from './captured-spec.js';
import { formatDuration, parseDurationMs } from './duration.js';
import type { JobSpec } from './types.js';

/** When a spec names no timeout. */
export const DEFAULT_TIMEOUT_MS = 30 * 60_000;

export class JobSpecError extends Error {
  override readonly name = 'JobSpecError';
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
  }
}

export interface ParsedJobSpec {
  spec: JobSpec;
  /** Lines before the front matter that were skipped (see captured-spec.ts). */
  skippedPreamble: string[];
}

export function parseJobSpec(raw: string, name: string): ParsedJobSpec {
  const source = recoverSpecSource(raw);
  if (!matter.test(source.text)) {
    throw new JobSpecError(name, 'no front matter: a job spec starts with a --- block');
  }
  let parsed: matter.GrayMatterFile<string>;
  try {
    // Passing options turns off gray-matter's cache, which would otherwise
    // hand back one shared (mutable) object for equal inputs.
    parsed = matter(source.text, { language: 'yaml' });
  } catch (e) {
    throw new JobSpecError(name, `front matter is not valid YAML: ${(e as Error).message}`);
  }
  return { spec: specFromFields(parsed.data, parsed.content, name), skippedPreamble: source.preamble };
}

/**
 * A spec from its front matter's keys and its prompt, with the same checks
 * whether they came from Markdown or from JSON (`{ engine, cwd, ..., prompt }`).
 */
export function specFromFields(data: Readonly<Record<string, unknown>>, prompt: string, name: string): JobSpec {
  const spec: JobSpec = {
    name,
    engine: requiredString(data, 'engine', name),
    cwd: requiredString(data, 'cwd', name),
    yolo: optionalBoolean(data, 'yolo', name) ?? false,
    lock: optionalString(data, 'lock', name) ?? null,
    timeoutMs: readTimeout(data, name),
    prompt: prompt.trim(),
  };
  if (spec.prompt.length === 0) throw new JobSpecError(name, 'the prompt after the front matter is empty');
  return spec;
}

/** The spec's keys as a job spec writes them (`timeout: 30m`), for JSON answers. */
export function specFieldsOf(job: Pick<JobSpec, 'engine' | 'cwd' | 'yolo' | 'lock' | 'timeoutMs' | 'prompt'>): {
  engine: string;
  cwd: string;
  yolo: boolean;
  lock: string | null;
  timeout: string;
  prompt: string;
} {
  return {
    engine: job.engine,
    cwd: job.cwd,
    yolo: job.yolo,
    lock: job.lock,
    timeout: formatDuration(job.timeoutMs),
    prompt: job.prompt,
  };
}

export async function loadJobSpec(path: string): Promise<ParsedJobSpec> {
  const raw = await readFile(path, 'utf8');
  return parseJobSpec(raw, basename(path, extname(path)));
}

function requiredString(data: Readonly<Record<string, unknown>>, key: string, source: string): string {
  const value = optionalString(data, key, source);
  if (value === undefined) throw new JobSpecError(source, `front matter needs \`${key}\``);
  return value;
}

function optionalString(data: Readonly<Record<string, unknown>>, key: string, source: string): string | undefined {
  const value = data[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new JobSpecError(source, `\`${key}\` must be a non-empty string`);
  }
  return value.trim();
}

function optionalBoolean(data: Readonly<Record<string, unknown>>, key: string, source: string): boolean | undefined {
  const value = data[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new JobSpecError(source, `\`${key}\` must be true or false`);
  return value;
}

function readTimeout(data: Readonly<Record<string, unknown>>, source: string): number {
  const value = data['timeout'];
  if (value === undefined || value === null) return DEFAULT_TIMEOUT_MS;
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new JobSpecError(source, '`timeout` must be a duration like 30m or 3h');
  }
  try {
    return parseDurationMs(value);
  } catch (e) {
    throw new JobSpecError(source, `\`timeout\`: ${(e as Error).message}`);
  }
}
