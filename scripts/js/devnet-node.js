#!/usr/bin/env node
'use strict';
// Server process behind `scripts/devnet up`: runs ONE conflux-rust node (the native module keeps global state,
// so one node per process) with the config given as a JSON argv, until SIGTERM/SIGINT.
// Kept out of devnet.js so that /proc/<pid>/cmdline identifies a devnet node and its data dir unambiguously.

const { ConfluxNode } = require('@xcfx/node-linux-x64-gnu');

const config = JSON.parse(process.argv[2]);
const node = new ConfluxNode();

// The node runs on native threads that do not keep Node's event loop alive: without this pending timer the
// process would exit right after startNode() resolves, taking the node with it.
setInterval(() => {}, 1 << 30);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`devnet-node: ${signal}, stopping node`);
  try {
    await node.stopNode();
  } catch (err) {
    console.error(`devnet-node: stopNode failed: ${err.message}`);
    process.exit(1);
  }
  console.log('devnet-node: stopped');
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

node.startNode(config).then(
  () => console.log('devnet-node: startNode done'),
  (err) => {
    console.error(`devnet-node: startNode failed: ${err.message}`);
    process.exit(1);
  },
);
