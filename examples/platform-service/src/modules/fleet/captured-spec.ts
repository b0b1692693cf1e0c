/**
 * Undoes a web file viewer's capture of a job spec.
 *
 * Some specs reach us copied out of a repository's web view rather than
 * from the file itself (the seed spec in specs/seed-atomic-claim.md is one):
 * a header of the last commit message, "N lines", the size and the
 * language (twice), then the file with every source line followed by two
 * `|` gutter lines, and each blank source line showing up only as one more
 * pair of `|` lines. gray-matter needs the `---` fence on the first line,
 * and YAML would read a lone `|` as a block scalar, so such a text cannot
 * be parsed as it is.
 *
 * We only undo exactly that shape: a preamble before the first `---` line,
 * and lone `|` lines in pairs after it. The preamble is returned, not
 * silently dropped, so a caller can show what was skipped. Anything else
 * without a leading fence is left alone and fails to parse as a spec.
 */

export interface SpecSource {
  /** The spec text, starting at its `---` fence when it has one. */
  text: string;
  /** Lines found before the fence (the viewer's header), if any. */
  preamble: string[];
  /** True when the viewer's `|` gutter lines were removed. */
  unwrapped: boolean;
}

const FENCE = '---';
const GUTTER = '|';

export function recoverSpecSource(raw: string): SpecSource {
  const lines = raw.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trimEnd() === FENCE) return { text: raw, preamble: [], unwrapped: false };

  const fenceAt = lines.findIndex((line) => line.trimEnd() === FENCE);
  if (fenceAt < 0) return { text: raw, preamble: [], unwrapped: false };

  const preamble = lines.slice(0, fenceAt);
  const body = lines.slice(fenceAt);
  if (!hasViewerGutter(body)) {
    return { text: body.join('\n'), preamble, unwrapped: false };
  }
  return { text: unwrapGutter(body), preamble, unwrapped: true };
}

/** Lone `|` lines after the fence, coming in runs, mark the viewer's gutter. */
function hasViewerGutter(body: string[]): boolean {
  const gutterLines = body.filter((line) => line === GUTTER).length;
  return gutterLines >= 2 && body[1] === GUTTER;
}

/**
 * Between two source lines the viewer puts two `|` lines, plus two more for
 * every blank line in between; a trailing odd `|` closes the last row.
 */
function unwrapGutter(body: string[]): string {
  const out: string[] = [];
  let run = 0;
  for (const line of body) {
    if (line === GUTTER) {
      run += 1;
      continue;
    }
    if (out.length > 0) {
      for (let blank = 0; blank < Math.floor(run / 2) - 1; blank += 1) out.push('');
    }
    out.push(line);
    run = 0;
  }
  return `${out.join('\n')}\n`;
}
