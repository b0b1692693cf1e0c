/**
 * Real processes for the end-to-end tests and the bench: the fleet service
 * (`src/serve.ts`) and agents (`fleet-agent work`), started with tsx as a
 * user would, their JSON-line output collected.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { AgentEvent } from '../../src/agent/work-loop.js';

export const EXAMPLE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const AGENT_CLI = join(EXAMPLE_DIR, 'src/agent/cli.ts');

let agentScript: string | null = null;

/**
 * The agent CLI as plain JavaScript, transpiled once per test process:
 * twenty agents each loading tsx cost about a CPU-second apiece on this
 * machine; plain node starts in a fifth of that. The CLI imports only
 * Node built-ins and its own relative modules, which are followed here.
 */
function agentCli(): string {
  if (agentScript !== null) return agentScript;
  const out = mkdtempSync(join(tmpdir(), 'fleet-agent-'));
  writeFileSync(join(out, 'package.json'), '{ "type": "module" }\n');
  const pending = [AGENT_CLI];
  const done = new Set<string>();
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (done.has(file)) continue;
    done.add(file);
    const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    });
    const target = join(out, relative(EXAMPLE_DIR, file)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, outputText);
    for (const [, specifier] of outputText.matchAll(/from '(\.{1,2}\/[^']+)\.js'/g)) {
      pending.push(resolve(dirname(file), `${specifier}.ts`));
    }
  }
  agentScript = join(out, relative(EXAMPLE_DIR, AGENT_CLI)).replace(/\.ts$/, '.js');
  return agentScript;
}

function plainNode(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, args, { cwd: EXAMPLE_DIR, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function tsNode(args: readonly string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: EXAMPLE_DIR,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Calls `onLine` with each line the stream writes. */
function lines(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (stream === null) return;
  createInterface({ input: stream }).on('line', onLine);
}

async function exitOf(child: ChildProcess): Promise<number | string> {
  if (child.exitCode !== null) return child.exitCode;
  if (child.signalCode !== null) return child.signalCode;
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return code ?? signal ?? 'unknown';
}

export interface ServiceProcess {
  url: string;
  child: ChildProcess;
  /** Every log line (pino JSON) and stderr line, for a failing test to show. */
  log: string[];
  /** SIGTERM, then the exit code (0 after a clean drain). */
  stop(): Promise<number | string>;
}

export async function startService(args: readonly string[], startTimeoutMs = 60_000): Promise<ServiceProcess> {
  const child = tsNode(['src/serve.ts', '--port', '0', ...args]);
  const log: string[] = [];
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`service did not listen within ${startTimeoutMs} ms:\n${log.join('\n')}`)), startTimeoutMs);
    lines(child.stdout, (line) => {
      log.push(line);
      if (!line.includes('"event":"listening"')) return;
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
    lines(child.stderr, (line) => log.push(`stderr: ${line}`));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`service exited (${code}) before listening:\n${log.join('\n')}`));
    });
  });
  const port = await listening;
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exitOf(child);
    },
  };
}

export interface AgentProcess {
  agentId: string;
  child: ChildProcess;
  events: AgentEvent[];
  stderr: string[];
  /** Calls back on every event as it arrives. */
  onEvent(listener: (event: AgentEvent) => void): void;
  exited(): Promise<number | string>;
}

export function startAgent(url: string, agentId: string, extra: readonly string[] = []): AgentProcess {
  const child = plainNode([agentCli(), 'work', '--server', url, '--agent', agentId, ...extra]);
  const events: AgentEvent[] = [];
  const stderr: string[] = [];
  const listeners: Array<(event: AgentEvent) => void> = [];
  lines(child.stdout, (line) => {
    const event = JSON.parse(line) as AgentEvent;
    events.push(event);
    for (const listener of listeners) listener(event);
  });
  lines(child.stderr, (line) => stderr.push(line));
  return {
    agentId,
    child,
    events,
    stderr,
    onEvent: (listener) => listeners.push(listener),
    exited: () => exitOf(child),
  };
}

/** Runs `fleet-agent <args>` once; resolves to its exit code and stdout. */
export async function runAgentCommand(args: readonly string[]): Promise<{ code: number | string; stdout: string }> {
  const child = plainNode([agentCli(), ...args]);
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.resume();
  return { code: await exitOf(child), stdout };
}
