#!/usr/bin/env node
'use strict';
// `scripts/devnet`: a real conflux-rust v3.0.2 dev network on 127.0.0.1 for cfxlight's tests and comparisons.
// Each node runs in its own detached process (js/devnet-node.js); everything about a devnet lives in <dir>.

const dgram = require('dgram');
const fs = require('fs');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { format, sign } = require('js-conflux-sdk');

const HELP = `usage:
  scripts/devnet up <dir> [--chain-id N] [--block-interval-ms M] [--light] [--bootnode cfxnode://ID@HOST:PORT] [--no-mine]
  scripts/devnet light <dir>
  scripts/devnet down <dir>
  scripts/devnet status <dir>
  scripts/devnet --help

up      start a conflux-rust v3.0.2 dev full node on 127.0.0.1 (data and logs in <dir>, wiped first), wait until it
        serves RPC in NormalSyncPhase, write <dir>/devnet.json and one-value files (bootnode, rpc_url, ws_url,
        chain_id, genesis_hash, genesis_keys, pid; light_pid and light_rpc_url with --light), print devnet.json.
        --chain-id N             chain id = network id (default 2029); the eSpace chain id is N+1
        --block-interval-ms M    mine a block every M ms (default 500)
        --no-mine                no timed mining (dev mode then mines only when a tx arrives)
        --bootnode URL           peer with another node (e.g. the bootnode file of another devnet dir, same chain id);
                                 up then also waits until that peer is connected
        --light                  also start a conflux-rust light node peered with the full node. conflux-rust allows
                                 ONE P2P session per remote IP: that node then takes the full node's 127.0.0.1 slot,
                                 so a second conflux node cannot peer with it, and cfxlight or wire_probe.py must
                                 dial from another loopback source address (bind 127.0.0.2 before connecting)
light   add conflux-rust's light node to the running devnet in <dir> (same as --light, but later: e.g. to time
        how long it takes to sync the epochs the devnet already has)
down    stop every node started in <dir> (SIGTERM, SIGKILL after 20 s); no error if already down
status  print devnet.json with the liveness and epoch of each node; exit 1 unless all are running`;

const SERVER = path.join(__dirname, 'devnet-node.js');
const LOG_CONF = path.join(__dirname, 'node-log.yaml');
const POS_DIR = path.join(path.dirname(require.resolve('@xcfx/node')), 'configs', 'pos_config');

// Fixed so that every devnet (and a second node peering with it) has the same genesis. Hex WITHOUT 0x: with 0x
// conflux-rust panics at genesis.
const GENESIS_SECRETS = ['11', '22', '33', '44'].map((b) => b.repeat(32));
const DEFAULT_CHAIN_ID = 2029;
const DEFAULT_BLOCK_INTERVAL_MS = 500;
// Conventional conflux ports for the full node; the light node's follow devnet.md. Used only while free.
const PREFERRED_PORTS = { node: { p2p: 32323, http: 12537, ws: 12538, eth: 8545 }, light: { p2p: 32423, http: 12637, ws: 12638 } };
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 20_000;
const ONE_VALUE_FILES = ['bootnode', 'rpc_url', 'ws_url', 'chain_id', 'genesis_hash', 'genesis_keys', 'pid', 'light_pid', 'light_rpc_url'];

class UsageError extends Error {}

// ---------- small helpers ----------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const readIf = (file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null);

function paths(dir) {
  return {
    json: path.join(dir, 'devnet.json'),
    node: { data: path.join(dir, 'node'), log: path.join(dir, 'node.log'), pidFile: path.join(dir, 'pid') },
    light: { data: path.join(dir, 'light'), log: path.join(dir, 'light.log'), pidFile: path.join(dir, 'light_pid') },
  };
}

async function rpc(url, method, params = [], timeoutMs = 5000) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await res.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

// A pid counts as a devnet node of <dataDir> only if its command line says so: pids get reused, and a zombie or a
// foreign process must never be signalled or reported as alive.
function isOurNode(pid, dataDir) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  let argv;
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  if (argv[1] !== SERVER) return false;
  try {
    return JSON.parse(argv[2]).confluxDataDir === dataDir;
  } catch {
    return false;
  }
}

