#!/usr/bin/env node
'use strict';
// Reference signer: signs a Conflux core-space transaction with js-conflux-sdk 2.6.0's own code, so cfxlight's
// encoder/signer can be diffed against the de-facto dapp client.
// stdin:  {"privateKey":"0x..","networkId":2029,"tx":{type, nonce, gasPrice | maxFeePerGas+maxPriorityFeePerGas,
//          gas, to, value, storageLimit, epochHeight, chainId, data, accessList}}
//         numbers as JSON numbers, decimal strings or 0x hex; type 0 (legacy), 1 (CIP-2930) or 2 (CIP-1559),
//         inferred by the SDK from the fields when absent.
// stdout: {"raw":"0x..","hash":"0x..","from":"net2029:..","fromHex":"0x1..","type":N}

const { Transaction, format } = require('js-conflux-sdk');

function fail(message) {
  process.stderr.write(`sdk-sign-tx: error: ${message}\n`);
  process.exit(1);
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  let req;
  try {
    req = JSON.parse(input);
  } catch (err) {
    fail(`stdin is not JSON: ${err.message}`);
  }
  const { privateKey, networkId, tx } = req;
  if (!privateKey || !tx) fail('stdin needs privateKey and tx');
  try {
    const fields = { ...tx };
    // The SDK compares type with === against 0/1/2, so "2" or "0x2" would make it throw "Unsupported transaction type".
    if (fields.type !== undefined && fields.type !== null) fields.type = Number(fields.type);
    else delete fields.type;
    const signed = new Transaction(fields).sign(privateKey, Number(networkId ?? tx.chainId));
    process.stdout.write(`${JSON.stringify({
      raw: signed.serialize(),
      hash: signed.hash,
      from: signed.from,
      fromHex: format.hexAddress(signed.from),
      type: signed.txType(),
    })}\n`);
  } catch (err) {
    fail(err.message);
  }
});
