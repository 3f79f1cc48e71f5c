#!/usr/bin/env node
'use strict';
// Differential test through js-conflux-sdk 2.6.0 (the de-facto dapp client): calls the SDK's own RPC methods
// (conflux.cfx.*) once each against a reference node and a candidate node, at the same explicit epochs, and asserts
// deep equality, field by field, of the SDK-DECODED results (BigInt, Number, addresses as the SDK formats them), so
// a hex/JSON format slip that the SDK would decode differently shows up even where rpc-diff would print it raw.
// Run it through scripts/sdk-suite, which resolves the context (test transactions, pinned epochs) with
// `scripts/rpc-diff --print-context`:
//
//   node scripts/js/sdk-suite.js --reference URL --candidate URL --context FILE [--allow FILE] [--only REGEX]
//
// Prints one line per method: `ok`, `ok*` (only allowed differences) or `DIFF` with the differing paths.
// Paths are `result.<field>` / `error` / `error.code` like rpc-diff's, so scripts/rpc/allow.json applies
// (an allow entry's "candidate" pin matches numerically: "0x0" pins 0 and 0n). Exit 1 on any difference not on the
// allow-list, 2 on a setup error.

const fs = require('fs');
const path = require('path');
const { Conflux } = require('js-conflux-sdk');

function fail(message) {
  process.stderr.write(`sdk-suite: error: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const args = { allow: path.join(__dirname, '..', 'rpc', 'allow.json') };
  for (let i = 0; i < argv.length; i += 1) {
    const key = argv[i];
    const take = () => {
      if (i + 1 >= argv.length) fail(`${key} needs a value`);
      i += 1;
      return argv[i];
    };
    if (key === '--reference') args.reference = take();
    else if (key === '--candidate') args.candidate = take();
    else if (key === '--context') args.context = take();
    else if (key === '--allow') args.allow = take();
    else if (key === '--only') args.only = new RegExp(take());
    else if (key === '--verbose' || key === '-v') args.verbose = true;
    else fail(`unknown argument ${key} (see the header of ${__filename})`);
  }
  for (const k of ['reference', 'candidate', 'context']) if (!args[k]) fail(`--${k} is required`);
  return args;
}

// ------------------------------------------------------------------ comparison (mirrors scripts/rpc-diff)

const ABSENT = Symbol('absent');

// SDK values -> plain comparable values: BigInt -> "123n", Buffer -> "0x..", Date -> ISO string.
function canon(v) {
  if (typeof v === 'bigint') return `${v}n`;
  if (v === undefined) return null;
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') {
    const out = {};
    for (const k of Object.keys(v).sort()) if (typeof v[k] !== 'function') out[k] = canon(v[k]);
    return out;
  }
  return v;
}

function jtype(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string' && /^-?\d+n$/.test(v)) return 'bigint';
  return typeof v;
}

function asBig(v) {
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+n$/.test(v)) return BigInt(v.slice(0, -1));
  if (typeof v === 'string' && /^0x[0-9a-fA-F]+$/.test(v)) return BigInt(v);
  return null;
}

function join(p, k) {
  return typeof k === 'number' ? `${p}[${k}]` : (p ? `${p}.${k}` : k);
}

function globRe(pattern) {
  let out = '';
  for (let i = 0; i < pattern.length;) {
    if (pattern.startsWith('**', i)) { out += '.*'; i += 2; } else if (pattern.startsWith('[*]', i)) { out += '\\[\\d+\\]'; i += 3; } else if (pattern[i] === '*') { out += '[^.\\[]*'; i += 1; } else { out += pattern[i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); i += 1; }
  }
  return new RegExp(`^${out}$`);
}

// tolerance: [[RegExp, N | 'type']]
function diff(a, b, p, shape, tolerance, out) {
  const isObj = (x) => x && typeof x === 'object' && !Array.isArray(x);
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      diff(k in a ? a[k] : ABSENT, k in b ? b[k] : ABSENT, join(p, k), shape, tolerance, out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = shape ? Math.min(a.length, b.length) : Math.max(a.length, b.length);
    for (let i = 0; i < n; i += 1) diff(i < a.length ? a[i] : ABSENT, i < b.length ? b[i] : ABSENT, join(p, i), shape, tolerance, out);
    return;
  }
  if (a === ABSENT || b === ABSENT) {
    if (a !== b) out.push([p, a, b]);
    return;
  }
  for (const [re, tol] of tolerance) {
    if (re.test(p)) {
      if (tol === 'type') {
        if (jtype(a) !== jtype(b)) out.push([p, a, b]);
      } else {
        const qa = asBig(a);
        const qb = asBig(b);
        const d = qa !== null && qb !== null ? (qa > qb ? qa - qb : qb - qa) : null;
        if (d === null || d > BigInt(tol)) out.push([p, a, b]);
      }
      return;
    }
  }
  if (shape ? jtype(a) !== jtype(b) : JSON.stringify(a) !== JSON.stringify(b)) out.push([p, a, b]);
}

function loadAllow(file) {
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot read allow-list ${file}: ${err.message}`);
  }
  return (Array.isArray(data) ? data : data.allow).map((e) => ({
    ...e,
    methods: [].concat(e.method),
    paths: [].concat(e.path).map(globRe),
    nameRe: e.name ? new RegExp(e.name) : null,
  }));
}

