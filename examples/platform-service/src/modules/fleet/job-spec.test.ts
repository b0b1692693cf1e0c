import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDurationMs } from './duration.js';
import { DEFAULT_TIMEOUT_MS, JobSpecError, loadJobSpec, parseJobSpec } from './job-spec.js';

const SEED = fileURLToPath(new URL('../../../specs/seed-atomic-claim.md', import.meta.url));
/** The original seed, in the shared folder that sits beside the repository (as in CI), when it is there. */
const SHARED_SEED = fileURLToPath(new URL('../../../../../../shared/seed/000_58de17d24e0f70f3.txt', import.meta.url));

describe('job specs', () => {
  it('loads the seed spec, a web-viewer capture with a preamble before its front matter', async () => {
    const { spec, skippedPreamble } = await loadJobSpec(SEED);
    expect(spec).toMatchObject({
      name: 'seed-atomic-claim',
      engine: 'devin',
      cwd: '/Users/sd9235/code/mygh/learning_ai_common_plat',
      yolo: true,
      lock: 'common-plat',
      timeoutMs: 3 * 3_600_000,
    });
    expect(skippedPreamble).toHaveLength(7);
    expect(skippedPreamble[1]).toBe('109 lines');
    expect(spec.prompt.startsWith('ROLE: Senior distributed-systems engineer.')).toBe(true);
    expect(spec.prompt.endsWith('the claim is genuinely atomic.')).toBe(true);
    // The viewer's gutter is gone and the blank lines between paragraphs are back.
    expect(spec.prompt.split('\n').filter((line) => line === '|')).toEqual([]);
    expect(spec.prompt).toContain('Fix the root cause.\n\nCONTEXT TO READ FIRST:\n- services/');
  });

  it.skipIf(!existsSync(SHARED_SEED))('the original seed in ../shared/seed loads the same, and the fixture is its copy', async () => {
    const [original, fixture] = await Promise.all([readFile(SHARED_SEED, 'utf8'), readFile(SEED, 'utf8')]);
    expect(fixture).toBe(original);
    const { spec } = await loadJobSpec(SHARED_SEED);
    expect(spec).toMatchObject({ engine: 'devin', lock: 'common-plat', yolo: true, timeoutMs: 3 * 3_600_000 });
  });

  it('parses a plain spec, with defaults for what it leaves out', () => {
    const { spec, skippedPreamble } = parseJobSpec('---\nengine: codex\ncwd: /repo\n---\nFix the flaky test.\n', 'plain');
    expect(skippedPreamble).toEqual([]);
    expect(spec).toEqual({
      name: 'plain',
      engine: 'codex',
      cwd: '/repo',
      yolo: false,
      lock: null,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      prompt: 'Fix the flaky test.',
    });
  });

  it('keeps a lone | inside a plain spec: only a capture is unwrapped', () => {
    const { spec } = parseJobSpec('---\nengine: e\ncwd: /c\n---\na\n|\nb\n', 'pipes');
    expect(spec.prompt).toBe('a\n|\nb');
  });

  it.each([
    ['no front matter', 'just a prompt'],
    ['a preamble but no fence', 'header\nMarkdown\njust a prompt'],
    ['no engine', '---\ncwd: /c\n---\np'],
    ['yolo not a boolean', '---\nengine: e\ncwd: /c\nyolo: "yes"\n---\np'],
    ['an unreadable timeout', '---\nengine: e\ncwd: /c\ntimeout: soon\n---\np'],
    ['an empty lock', '---\nengine: e\ncwd: /c\nlock: ""\n---\np'],
    ['an empty prompt', '---\nengine: e\ncwd: /c\n---\n\n'],
    ['invalid YAML', '---\nengine: [e\ncwd: /c\n---\np'],
  ])('rejects a spec with %s', (_label, text) => {
    expect(() => parseJobSpec(text, 'bad')).toThrow(JobSpecError);
  });

  it.each([
    ['3h', 10_800_000],
    ['90s', 90_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    [600, 600_000],
  ])('reads the duration %s', (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each(['', '3 hours', 'h', '-5m', 0, -1])('rejects the duration %s', (text) => {
    expect(() => parseDurationMs(text)).toThrow(RangeError);
  });
});
