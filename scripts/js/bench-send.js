#!/usr/bin/env node
'use strict';
// Measures cfx_sendTransaction through a cfxlight node: per-transaction latency (RPC answer, mined as the full
// node reports it, verified receipt from our node) over sequential sends, then sustained throughput of a
// back-to-back burst until every transaction's receipt is verified by our node. Plain JSON-RPC over HTTP.
//
//   node scripts/js/bench-send.js --node http://127.0.0.1:PORT --full http://127.0.0.1:12537 --to <base32>
//        [--latency N=20] [--burst M=200] [--label name]
//
// stdout: one JSON object {label, sendMs:{p50,p99}, minedMs:{p50,p99}, verifiedMs:{p50,p99}, burst:{n, sendsPerS,
// txPerS, seconds}}.

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : process.argv[i + 1];
}

function fail(message) {
  process.stderr.write(`bench-send: error: ${message}\n`);
  process.exit(1);
}

let id = 0;
async function call(url, method, params) {
  id += 1;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => Number(process.hrtime.bigint()) / 1e6;

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function waitReceipt(url, hash, timeoutMs) {
  const t0 = now();
  for (;;) {
    const r = await call(url, 'cfx_getTransactionReceipt', [hash]);
    if (r) return r;
    if (now() - t0 > timeoutMs) fail(`${hash} has no receipt at ${url} after ${timeoutMs} ms`);
    await sleep(20);
  }
}

(async () => {
  const node = arg('node') || fail('--node is required');
  const full = arg('full') || fail('--full is required');
  const to = arg('to') || fail('--to is required');
  const n = Number(arg('latency', '20'));
  const m = Number(arg('burst', '200'));
  const [from] = await call(node, 'cfx_accounts', []);
  const tx = { from, to, value: '0x1' };

  const send = [];
  const mined = [];
  const verified = [];
  for (let i = 0; i < n; i += 1) {
    const t0 = now();
    const hash = await call(node, 'cfx_sendTransaction', [tx]);
    send.push(now() - t0);
    // Watch both ends at once: the full node executing it, our node verifying it.
    const [, ] = await Promise.all([
      waitReceipt(full, hash, 120000).then(() => mined.push(now() - t0)),
      waitReceipt(node, hash, 120000).then(() => verified.push(now() - t0)),
    ]);
  }

  const t0 = now();
  const hashes = [];
  for (let i = 0; i < m; i += 1) hashes.push(await call(node, 'cfx_sendTransaction', [tx]));
  const sendSecs = (now() - t0) / 1000;
  for (const h of hashes) await waitReceipt(node, h, 300000);
  const secs = (now() - t0) / 1000;

  const q = (xs) => ({ p50: +pct(xs, 50).toFixed(1), p99: +pct(xs, 99).toFixed(1) });
  process.stdout.write(`${JSON.stringify({
    label: arg('label', ''),
    sendMs: q(send),
    minedMs: q(mined),
    verifiedMs: q(verified),
    burst: { n: m, sendsPerS: +(m / sendSecs).toFixed(1), txPerS: +(m / secs).toFixed(1), seconds: +secs.toFixed(2) },
  })}\n`);
})().catch((e) => fail(e.message));