// Pids recorded in <dir>: the pid files are written right after each spawn, so they also cover an `up` that was
// interrupted before devnet.json existed.
function recordedNodes(dir) {
  const p = paths(dir);
  const nodes = [];
  for (const kind of ['node', 'light']) {
    const pid = parseInt(readIf(p[kind].pidFile) || '', 10);
    if (pid) nodes.push({ kind, pid, dataDir: p[kind].data });
  }
  return nodes;
}

function logTail(logPath, lines = 25) {
  const text = readIf(logPath);
  if (!text) return `(no output in ${logPath})`;
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

// ---------- ports ----------

function canBind(port, type) {
  return new Promise((resolve) => {
    // Bind like conflux-rust does (0.0.0.0), which also conflicts with a listener on 127.0.0.1.
    if (type === 'udp') {
      const sock = dgram.createSocket('udp4');
      sock.once('error', () => resolve(false));
      sock.bind(port, '0.0.0.0', () => sock.close(() => resolve(true)));
    } else {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen({ port, host: '0.0.0.0', exclusive: true }, () => srv.close(() => resolve(true)));
    }
  });
}

function ephemeralPort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '0.0.0.0' }, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// P2P needs the same number free for TCP and UDP (conflux uses tcpPort and udpPort = the same value here).
async function pickPorts(preferred, taken) {
  const chosen = {};
  for (const [name, want] of Object.entries(preferred)) {
    const usable = async (port) =>
      !taken.has(port) && (await canBind(port, 'tcp')) && (name !== 'p2p' || (await canBind(port, 'udp')));
    let port = want;
    while (!(await usable(port))) port = await ephemeralPort();
    taken.add(port);
    chosen[name] = port;
  }
  return chosen;
}

// ---------- processes ----------

