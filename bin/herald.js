#!/usr/bin/env node
// The `herald` command: runs the compiled CLI (npm install builds it via `prepare`).
import { main } from '../dist/cli.js';

await main(process.argv.slice(2));
