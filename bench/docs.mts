/** The benchmark documents: a ~300 B fleet job, a ~4 KB one and a ~64 KB one (the prompt makes up the size). */
export interface FleetJob {
  id: string;
  tenantId: string;
  status: string;
  assignedTo: string | null;
  leaseEpoch: number;
  engine: string;
  cwd: string;
  lock: string;
  timeout: string;
  yolo: boolean;
  createdAt: string;
  prompt?: string;
}

export type Size = 300 | 4096 | 65536;

export function job(i: number, size: Size): FleetJob {
  const doc: FleetJob = {
    id: `job-${i}`,
    tenantId: 'tenant-1',
    status: 'queued',
    assignedTo: null,
    leaseEpoch: 0,
    engine: 'devin',
    cwd: '/Users/sd9235/code/mygh/learning_ai_common_plat',
    lock: 'common-plat',
    timeout: '3h',
    yolo: true,
    createdAt: '2026-11-24T12:00:00.000Z',
  };
  const base = JSON.stringify(doc).length;
  const room = size - base - 60; // rev, _etag, _ts
  if (room > 0) doc.prompt = 'P'.repeat(room);
  return doc;
}
