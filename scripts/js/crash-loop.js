// Helpers of scripts/crash-loop (see its header).
//   node js/crash-loop.js send  --node URL --to ADDR --log FILE   # sends until killed; one acked hash a line
//   node js/crash-loop.js check --node URL --full URL --log FILE  # gapless chain + every acked tx kept or mined
'use strict';
const fs = require('fs');

const args = Object.fromEntries(
  process.argv.slice(3).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);

async function call(url, method, params) {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(10000),
  });
  return r.json();
}

async function send() {
  const fd = fs.openSync(args.log, 'a');
  const accounts = (await call(args.node, 'cfx_accounts', [])).result;
  for (;;) {
    try {
      const r = await call(args.node, 'cfx_sendTransaction', [{ from: accounts[0], to: args.to, value: '0x1' }]);
      if (r.result) {
        // Acked: the node promised it is on disk. Written and synced before the next send.
        fs.writeSync(fd, r.result + '\n');
        fs.fsyncSync(fd);
      }
    } catch (_) {
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }
}

async function check() {
  const problems = [];
  const best = parseInt((await call(args.node, 'cfx_epochNumber', ['latest_mined'])).result, 16);
  let parent = null;
  for (let e = 0; e <= best; e++) {
    const b = (await call(args.node, 'cfx_getBlockByEpochNumber', ['0x' + e.toString(16), false])).result;
    if (!b) {
      problems.push(`epoch ${e} missing`);
      break;
    }
    if (parent && b.parentHash !== parent) problems.push(`epoch ${e} does not link to ${e - 1}`);
    parent = b.hash;
  }
  const acked = fs.existsSync(args.log) ? fs.readFileSync(args.log, 'utf8').split('\n').filter(Boolean) : [];
  let pending = 0, mined = 0;
  for (const h of acked) {
    const ours = (await call(args.node, 'cfx_getTransactionByHash', [h])).result;
    const theirs = (await call(args.full, 'cfx_getTransactionByHash', [h])).result;
    if (theirs && theirs.blockHash) mined++;
    else if (ours) pending++;
    else problems.push(`acked transaction ${h} is lost`);
  }
  console.log(JSON.stringify({ best, acked: acked.length, mined, pending, problems }));
  process.exit(problems.length ? 1 : 0);
}

(args && process.argv[2] === 'send' ? send : check)().catch((e) => {
  console.error(e.message);
  process.exit(2);
});
