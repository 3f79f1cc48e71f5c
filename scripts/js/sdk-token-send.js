#!/usr/bin/env node
'use strict';
// A dapp's token transfer from a node-held account, through cfxlight: the corpus ERC-20 is deployed and funded
// through the full node with a genesis key, then js-conflux-sdk 2.6.0 calls `token.transfer(to, 7)
// .sendTransaction({from})` against cfxlight with no gas and no storage limit. The SDK sends cfx_sendTransaction,
// so cfxlight estimates both (cfx_estimateGasAndCollateral over verified state, in its EVM) and its signer (the
// BSIM card) signs.
//
//   node scripts/js/sdk-token-send.js --url <cfxlight> --full <full node> --network-id 2029 --secret <genesis key>
//        --from <base32 of the node's signer account>
//
// stdout: one JSON object {token, to, hash, tx, estimate, receipt, fullReceipt, balance}; exit 1 with a message on
// any error.

const { Conflux, format } = require('js-conflux-sdk');
const { execFileSync } = require('child_process');
const path = require('path');

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? undefined : process.argv[i + 1];
  if (v === undefined) fail(`--${name} is required`);
  return v;
}

function fail(message) {
  process.stderr.write(`sdk-token-send: error: ${message}\n`);
  process.exit(1);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

(async () => {
  const networkId = Number(arg('network-id'));
  const from = arg('from');
  const built = JSON.parse(execFileSync('node', [path.join(__dirname, 'compile.js')], { maxBuffer: 1 << 26 })).Token;
  const full = new Conflux({ url: arg('full'), networkId, timeout: 60000 });
  const funder = full.wallet.addPrivateKey(arg('secret'));
  const deployed = await full.Contract({ abi: built.abi, bytecode: built.bytecode })
    .constructor('Card Token', 'CRD', 10n ** 24n)
    .sendTransaction({ from: funder })
    .executed();
  if (deployed.outcomeStatus !== 0) fail('the token deployment failed');
  const address = deployed.contractCreated;
  const onFull = full.Contract({ abi: built.abi, address });
  const funded = await onFull.transfer(from, 1000n).sendTransaction({ from: funder }).executed();
  if (funded.outcomeStatus !== 0) fail('funding the account with tokens failed');

  const ours = new Conflux({ url: arg('url'), networkId, timeout: 60000 });
  const token = ours.Contract({ abi: built.abi, address });
  // The funding is readable once cfxlight has verified the state that holds it.
  for (let i = 0; ; i += 1) {
    if (BigInt(await token.balanceOf(from)) === 1000n) break;
    if (i > 240) fail('cfxlight never showed the funded token balance');
    await sleep(250);
  }
  const to = format.address(`0x1${[...Array(39)].map(() => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('')}`, networkId);
  const pending = token.transfer(to, 7n).sendTransaction({ from });
  const hash = await pending;
  const tx = await ours.cfx.getTransactionByHash(hash);
  const receipt = await pending.executed({ delta: 250, timeout: 120000 });
  const fullReceipt = await full.cfx.getTransactionReceipt(hash);
  // The full node's estimate of the same request, on the state the transaction was sent on.
  const estimate = await full.cfx.estimateGasAndCollateral(
    { from, to: address, data: token.transfer(to, 7n).data },
    receipt.epochNumber - 1,
  );
  let balance;
  for (let i = 0; i < 240; i += 1) {
    balance = String(await token.balanceOf(to));
    if (balance !== '0') break;
    await sleep(250);
  }
  const pick = (r) => ({ outcomeStatus: r.outcomeStatus, gasUsed: String(r.gasUsed), storageCollateralized: String(r.storageCollateralized), txExecErrorMsg: r.txExecErrorMsg });
  process.stdout.write(`${JSON.stringify({
    token: address,
    to,
    hash,
    tx: { gas: String(tx.gas), storageLimit: String(tx.storageLimit), from: tx.from },
    estimate: { gasLimit: String(estimate.gasLimit), storageCollateralized: String(estimate.storageCollateralized) },
    receipt: pick(receipt),
    fullReceipt: pick(fullReceipt),
    balance,
  })}\n`);
})().catch((e) => fail(e && e.stack ? e.stack : String(e)));
