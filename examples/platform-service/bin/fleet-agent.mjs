#!/usr/bin/env node
// The example has no build step: run the TypeScript CLI through tsx.
import { register } from 'tsx/esm/api';

register();
await import('../src/agent/cli.ts');
