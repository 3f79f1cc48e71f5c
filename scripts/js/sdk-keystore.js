#!/usr/bin/env node
'use strict';
// Reference keystore codec from js-conflux-sdk 2.6.0 (V3 JSON, scrypt n=8192): cfxlight's keystore is diffed against it.
//   sdk-keystore.js encrypt   stdin {"privateKey":"0x..","password":".."}  stdout the V3 keystore JSON
//   sdk-keystore.js decrypt   stdin {"keystore":{..},"password":".."}      stdout {"privateKey":"0x.."}

const { sign, format } = require('js-conflux-sdk');

const ops = {
  encrypt: ({ privateKey, password }) => sign.encrypt(format.hexBuffer(privateKey), password),
  decrypt: ({ keystore, password }) => ({ privateKey: format.hex(sign.decrypt(keystore, password)) }),
};

const op = ops[process.argv[2]];
if (!op) {
  process.stderr.write('usage: sdk-keystore.js encrypt|decrypt < request.json\n');
  process.exit(2);
}
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  try {
    process.stdout.write(`${JSON.stringify(op(JSON.parse(input)))}\n`);
  } catch (err) {
    process.stderr.write(`sdk-keystore: error: ${err.message}\n`);
    process.exit(1);
  }
});
