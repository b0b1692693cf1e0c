/** JSON schemas of the routes' input: Fastify rejects what does not fit with a 400 before a handler runs. */

/** Job ids become document ids: Cosmos refuses / \ ? #, so allow a safe set only. */
export const JOB_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:@~-]{0,127}$';

const agentId = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f]+$' } as const;
const epoch = { type: 'integer', minimum: 1 } as const;

export const jobParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: JOB_ID_PATTERN } },
} as const;

export const claimBody = {
  type: 'object',
  required: ['agentId'],
  additionalProperties: false,
  properties: { agentId },
} as const;

export const heartbeatBody = {
  type: 'object',
  required: ['agentId', 'epoch'],
  additionalProperties: false,
  properties: { agentId, epoch },
} as const;

export const completeBody = {
  type: 'object',
  required: ['agentId', 'epoch', 'outcome'],
  additionalProperties: false,
  properties: { agentId, epoch, outcome: { type: 'string', enum: ['succeeded', 'failed'] } },
} as const;

/** `POST /fleet/jobs` as JSON; the spec's meaning is checked by `specFromFields`. */
export const enqueueJsonBody = {
  type: 'object',
  required: ['spec'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', pattern: JOB_ID_PATTERN },
    spec: {
      type: 'object',
      required: ['engine', 'cwd', 'prompt'],
      additionalProperties: false,
      properties: {
        engine: { type: 'string' },
        cwd: { type: 'string' },
        yolo: { type: 'boolean' },
        lock: { type: ['string', 'null'] },
        timeout: { type: ['string', 'number'] },
        prompt: { type: 'string' },
      },
    },
  },
} as const;

export const enqueueQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { id: { type: 'string', pattern: JOB_ID_PATTERN } },
} as const;
