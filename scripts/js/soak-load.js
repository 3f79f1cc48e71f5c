#!/usr/bin/env node
'use strict';
// Mixed JSON-RPC load for scripts/soak: W HTTP workers looping over a request mix (chain
// position, blocks with and without transactions, state reads, logs over recent epochs,
// fee history, receipts, a malformed request and a batch) and S WebSocket subscriptions
// (newHeads, epochs, logs) kept open, for a number of seconds.
//
//   node scripts/js/soak-load.js --http URL --ws URL --seconds N [--workers W=8] [--subscriptions S=4]
//        [--address BASE32]
//
// stdout at the end: {"requests", "errors": {code: count}, "samples": {code: [up to 3 distinct
//                     "method: message"]}, "transport_errors", "notifications", "p50_ms", "p99_ms"}

const WebSocket = require('ws');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

const http = arg('http');
const wsUrl = arg('ws');
const seconds = Number(arg('seconds', '60'));
const workers = Number(arg('workers', '8'));
const subscriptions = Number(arg('subscriptions', '4'));
const address = arg('address', null);
if (!http || !wsUrl) {
  process.stderr.write('soak-load: --http and --ws are required\n');
  process.exit(2);
}

const out = { requests: 0, errors: {}, samples: {}, transport_errors: 0, notifications: 0 };
const latencies = [];
const end = Date.now() + seconds * 1000;
let best = 0;

const hex = (n) => `0x${n.toString(16)}`;

function mix() {
  const e = Math.max(0, best - 1 - Math.floor(Math.random() * 50));
  const calls = [
    ['cfx_epochNumber', []],
    ['cfx_epochNumber', ['latest_state']],
    ['cfx_getStatus', []],
    ['cfx_getBlockByEpochNumber', [hex(e), true]],
    ['cfx_getBlockByEpochNumber', [hex(e), false]],
    ['cfx_getLogs', [{ fromEpoch: hex(Math.max(0, e - 100)), toEpoch: hex(e) }]],
    ['cfx_feeHistory', ['0x40', 'latest_state', [10, 50, 90]]],
    ['cfx_gasPrice', []],
    ['cfx_getBlocksByEpoch', [hex(e)]],
    ['cfx_getBlockByHash', ['0x' + '00'.repeat(32), false]],
    ['cfx_getBalance', [address || 'bad-address']],
  ];
  if (address) {
    calls.push(['cfx_getNextNonce', [address]]);
    calls.push(['cfx_getAccount', [address]]);
  }
  return calls[Math.floor(Math.random() * calls.length)];
}

async function post(body) {
  const t0 = process.hrtime.bigint();
  try {
    const r = await fetch(http, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await r.text();
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    out.requests++;
    if (r.status !== 200) {
      out.errors[`http_${r.status}`] = (out.errors[`http_${r.status}`] || 0) + 1;
      return null;
    }
    return JSON.parse(text);
  } catch (e) {
    out.transport_errors++;
    return null;
  }
}

async function worker(i) {
  let n = 0;
  while (Date.now() < end) {
    n++;
    let body;
    if (n % 50 === 0) body = '{"jsonrpc":"2.0","id":1,"method":"cfx_getBalance","params":[5]}';
    else if (n % 37 === 0) {
      body = JSON.stringify([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'cfx_epochNumber', params: [] })));
    } else {
      const [method, params] = mix();
      body = JSON.stringify({ jsonrpc: '2.0', id: i * 1e6 + n, method, params });
    }
    const v = await post(body);
    for (const r of Array.isArray(v) ? v : v ? [v] : []) {
      if (r.error) {
        const c = r.error.code;
        out.errors[c] = (out.errors[c] || 0) + 1;
        // A few distinct messages per code, so an unexpected error can be told apart.
        const s = (out.samples[c] = out.samples[c] || []);
        let method = '?';
        try { method = JSON.parse(body).method || 'batch'; } catch {}
        const line = `${method}: ${r.error.message}${r.error.data ? ` (${JSON.stringify(r.error.data)})` : ''}`;
        if (s.length < 3 && !s.includes(line)) s.push(line);
      }
      else if (r.id === 'best') best = parseInt(r.result, 16);
    }
    if (n % 20 === 0) {
      const b = await post('{"jsonrpc":"2.0","id":"best","method":"cfx_epochNumber","params":["latest_state"]}');
      if (b && b.result) best = parseInt(b.result, 16);
    }
  }
}

function subscriber(kind) {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl);
    ws.on('open', () => {
      const params = kind === 'logs' ? ['logs', {}] : kind === 'epochs' ? ['epochs', 'latest_state'] : [kind];
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'cfx_subscribe', params }));
    });
    ws.on('message', (m) => {
      if (JSON.parse(m.toString()).method === 'cfx_subscription') out.notifications++;
    });
    ws.on('error', () => { out.transport_errors++; resolve(); });
    setTimeout(() => { ws.close(); resolve(); }, Math.max(0, end - Date.now()));
  });
}

(async () => {
  const kinds = ['newHeads', 'epochs', 'logs', 'newHeads'];
  await Promise.all([
    ...Array.from({ length: workers }, (_, i) => worker(i)),
    ...Array.from({ length: subscriptions }, (_, i) => subscriber(kinds[i % kinds.length])),
  ]);
  latencies.sort((a, b) => a - b);
  const q = (p) => (latencies.length ? Number(latencies[Math.floor(p * (latencies.length - 1))].toFixed(2)) : null);
  out.p50_ms = q(0.5);
  out.p99_ms = q(0.99);
  console.log(JSON.stringify(out));
})();
