#!/usr/bin/env node
'use strict';
// A dapp's everyday transfer, through cfxlight: js-conflux-sdk 2.6.0 asks the node to send (cfx_sendTransaction,
// so the node's configured signer — a BSIM card, a keystore — signs), waits for the receipt the node verified, and
// reads the sender's balance and nonce back through the node until they show the transfer.
//
//   node scripts/js/sdk-send.js --url http://127.0.0.1:12539 --network-id 2029 --to <base32> [--value-cfx 1]
//        [--from <base32>]    (default: the node's first signer account, from cfx_accounts)
//
// stdout: one JSON object {from, to, hash, receipt, balanceBefore, balanceAfter, nonceBefore, nonceAfter,
//         sendMs, minedMs}; balances in drip as decimal strings. Exit 1 with a message on any error.

const { Conflux, Drip } = require('js-conflux-sdk');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  if (v === undefined) fail(`--${name} needs a value`);
  return v;
}

function fail(message) {
  process.stderr.write(`sdk-send: error: ${message}\n`);
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const url = arg('url') || fail('--url is required');
  const networkId = Number(arg('network-id') || fail('--network-id is required'));
  const to = arg('to') || fail('--to is required');
  const value = Drip.fromCFX(arg('value-cfx', '1'));
  const cfx = new Conflux({ url, networkId, timeout: 60000 });
  let from = arg('from');
  if (!from) {
    const accounts = await cfx.request({ method: 'cfx_accounts', params: [] });
    if (!accounts || accounts.length === 0) fail('the node has no signer account (start it with --signer)');
    [from] = accounts;
  }
  const balanceBefore = await cfx.cfx.getBalance(from);
  const nonceBefore = await cfx.cfx.getNextNonce(from);
  const t0 = Date.now();
  const pending = cfx.cfx.sendTransaction({ from, to, value });
  const hash = await pending;
  const sendMs = Date.now() - t0;
  const receipt = await pending.executed({ delta: 250, timeout: 120000 });
  const minedMs = Date.now() - t0;
  // The receipt's epoch becomes readable state once the node has verified its deferred root.
  let balanceAfter = balanceBefore;
  let nonceAfter = nonceBefore;
  for (let i = 0; i < 240 && (nonceAfter === nonceBefore || balanceAfter === balanceBefore); i += 1) {
    await sleep(250);
    balanceAfter = await cfx.cfx.getBalance(from);
    nonceAfter = await cfx.cfx.getNextNonce(from);
  }
  process.stdout.write(`${JSON.stringify({
    from,
    to,
    hash,
    receipt: {
      ...receipt,
      gasUsed: receipt.gasUsed.toString(),
      gasFee: receipt.gasFee.toString(),
      effectiveGasPrice: receipt.effectiveGasPrice?.toString(),
      burntGasFee: receipt.burntGasFee?.toString(),
      storageCollateralized: receipt.storageCollateralized?.toString(),
    },
    value: value.toString(),
    balanceBefore: balanceBefore.toString(),
    balanceAfter: balanceAfter.toString(),
    nonceBefore: nonceBefore.toString(),
    nonceAfter: nonceAfter.toString(),
    sendMs,
    minedMs,
  }, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
})().catch((e) => fail(e && e.message ? `${e.message}${e.code ? ` (code ${e.code})` : ''}` : String(e)));
