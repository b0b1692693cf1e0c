export { ManualClock } from './clock.js';
export { FleetCoordinator, leaseId, runId, type ClaimStep, type FleetCoordinatorOptions } from './coordinator.js';
export { checkFleetInvariants, violations, type InvariantReport } from './invariants.js';
export { DEFAULT_TIMEOUT_MS, JobSpecError, loadJobSpec, parseJobSpec, type ParsedJobSpec } from './job-spec.js';
export { createFleetRepository, type FleetRepository, type Revision } from './repository.js';
export {
  closeFleetStores,
  DEFAULT_FLEET_LAYOUT,
  FLEET_LAYOUTS,
  openFleetStores,
  type FleetLayout,
  type FleetStoreConfig,
  type FleetStores,
} from './stores.js';
export { FleetContainer, type FleetBatchOp, type FleetBatchResult, type FleetEntity, type FleetKind } from './single-container.js';
export * from './types.js';
