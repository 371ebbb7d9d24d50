#!/usr/bin/env node
// The `provenant` command. Sources are TypeScript; tsx's loader runs them on Node 20.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