function launch(nodePaths, config) {
  fs.mkdirSync(nodePaths.data, { recursive: true });
  const out = fs.openSync(nodePaths.log, 'w');
  // cwd = data dir: the PoS config writes ./log/pos.log relative to the working directory.
  const child = spawn(process.execPath, [SERVER, JSON.stringify(config)], {
    cwd: nodePaths.data,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  child.unref();
  fs.writeFileSync(nodePaths.pidFile, `${child.pid}\n`);
  return child.pid;
}

async function stopNodes(nodes) {
  const alive = () => nodes.filter((n) => isOurNode(n.pid, n.dataDir));
  const signal = (sig) => alive().forEach((n) => { try { process.kill(n.pid, sig); } catch { /* already gone */ } });
  const waitGone = async (ms) => {
    for (const deadline = Date.now() + ms; alive().length && Date.now() < deadline;) await sleep(100);
  };
  signal('SIGTERM');
  await waitGone(STOP_TIMEOUT_MS);
  if (alive().length) {
    process.stderr.write(`devnet: pid ${alive().map((n) => n.pid).join(', ')} ignored SIGTERM for 20 s, sending SIGKILL\n`);
    signal('SIGKILL');
    await waitGone(5000);
  }
  return alive();
}

// Polls check() until it returns a truthy value; fails fast if the node process died.
async function waitFor(what, pid, dataDir, deadline, check) {
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!isOurNode(pid, dataDir)) throw new Error(`${what}: node process ${pid} exited during start-up`);
    try {
      const value = await check();
      if (value) return value;
      last = 'not yet';
    } catch (err) {
      last = err.cause ? err.cause.code || err.cause.message : err.message;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not ready after ${READY_TIMEOUT_MS / 1000} s (last: ${last})`);
}

// ---------- node facts ----------

// The node id is the uncompressed secp256k1 public key (without the 04 prefix) of the secret in net_config/key;
// cross-checked against the "Self node id" the node logs, so a mismatch cannot go unnoticed.
function nodeId(dataDir, logPath) {
  const secret = fs.readFileSync(path.join(dataDir, 'net_config', 'key'), 'utf8').trim();
  const id = sign.privateKeyToPublicKey(Buffer.from(secret, 'hex')).toString('hex');
  const logged = /Self node id: 0x([0-9a-f]{128})/.exec(readIf(logPath) || '');
  if (!logged) throw new Error(`no "Self node id" line in ${logPath} to verify the node id against`);
  if (logged[1] !== id) throw new Error(`node id from net_config/key (${id}) differs from the logged one (${logged[1]})`);
  return id;
}

function genesisKeys(chainId) {
  return GENESIS_SECRETS.map((secret) => {
    const hex = `0x${sign.privateKeyToAddress(Buffer.from(secret, 'hex')).toString('hex')}`;
    return { secret: `0x${secret}`, address: format.address(hex, chainId), hex_address: hex };
  });
}

function nodeConfig(opts, ports, dataDir) {
  return {
    chainId: opts.chainId,
    evmChainId: opts.chainId + 1,
    genesisSecrets: GENESIS_SECRETS,
    confluxDataDir: dataDir,
    tcpPort: ports.p2p,
    udpPort: ports.p2p,
    jsonrpcHttpPort: ports.http,
    jsonrpcWsPort: ports.ws,
    // The eSpace RPC shows each block's eSpace base price, the one header field the core
    // RPC does not, so tests can rebuild and re-hash a header from RPC fields alone.
    ...(ports.eth ? { jsonrpcHttpEthPort: ports.eth } : {}),
    publicRpcApis: 'all',
    // Serves the cfx_* polled filter methods (off unless set), so tests compare ours with them.
    pollLifetimeInSeconds: 60,
    posConfigPath: path.join(POS_DIR, 'pos_config.yaml'),
    posInitialNodesPath: path.join(POS_DIR, 'initial_nodes.json'),
    posPrivateKeyPath: path.join(dataDir, 'pos_key'),
    logConf: LOG_CONF,
  };
}

// ---------- commands ----------

function parseUpArgs(args) {
  const opts = { chainId: DEFAULT_CHAIN_ID, blockIntervalMs: null, light: false, bootnode: null, mine: true };
  const intArg = (flag, v) => {
    if (!/^[1-9][0-9]*$/.test(v || '')) throw new UsageError(`${flag} needs a positive integer, got ${JSON.stringify(v)}`);
    return parseInt(v, 10);
  };
  let dir = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--chain-id') opts.chainId = intArg(a, args[++i]);
    else if (a === '--block-interval-ms') opts.blockIntervalMs = intArg(a, args[++i]);
    else if (a === '--light') opts.light = true;
    else if (a === '--no-mine') opts.mine = false;
    else if (a === '--bootnode') {
      opts.bootnode = args[++i] || '';
      for (const b of opts.bootnode.split(',')) {
        if (!/^cfxnode:\/\/[0-9a-f]{128}@[^:@]+:[0-9]+$/.test(b)) {
          throw new UsageError(`--bootnode wants cfxnode://<128 hex node id>@<host>:<port>, got ${JSON.stringify(b)}`);
        }
      }
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (dir === null) dir = a;
    else throw new UsageError(`unexpected argument ${a}`);
  }
  if (!dir) throw new UsageError('up needs a directory');
  if (!opts.mine && opts.blockIntervalMs !== null) throw new UsageError('--no-mine and --block-interval-ms exclude each other');
  if (opts.mine && opts.blockIntervalMs === null) opts.blockIntervalMs = DEFAULT_BLOCK_INTERVAL_MS;
  if (opts.chainId > 0xffffffff - 1) throw new UsageError('--chain-id must fit in u32');
  return { dir: path.resolve(dir), opts };
}

