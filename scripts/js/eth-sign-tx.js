#!/usr/bin/env node
'use strict';
// Reference eSpace signer: signs an Ethereum-space transaction with viem (2.57.20, pinned in package-lock.json as
// a dependency of @xcfx/node's cive), so that scripts/rpc-diff can put eSpace transactions into Core blocks with
// a signer independent of cfxlight.
// stdin:  {"privateKey":"0x..","tx":{type: "legacy" | "eip2930" | "eip1559", chainId, nonce, gas, to, value, data,
//          gasPrice | maxFeePerGas+maxPriorityFeePerGas, accessList}}  (numbers as JSON numbers or 0x hex)
// stdout: {"raw":"0x..","hash":"0x..","from":"0x.."}

const { privateKeyToAccount } = require('viem/accounts');
const { keccak256 } = require('viem');

function fail(message) {
  process.stderr.write(`eth-sign-tx: error: ${message}\n`);
  process.exit(1);
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', async () => {
  let req;
  try {
    req = JSON.parse(input);
  } catch (err) {
    fail(`stdin is not JSON: ${err.message}`);
  }
  const { privateKey, tx } = req;
  if (!privateKey || !tx) fail('stdin needs privateKey and tx');
  try {
    const big = (v) => (v === undefined || v === null ? undefined : BigInt(v));
    const account = privateKeyToAccount(privateKey);
    const fields = {
      type: tx.type,
      chainId: Number(tx.chainId),
      nonce: Number(tx.nonce),
      gas: big(tx.gas),
      to: tx.to,
      value: big(tx.value ?? 0),
      data: tx.data ?? '0x',
    };
    if (tx.type === 'eip1559') {
      fields.maxFeePerGas = big(tx.maxFeePerGas);
      fields.maxPriorityFeePerGas = big(tx.maxPriorityFeePerGas);
    } else {
      fields.gasPrice = big(tx.gasPrice);
    }
    if (tx.type !== 'legacy') fields.accessList = tx.accessList ?? [];
    const raw = await account.signTransaction(fields);
    process.stdout.write(`${JSON.stringify({ raw, hash: keccak256(raw), from: account.address.toLowerCase() })}\n`);
  } catch (err) {
    fail(err.message);
  }
});