function pinMatches(pin, v) {
  if (v === ABSENT) return false;
  if (pin === null) return v === null;
  const bp = asBig(pin);
  const bv = asBig(v);
  if (bp !== null && bv !== null) return bp === bv;
  return JSON.stringify(pin) === JSON.stringify(v);
}

function allowedBy(allow, method, name, p, candValue) {
  return allow.find((e) => (e.methods.includes(method) || e.methods.includes('*'))
    && e.paths.some((re) => re.test(p))
    && (!e.nameRe || e.nameRe.test(name))
    && (!('candidate' in e) || pinMatches(e.candidate, candValue)));
}

function show(v) {
  if (v === ABSENT) return '<absent>';
  const s = JSON.stringify(v);
  return s.length > 160 ? `${s.slice(0, 160)}...(${s.length} chars)` : s;
}

// ------------------------------------------------------------------ the checks

function checks(ctx) {
  const S = ctx.epoch_state; // pinned epoch (hex): <= both nodes' latest_state
  const E = ctx.epoch_tx;
  const getStatusTolerance = {
    'result.bestHash': 'type', 'result.epochNumber': 8, 'result.blockNumber': 8, 'result.latestState': 30,
    'result.latestConfirmed': 15, 'result.latestCheckpoint': 1, 'result.latestFinalized': 1, 'result.pendingTxNumber': 'type',
  };
  // [name, rpc method (for the allow-list), (conflux) => promise, options]
  return [
    ['clientVersion', 'cfx_clientVersion', (c) => c.cfx.clientVersion(), { shape: true }],
    ['getStatus', 'cfx_getStatus', (c) => c.cfx.getStatus(), { tolerance: getStatusTolerance }],
    ['getGasPrice', 'cfx_gasPrice', (c) => c.cfx.getGasPrice()],
    ['maxPriorityFeePerGas', 'cfx_maxPriorityFeePerGas', (c) => c.cfx.maxPriorityFeePerGas()],
    ['feeHistory', 'cfx_feeHistory', (c) => c.cfx.feeHistory(5, S, [20, 80])],
    ['getEpochNumber', 'cfx_epochNumber', (c) => c.cfx.getEpochNumber(E)],
    ['getEpochNumber/latest_state', 'cfx_epochNumber', (c) => c.cfx.getEpochNumber('latest_state'), { tolerance: { result: 30 } }],
    ['getBestBlockHash', 'cfx_getBestBlockHash', (c) => c.cfx.getBestBlockHash(), { shape: true }],
    ['getBalance', 'cfx_getBalance', (c) => c.cfx.getBalance(ctx.addr0, S)],
    ['getNextNonce', 'cfx_getNextNonce', (c) => c.cfx.getNextNonce(ctx.addr0, S)],
    ['getAccount', 'cfx_getAccount', (c) => c.cfx.getAccount(ctx.addr0, S)],
    ['getAccount/contract', 'cfx_getAccount', (c) => c.cfx.getAccount(ctx.contract, S)],
    ['getStakingBalance', 'cfx_getStakingBalance', (c) => c.cfx.getStakingBalance(ctx.addr0, S)],
    ['getCollateralForStorage', 'cfx_getCollateralForStorage', (c) => c.cfx.getCollateralForStorage(ctx.addr0, S)],
    ['getDepositList', 'cfx_getDepositList', (c) => c.cfx.getDepositList(ctx.addr0, S)],
    ['getVoteList', 'cfx_getVoteList', (c) => c.cfx.getVoteList(ctx.addr0, S)],
    ['getAdmin', 'cfx_getAdmin', (c) => c.cfx.getAdmin(ctx.contract, S)],
    ['getSponsorInfo', 'cfx_getSponsorInfo', (c) => c.cfx.getSponsorInfo(ctx.contract, S)],
    ['getCode', 'cfx_getCode', (c) => c.cfx.getCode(ctx.contract, S)],
    ['getStorageAt', 'cfx_getStorageAt', (c) => c.cfx.getStorageAt(ctx.contract, '0x0', S)],
    ['getStorageAt/slot1', 'cfx_getStorageAt', (c) => c.cfx.getStorageAt(ctx.contract, '0x1', S)],
    ['getStorageRoot', 'cfx_getStorageRoot', (c) => c.cfx.getStorageRoot(ctx.contract, S)],
    ['getInterestRate', 'cfx_getInterestRate', (c) => c.cfx.getInterestRate(S)],
    ['getAccumulateInterestRate', 'cfx_getAccumulateInterestRate', (c) => c.cfx.getAccumulateInterestRate(S)],
    ['getPoSEconomics', 'cfx_getPoSEconomics', (c) => c.cfx.getPoSEconomics(S)],
    ['checkBalanceAgainstTransaction', 'cfx_checkBalanceAgainstTransaction',
      (c) => c.cfx.checkBalanceAgainstTransaction(ctx.addr0, ctx.contract, 21000, 1000000000, 64, S)],
    ['getBlockByEpochNumber', 'cfx_getBlockByEpochNumber', (c) => c.cfx.getBlockByEpochNumber(E, false)],
    ['getBlockByEpochNumber/txs', 'cfx_getBlockByEpochNumber', (c) => c.cfx.getBlockByEpochNumber(E, true)],
    ['getBlockByEpochNumber/empty', 'cfx_getBlockByEpochNumber', (c) => c.cfx.getBlockByEpochNumber(ctx.epoch_empty, true)],
    ['getBlockByHash', 'cfx_getBlockByHash', (c) => c.cfx.getBlockByHash(ctx.block_hash_multi, false)],
    ['getBlockByHash/txs', 'cfx_getBlockByHash', (c) => c.cfx.getBlockByHash(ctx.block_hash_multi, true)],
    ['getBlockByHashWithPivotAssumption', 'cfx_getBlockByHashWithPivotAssumption',
      (c) => c.cfx.getBlockByHashWithPivotAssumption(ctx.block_hash_tx, ctx.pivot_hash, E)],
    ['getBlocksByEpoch', 'cfx_getBlocksByEpoch', (c) => c.cfx.getBlocksByEpoch(E)],
    // not wrapped by js-conflux-sdk 2.6.0: the SDK's generic request
    ['getSkippedBlocksByEpoch', 'cfx_getSkippedBlocksByEpoch',
      (c) => c.request({ method: 'cfx_getSkippedBlocksByEpoch', params: [E] })],
    ['getConfirmationRiskByHash', 'cfx_getConfirmationRiskByHash', (c) => c.cfx.getConfirmationRiskByHash(ctx.block_hash_tx),
      { tolerance: { result: 'type' } }],
    ['getTransactionByHash', 'cfx_getTransactionByHash', (c) => c.cfx.getTransactionByHash(ctx.tx_hash)],
    ['getTransactionByHash/deploy', 'cfx_getTransactionByHash', (c) => c.cfx.getTransactionByHash(ctx.tx_hash_deploy)],
    ['getTransactionReceipt', 'cfx_getTransactionReceipt', (c) => c.cfx.getTransactionReceipt(ctx.tx_hash)],
    ['getTransactionReceipt/deploy', 'cfx_getTransactionReceipt', (c) => c.cfx.getTransactionReceipt(ctx.tx_hash_deploy)],
    ['getLogs', 'cfx_getLogs', (c) => c.cfx.getLogs({
      fromEpoch: ctx.epoch_first, toEpoch: S, address: ctx.contract, topics: [[ctx.topic_init, ctx.topic_call]],
    })],
  ];
}

