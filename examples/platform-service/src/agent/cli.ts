/**
 * fleet-agent: what an agent runner (agent-queue.sh) calls to take work
 * from the fleet service. Prints JSON on stdout; the exit code says what
 * happened, so a shell script can branch on it.
 *
 *   fleet-agent claim     --agent ID                          0 claimed (JSON) | 3 nothing claimable
 *   fleet-agent heartbeat --agent ID --job J --epoch E        0 renewed        | 4 fenced
 *   fleet-agent complete  --agent ID --job J --epoch E --outcome succeeded|failed   0 | 4 fenced
 *   fleet-agent enqueue   FILE.md [--id ID]                   0 enqueued (JSON)
 *   fleet-agent work      --agent ID [--work-ms 300-900 --heartbeat-ms 400 --poll-ms 150 --fail-rate 0.1]
 *
 * `--server URL` (or FLEET_URL; default http://127.0.0.1:8080) names the service.
 * `work` is a whole agent: claim, heartbeat while "working", complete, one
 * JSON line per event; SIGTERM stops it after the job in hand.
 */

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, HelpRequested, withoutSeparator } from '../cli/args.js';
import { parseDurationMs } from '../modules/fleet/duration.js';
import { FleetClient, FleetHttpError } from './client.js';
import { agentLoop, type WorkOptions } from './work-loop.js';

const USAGE = `usage: fleet-agent <claim|heartbeat|complete|enqueue|work> [options]

  claim     --agent ID                           claim a job; prints {jobId, epoch, leaseExpiresAt, spec}
  heartbeat --agent ID --job J --epoch E         renew the lease; prints {leaseExpiresAt}
  complete  --agent ID --job J --epoch E --outcome succeeded|failed
  enqueue   FILE.md [--id ID]                    put a job spec in the queue; prints {jobId}
  work      --agent ID [--work-ms MIN-MAX] [--heartbeat-ms N] [--poll-ms N] [--fail-rate P]
                                                 claim, heartbeat and complete in a loop (JSON lines)

  --server URL   the fleet service (env FLEET_URL; default http://127.0.0.1:8080)

exit codes: 0 done, 1 error, 2 bad usage, 3 nothing claimable, 4 fenced (the lease is
no longer yours: stop working on the job), 5 no such job
`;

const EXIT = { ok: 0, error: 1, usage: 2, nothingClaimable: 3, fenced: 4, notFound: 5 } as const;

const out = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value)}\n`);
};

async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: withoutSeparator(argv),
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean' },
        server: { type: 'string' },
        agent: { type: 'string' },
        job: { type: 'string' },
        epoch: { type: 'string' },
        outcome: { type: 'string' },
        id: { type: 'string' },
        'work-ms': { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'poll-ms': { type: 'string' },
        'fail-rate': { type: 'string' },
      },
    });
  } catch (e) {
    throw new ConfigError(`${e instanceof Error ? e.message : String(e)}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help === true || positionals.length === 0) throw new HelpRequested(USAGE);
  const client = new FleetClient(values.server ?? process.env['FLEET_URL'] ?? 'http://127.0.0.1:8080');
  const need = (name: 'agent' | 'job' | 'epoch' | 'outcome'): string => {
    const value = values[name];
    if (value === undefined || value === '') throw new ConfigError(`--${name} is required\n\n${USAGE}`);
    return value;
  };
  const epoch = (): number => {
    const n = Number(need('epoch'));
    if (!Number.isInteger(n) || n < 1) throw new ConfigError('--epoch must be a whole number ≥ 1');
    return n;
  };

  const [command, ...rest] = positionals;
  switch (command) {
    case 'claim': {
      const claim = await client.claim(need('agent'));
      if (claim === null) return EXIT.nothingClaimable;
      out(claim);
      return EXIT.ok;
    }
    case 'heartbeat': {
      const answer = await client.heartbeat(need('agent'), need('job'), epoch());
      if (!answer.ok) return refused(answer.reason);
      out({ leaseExpiresAt: answer.leaseExpiresAt });
      return EXIT.ok;
    }
    case 'complete': {
      const outcome = need('outcome');
      if (outcome !== 'succeeded' && outcome !== 'failed') throw new ConfigError('--outcome must be succeeded or failed');
      const answer = await client.complete(need('agent'), need('job'), epoch(), outcome);
      if (!answer.ok) return refused(answer.reason);
      out({ finishedAt: answer.finishedAt });
      return EXIT.ok;
    }
    case 'enqueue': {
      const file = rest[0];
      if (file === undefined) throw new ConfigError(`enqueue needs a spec file\n\n${USAGE}`);
      out({ jobId: await client.enqueue(await readFile(file, 'utf8'), values.id) });
      return EXIT.ok;
    }
    case 'work': {
      await agentLoop(client, need('agent'), workOptions(values), out);
      return EXIT.ok;
    }
    default:
      throw new ConfigError(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

function refused(reason: 'fenced' | 'not_found'): number {
  process.stderr.write(reason === 'fenced' ? 'fenced: this lease is no longer yours; stop working on the job\n' : 'no such job\n');
  return reason === 'fenced' ? EXIT.fenced : EXIT.notFound;
}

function workOptions(values: Record<string, string | boolean | undefined>): WorkOptions {
  const text = (name: string): string | undefined => {
    const value = values[name];
    return typeof value === 'string' ? value : undefined;
  };
  const ms = (name: string, fallback: number): number => {
    const value = text(name);
    if (value === undefined) return fallback;
    try {
      return parseDurationMs(/^\d+$/.test(value) ? `${value}ms` : value);
    } catch {
      throw new ConfigError(`--${name} must be a duration in ms, got ${JSON.stringify(value)}`);
    }
  };
  const range = text('work-ms') ?? '300-900';
  const match = /^(\d+)(?:-(\d+))?$/.exec(range);
  if (match === null) throw new ConfigError(`--work-ms must be N or MIN-MAX, got ${JSON.stringify(range)}`);
  const failRate = Number(text('fail-rate') ?? '0.1');
  if (!(failRate >= 0 && failRate <= 1)) throw new ConfigError('--fail-rate must be between 0 and 1');
  return {
    workMs: [Number(match[1]), Number(match[2] ?? match[1])],
    heartbeatMs: ms('heartbeat-ms', 400),
    pollMs: ms('poll-ms', 150),
    failRate,
  };
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof HelpRequested) {
      process.stdout.write(e.message);
      return;
    }
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    process.stderr.write(`fleet-agent: ${e instanceof FleetHttpError || e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = EXIT.error;
  },
);
