#!/usr/bin/env node
'use strict';
// Subscribes over WebSocket (cfx_subscribe) and records what arrives, for tests and for a person to look at.
//
//   node scripts/js/pubsub-watch.js --ws ws://127.0.0.1:PORT --seconds 8 [--kinds newHeads,epochs,epochs:latest_state,logs]
//        [--extra-subscriptions N]   (then opens N more subscriptions and reports how they were answered)
//
// stdout: {"subscribed": {kind: id | {error}}, "notifications": {kind: [result…]}, "extra": [{id}|{error}],
//          "unsubscribed": {kind: bool}}

const WebSocket = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

const url = arg('ws') || (process.stderr.write('pubsub-watch: --ws is required\n'), process.exit(2));
const seconds = Number(arg('seconds', '8'));
const kinds = arg('kinds', 'newHeads,epochs,epochs:latest_state,logs').split(',');
const extra = Number(arg('extra-subscriptions', '0'));

const ws = new WebSocket(url);
let nextId = 1;
const pending = new Map();
const byId = new Map();
const out = { subscribed: {}, notifications: {}, extra: [], unsubscribed: {} };

function request(method, params) {
  const id = nextId++;
  ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  return new Promise((resolve) => pending.set(id, resolve));
}

ws.on('message', (data) => {
  const msg = JSON.parse(data.toString());
  if (msg.id !== undefined && pending.has(msg.id)) {
    pending.get(msg.id)(msg);
    pending.delete(msg.id);
  } else if (msg.method === 'cfx_subscription') {
    const kind = byId.get(msg.params.subscription);
    if (kind) out.notifications[kind].push(msg.params.result);
  }
});

ws.on('error', (e) => {
  process.stderr.write(`pubsub-watch: ${e.message}\n`);
  process.exit(1);
});

ws.on('open', async () => {
  for (const k of kinds) {
    const [kind, param] = k.split(':');
    const r = await request('cfx_subscribe', param ? [kind, param] : [kind]);
    out.subscribed[k] = r.error ? { error: r.error } : r.result;
    out.notifications[k] = [];
    if (!r.error) byId.set(r.result, k);
  }
  for (let i = 0; i < extra; i += 1) {
    const r = await request('cfx_subscribe', ['newHeads']);
    out.extra.push(r.error ? { error: r.error } : { id: r.result });
  }
  setTimeout(async () => {
    for (const k of kinds) {
      const id = out.subscribed[k];
      if (typeof id === 'string') {
        const r = await request('cfx_unsubscribe', [id]);
        out.unsubscribed[k] = r.result === true;
      }
    }
    ws.close();
    // Exit only once the (large) output is flushed: a pipe takes it in chunks.
    process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0));
  }, seconds * 1000);
});
