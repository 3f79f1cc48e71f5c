#!/usr/bin/env python3
"""Capture storage-root vectors (tests/data/mpt_storage_roots_*.json) from a running conflux-rust devnet.

    storage_root_capture.py <devnet dir> <out.json> [--epoch E] [--source-ip 127.47.0.2] [--addr HEX=LABEL ...]

Speaks the light protocol (clp v2) to the devnet's full node with the light-peer client of
/work/shared/tools/proof_check.py, from its own source IP (conflux-rust keeps one P2P session per source IP,
and at most 2 per /24, 4 per /16, 8 per /8: `session_ip_limits` "1,8,4,2"). Asks GetStorageRoots (0x1a)
`[id, [[E, address20]]]` for each address at epoch E (default latest_state - 10), records each StorageRootWithKey item of the answer (0x1b) byte for byte, the pivot
headers of E+5 (and of E-2000+5 from the second snapshot period on) from GetBlockHashesByEpoch +
GetBlockHeaders, and the full node's own JSON-RPC answer cfx_getStorageRoot(address, E). Nothing in the
output is computed here: bytes and JSON are the node's; labels are our descriptions of the addresses.
"""
import argparse
import datetime
import json
import os
import socket
import sys
import urllib.request

sys.path.insert(0, "/work/shared/tools")
import proof_check as pc  # noqa: E402  (LightPeer, rlp, unrlp, keccak, pivot_header)

SNAPSHOT_EPOCHS = 2000
DEFAULT_ADDRESSES = [
    ("0888000000000000000000000000000000000002", "internal staking contract (storage written every block)"),
    ("0888000000000000000000000000000000000001", "internal sponsor whitelist contract (storage)"),
    ("0888000000000000000000000000000000000000", "internal AdminControl contract (storage layout only, no slots)"),
    ("19e7e376e7c213b7e7e7e46cc70a5dd086daff2a", "genesis account of secret 0x11..11 (no storage)"),
    ("1" + pc.keccak(b"nobody").hex()[:39], "address nobody owns (proof_check.py default)"),
]


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, body, {"content-type": "application/json"})
    reply = json.load(urllib.request.urlopen(req, timeout=10))
    if "error" in reply:
        raise RuntimeError(f"{method}{params}: {reply['error']}")
    return reply["result"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("devnet")
    ap.add_argument("out")
    ap.add_argument("--epoch", type=int)
    ap.add_argument("--source-ip", default="127.47.0.2")
    ap.add_argument("--addr", nargs="*", default=[], help="extra HEX=LABEL")
    a = ap.parse_args()
    d = json.load(open(f"{a.devnet}/devnet.json"))
    url = d["rpc_url"]

    # proof_check.LightPeer dials with socket.create_connection: bind our source IP for that one call.
    connect = socket.create_connection
    socket.create_connection = lambda addr, timeout=None: connect(addr, timeout, source_address=(a.source_ip, 0))
    try:
        peer = pc.LightPeer({"bootnode": d["bootnode"], "chainId": d["chain_id"], "genesis": d["genesis_hash"]})
    finally:
        socket.create_connection = connect
    state = int(rpc(url, "cfx_epochNumber", ["latest_state"]), 16)
    epoch = a.epoch if a.epoch is not None else state - 10
    addresses = DEFAULT_ADDRESSES + [tuple(x.split("=", 1)) for x in a.addr]

    pivot, phash, _ = pc.pivot_header(peer, epoch + 5)
    out = {
        "source": f"GetStorageRoots at epoch {epoch}; pivot header of epoch {epoch + 5} via GetBlockHashesByEpoch + "
                  f"GetBlockHeaders. Captured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%M:%SZ} from "
                  f"the running conflux-rust devnet ({rpc(url, 'cfx_clientVersion', [])}; chain id {d['chain_id']}, "
                  f"genesis {d['genesis_hash']}) over the light protocol (clp v2) from source IP {a.source_ip}, by "
                  f"storage_root_capture.py in this directory (built on /work/shared/tools/proof_check.py); "
                  f"`rpc` is the full node's cfx_getStorageRoot(address, epoch) from {url}.",
        "epoch": epoch,
        "pivot_header_rlp": pc.rlp(pivot).hex(),
        "pivot_header_hash": phash.hex(),
    }
    if epoch > SNAPSHOT_EPOCHS:
        prev_epoch = epoch - SNAPSHOT_EPOCHS
        prev, _, _ = pc.pivot_header(peer, prev_epoch + 5)
        out["prev_snapshot_epoch"] = prev_epoch
        out["prev_pivot_header_rlp"] = pc.rlp(prev).hex()
    out["entries"] = []
    for hex_addr, label in addresses:
        addr = bytes.fromhex(hex_addr)
        body, raw = peer.request(0x1a, [[epoch, addr]])
        # Re-encoding must give the node's bytes back (canonical RLP), so the item bytes below are its own.
        assert pc.rlp(body) == raw, "non-canonical answer"
        items = body[1]
        assert len(items) == 1, f"{label}: {len(items)} storage roots answered"
        item = items[0]
        assert pc.u(item[0][0]) == epoch and item[0][1] == addr, f"{label}: answer for another key"
        expected = rpc(url, "cfx_getStorageRoot", [address_b32(hex_addr, d), hex(epoch)])
        out["entries"].append({
            "label": label,
            "address": hex_addr,
            "item_rlp": pc.rlp(item).hex(),
            "proof_shape_delta_intermediate_snapshot": [
                "none" if p == [] else f"{len(p[0])} nodes" for p in item[2][0]],
            "rpc": expected,
        })
        print(f"{label}: {expected}", file=sys.stderr)
    json.dump(out, open(a.out, "w"), indent=1)
    print(f"wrote {a.out} (epoch {epoch}, latest_state {state})", file=sys.stderr)


def address_b32(hex_addr, d):
    """CIP-37 base32 of the address on the devnet (the RPC takes nothing else)."""
    import subprocess
    js = ("const {format}=require('js-conflux-sdk');"
          f"process.stdout.write(format.address('0x{hex_addr}', {d['network_id']}))")
    scripts = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "scripts")
    return subprocess.check_output(["node", "-e", js], cwd=scripts).decode()


if __name__ == "__main__":
    main()
