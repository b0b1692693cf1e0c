/**
 * The fleet's store layouts (see stores.ts). Kept free of imports: the
 * agent CLI's argument parser uses it and runs without the datastore.
 */

/** `split`: one container per kind (the drop-in path). `single`: one container, a claim is one batch. */
export type FleetLayout = 'split' | 'single';
export const FLEET_LAYOUTS: readonly FleetLayout[] = ['split', 'single'];
export const DEFAULT_FLEET_LAYOUT: FleetLayout = 'split';
