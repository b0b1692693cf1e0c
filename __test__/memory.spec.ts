import { conformance } from './suites/conformance.js';
import { MemoryProvider } from '@bytelyst/datastore';

conformance('MemoryProvider', async (opts) => new MemoryProvider(opts));