async function run(conflux, fn) {
  try {
    return { result: canon(await fn(conflux)) };
  } catch (err) {
    if (typeof err.code === 'number') return { error: { code: err.code, message: err.message, data: canon(err.data) } };
    return { error: { transport: String(err.message || err) } };
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  let ctx;
  try {
    ctx = JSON.parse(fs.readFileSync(args.context, 'utf8'));
  } catch (err) {
    fail(`cannot read context ${args.context}: ${err.message}`);
  }
  const allow = loadAllow(args.allow);
  const mk = (url) => new Conflux({ url, networkId: ctx.network_id, timeout: 30000 });
  const ref = mk(args.reference);
  const cand = mk(args.candidate);

  const probe = await run(ref, (c) => c.cfx.getEpochNumber('earliest'));
  if (probe.error) fail(`reference ${args.reference}: ${JSON.stringify(probe.error)}`);

  let nOk = 0;
  let nDiff = 0;
  let nAllowed = 0;
  let nBad = 0;
  for (const [name, method, fn, opts = {}] of checks(ctx)) {
    if (args.only && !args.only.test(name)) continue;
    const [a, b] = await Promise.all([run(ref, fn), run(cand, fn)]);
    for (const [r, url, who] of [[a, args.reference, 'reference'], [b, args.candidate, 'candidate']]) {
      if (r.error && r.error.transport) {
        // a node that stopped answering would make every later call wait for the timeout
        const probe = await run(new Conflux({ url, networkId: ctx.network_id, timeout: 5000 }),
          (c) => c.cfx.getEpochNumber('earliest'));
        if (probe.error) {
          console.log(`DIFF  ${name}  (${method})\n    ${who}: ${r.error.transport}`);
          console.log(`sdk-suite: the ${who} ${url} stopped answering (even cfx_epochNumber) after ${name}; aborting`);
          process.exit(1);
        }
      }
    }
    const tolerance = Object.entries(opts.tolerance || {}).map(([p, n]) => [globRe(p), n]);
    const out = [];
    diff(a, b, '', !!opts.shape, tolerance, out);
    if (out.length === 0) {
      nOk += 1;
      console.log(`ok    ${name}`);
      continue;
    }
    nDiff += 1;
    const lines = [];
    let bad = 0;
    for (const [p, x, y] of out) {
      const e = allowedBy(allow, method, name, p, y);
      if (e) {
        nAllowed += 1;
        if (args.verbose) lines.push(`    allowed ${p}: reference ${show(x)}  candidate ${show(y)}  (${e.why})`);
      } else {
        nBad += 1;
        bad += 1;
        lines.push(`    ${p}: reference ${show(x)}  candidate ${show(y)}`);
      }
    }
    const paths = out.map(([p]) => p);
    const listed = paths.length > 4 ? `${paths.slice(0, 4).join(', ')} (+${paths.length - 4} more)` : paths.join(', ');
    console.log(`${bad ? 'DIFF' : 'ok* '}  ${name}  (${method})  ${bad ? '' : `allowed: ${listed}`}`.trimEnd());
    for (const l of lines) console.log(l);
  }
  console.log(`sdk-suite: ${nOk + nDiff} methods: ${nOk} equal, ${nDiff} with differences; `
    + `${nAllowed + nBad} differences: ${nAllowed} allowed, ${nBad} not allowed`);
  process.exit(nBad ? 1 : 0);
}

main().catch((err) => fail(err.stack || String(err)));