async function up(args) {
  const t0 = Date.now();
  const { dir, opts } = parseUpArgs(args);
  const p = paths(dir);
  fs.mkdirSync(dir, { recursive: true });
  const running = recordedNodes(dir).filter((n) => isOurNode(n.pid, n.dataDir));
  if (running.length) {
    throw new Error(`a devnet in ${dir} is still running (pid ${running.map((n) => n.pid).join(', ')}); run 'scripts/devnet down ${dir}' first`);
  }
  // Only what `up` creates is wiped: <dir> may hold other files of the caller.
  for (const name of ['devnet.json', 'node', 'light', 'node.log', 'light.log', ...ONE_VALUE_FILES]) {
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }

  const started = [];
  // An interrupted `up` must not leave detached nodes behind that nothing records as running.
  const abort = async (sig) => {
    await stopNodes(started);
    process.stderr.write(`devnet: error: up interrupted by ${sig}, nodes stopped\n`);
    process.exit(1);
  };
  process.once('SIGINT', () => abort('SIGINT'));
  process.once('SIGTERM', () => abort('SIGTERM'));

  const deadline = t0 + READY_TIMEOUT_MS;
  let current = p.node;
  try {
    const taken = new Set();
    const ports = await pickPorts(PREFERRED_PORTS.node, taken);
    const config = nodeConfig(opts, ports, p.node.data);
    if (opts.blockIntervalMs !== null) config.devBlockIntervalMs = opts.blockIntervalMs;
    if (opts.bootnode) config.bootnodes = opts.bootnode;
    const pid = launch(p.node, config);
    started.push({ kind: 'node', pid, dataDir: p.node.data });
    const rpcUrl = `http://127.0.0.1:${ports.http}`;
    process.stderr.write(`devnet: full node pid ${pid} starting (rpc ${rpcUrl}, p2p ${ports.p2p}, log ${p.node.log})\n`);
    await waitFor('full node RPC in NormalSyncPhase', pid, p.node.data, deadline,
      async () => (await rpc(rpcUrl, 'debug_currentSyncPhase')) === 'NormalSyncPhase');
    const id = nodeId(p.node.data, p.node.log);
    if (opts.bootnode) {
      const wanted = opts.bootnode.split(',').map((b) => b.slice('cfxnode://'.length, 'cfxnode://'.length + 128));
      await waitFor('full node peered with --bootnode', pid, p.node.data, deadline, async () => {
        const peers = await rpc(rpcUrl, 'test_getPeerInfo');
        return peers.some((peer) => wanted.includes(peer.nodeid.replace(/^0x/, '')));
      });
    }
    const genesis = await rpc(rpcUrl, 'cfx_getBlockByEpochNumber', ['0x0', false]);
    const devnet = {
      chain_id: opts.chainId,
      evm_chain_id: opts.chainId + 1,
      network_id: opts.chainId,
      rpc_url: rpcUrl,
      ws_url: `ws://127.0.0.1:${ports.ws}`,
      eth_rpc_url: `http://127.0.0.1:${ports.eth}`,
      p2p_port: ports.p2p,
      bootnode: `cfxnode://${id}@127.0.0.1:${ports.p2p}`,
      node_id: id,
      genesis_hash: genesis.hash,
      genesis_keys: genesisKeys(opts.chainId),
      block_interval_ms: opts.blockIntervalMs,
      peer_bootnode: opts.bootnode,
      pid,
      data_dir: p.node.data,
      log: p.node.log,
    };

    if (opts.light) {
      current = p.light;
      devnet.light = await startLight(p, opts, devnet, taken, deadline, started);
      current = p.node;
    }

    fs.writeFileSync(p.json, `${JSON.stringify(devnet, null, 2)}\n`);
    const oneValue = {
      bootnode: devnet.bootnode,
      rpc_url: devnet.rpc_url,
      ws_url: devnet.ws_url,
      chain_id: devnet.chain_id,
      genesis_hash: devnet.genesis_hash,
      genesis_keys: devnet.genesis_keys.map((k) => k.secret).join('\n'),
      ...(devnet.light ? { light_rpc_url: devnet.light.rpc_url } : {}),
    };
    for (const [name, value] of Object.entries(oneValue)) fs.writeFileSync(path.join(dir, name), `${value}\n`);
    process.stderr.write(`devnet: up in ${dir} after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    process.stdout.write(`${JSON.stringify(devnet, null, 2)}\n`);
  } catch (err) {
    await stopNodes(started);
    err.detail = `--- last lines of ${current.log} ---\n${logTail(current.log)}`;
    throw err;
  }
}

// Starts conflux-rust's light node peered with the devnet's full node; returns its devnet.json entry.
async function startLight(p, opts, devnet, taken, deadline, started) {
  const lports = await pickPorts(PREFERRED_PORTS.light, taken);
  const lconfig = { ...nodeConfig(opts, lports, p.light.data), nodeType: 'light', bootnodes: devnet.bootnode };
  const lpid = launch(p.light, lconfig);
  started.push({ kind: 'light', pid: lpid, dataDir: p.light.data });
  const lrpc = `http://127.0.0.1:${lports.http}`;
  process.stderr.write(`devnet: light node pid ${lpid} starting (rpc ${lrpc}, p2p ${lports.p2p}, log ${p.light.log})\n`);
  await waitFor('light node RPC', lpid, p.light.data, deadline, async () => (await rpc(lrpc, 'cfx_epochNumber')) != null);
  const lid = nodeId(p.light.data, p.light.log);
  // The light node reaching the full node proves the full node's bootnode string (id, port) is right.
  await waitFor('light node connected to the full node', devnet.pid, p.node.data, deadline, async () =>
    (await rpc(devnet.rpc_url, 'test_getPeerInfo')).some((peer) => peer.nodeid.replace(/^0x/, '') === lid));
  return {
    rpc_url: lrpc,
    ws_url: `ws://127.0.0.1:${lports.ws}`,
    p2p_port: lports.p2p,
    node_id: lid,
    pid: lpid,
    data_dir: p.light.data,
    log: p.light.log,
  };
}

// `light <dir>`: add conflux-rust's light node to a running devnet (e.g. once it has many epochs, to time its sync).
async function light(args) {
  if (args.length !== 1) throw new UsageError('light takes exactly one directory');
  const dir = path.resolve(args[0]);
  const p = paths(dir);
  const text = readIf(p.json);
  if (!text) throw new Error(`no devnet recorded in ${dir} (no devnet.json)`);
  const devnet = JSON.parse(text);
  if (!isOurNode(devnet.pid, devnet.data_dir)) throw new Error(`the full node of ${dir} is not running`);
  if (devnet.light && isOurNode(devnet.light.pid, devnet.light.data_dir)) throw new Error(`a light node already runs in ${dir}`);
  fs.rmSync(p.light.data, { recursive: true, force: true });
  const t0 = Date.now();
  const started = [];
  const taken = new Set([devnet.p2p_port]);
  try {
    devnet.light = await startLight(p, { chainId: devnet.chain_id }, devnet, taken, t0 + READY_TIMEOUT_MS, started);
  } catch (err) {
    await stopNodes(started);
    err.detail = `--- last lines of ${p.light.log} ---\n${logTail(p.light.log)}`;
    throw err;
  }
  fs.writeFileSync(p.json, `${JSON.stringify(devnet, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'light_rpc_url'), `${devnet.light.rpc_url}\n`);
  process.stderr.write(`devnet: light node up in ${dir} after ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  process.stdout.write(`${JSON.stringify(devnet.light, null, 2)}\n`);
}

async function down(args) {
  if (args.length !== 1) throw new UsageError('down takes exactly one directory');
  const dir = path.resolve(args[0]);
  const nodes = recordedNodes(dir);
  const alive = nodes.filter((n) => isOurNode(n.pid, n.dataDir));
  if (!alive.length) {
    process.stderr.write(`devnet: nothing running in ${dir}\n`);
    return;
  }
  const left = await stopNodes(alive);
  if (left.length) throw new Error(`could not stop pid ${left.map((n) => n.pid).join(', ')}`);
  process.stderr.write(`devnet: stopped ${alive.map((n) => `${n.kind} (pid ${n.pid})`).join(', ')} in ${dir}\n`);
}

async function status(args) {
  if (args.length !== 1) throw new UsageError('status takes exactly one directory');
  const dir = path.resolve(args[0]);
  const text = readIf(paths(dir).json);
  if (!text) throw new Error(`no devnet recorded in ${dir} (no devnet.json)`);
  const devnet = JSON.parse(text);
  const probe = async (pid, dataDir, rpcUrl) => {
    const alive = isOurNode(pid, dataDir);
    let epoch = null;
    if (alive) {
      try {
        epoch = parseInt(await rpc(rpcUrl, 'cfx_epochNumber', [], 3000), 16);
      } catch { /* reported as epoch null */ }
    }
    return { pid, alive, epoch };
  };
  const state = { node: await probe(devnet.pid, devnet.data_dir, devnet.rpc_url) };
  if (devnet.light) state.light = await probe(devnet.light.pid, devnet.light.data_dir, devnet.light.rpc_url);
  process.stdout.write(`${JSON.stringify({ ...devnet, status: state }, null, 2)}\n`);
  const notRunning = Object.entries(state).filter(([, s]) => !s.alive || s.epoch === null).map(([k]) => k);
  if (notRunning.length) {
    process.stderr.write(`devnet: not running in ${dir}: ${notRunning.join(', ')}\n`);
    process.exitCode = 1;
  }
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${HELP}\n`);
    if (!cmd) process.exitCode = 1;
    return;
  }
  const commands = { up, light, down, status };
  if (!commands[cmd]) throw new UsageError(`unknown command ${JSON.stringify(cmd)} (try --help)`);
  await commands[cmd](args);
}

main().catch((err) => {
  process.stderr.write(`devnet: error: ${err.message}${err instanceof UsageError ? ' (see scripts/devnet --help)' : ''}\n`);
  if (err.detail) process.stderr.write(`${err.detail}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
