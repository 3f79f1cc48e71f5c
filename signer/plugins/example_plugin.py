#!/usr/bin/env python3
"""Example cfxlight signer plugin (protocol cfxlight-signer-plugin 1.0, see signer/PLUGIN.md).

Holds one secp256k1 key in memory and speaks JSON-RPC 2.0, one message per line, on
stdin/stdout; stderr is its log. Python 3.8+ standard library only: keccak-256,
secp256k1, RFC 6979 nonces and RLP are implemented below (for tests and as a reference,
not for production keys: this code is not constant-time).

Key: `--key-file FILE` (hex secret, first line) or the environment variable
CFXLIGHT_PLUGIN_KEY (hex). The key is never logged or echoed.

Before signing, the plugin checks what the host sent: the hash must be keccak-256 of the
signing payload, a transaction's payload must be the RLP of its fields (so what the plugin
could show is what is signed), a message's payload must be the Conflux prefix, the
length and the message. Typed data is checked only for the payload/hash binding.
"""

import hashlib
import hmac
import json
import os
import sys

PROTOCOL = "1.0"
NAME = "cfxlight-example-plugin"
VERSION = "0.1.0"
MAX_LINE = 1 << 20

# JSON-RPC error codes (signer/PLUGIN.md).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL = -32603
USER_REJECTED = 4001
LOCKED = 4100
UNSUPPORTED = 4200
UNKNOWN_ACCOUNT = 4301

# ---------------------------------------------------------------- keccak-256 (not SHA3-256)
_RC = [
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
]
_ROT = [[0, 36, 3, 41, 18], [1, 44, 10, 45, 2], [62, 6, 43, 15, 61],
        [28, 55, 25, 21, 56], [27, 20, 39, 8, 14]]
_M64 = (1 << 64) - 1


def _rol(x, n):
    return ((x << n) | (x >> (64 - n))) & _M64 if n else x


def _keccak_f(a):
    for rc in _RC:
        c = [a[x][0] ^ a[x][1] ^ a[x][2] ^ a[x][3] ^ a[x][4] for x in range(5)]
        d = [c[(x - 1) % 5] ^ _rol(c[(x + 1) % 5], 1) for x in range(5)]
        a = [[a[x][y] ^ d[x] for y in range(5)] for x in range(5)]
        b = [[0] * 5 for _ in range(5)]
        for x in range(5):
            for y in range(5):
                b[y][(2 * x + 3 * y) % 5] = _rol(a[x][y], _ROT[x][y])
        a = [[b[x][y] ^ ((~b[(x + 1) % 5][y]) & b[(x + 2) % 5][y]) for y in range(5)]
             for x in range(5)]
        a[0][0] ^= rc
    return a


def keccak256(data):
    rate = 136
    msg = bytearray(data) + b"\x01"
    msg += b"\x00" * (-len(msg) % rate)
    msg[-1] |= 0x80
    a = [[0] * 5 for _ in range(5)]
    for off in range(0, len(msg), rate):
        block = msg[off:off + rate]
        for i in range(rate // 8):
            a[i % 5][i // 5] ^= int.from_bytes(block[8 * i:8 * i + 8], "little")
        a = _keccak_f(a)
    return b"".join(a[i % 5][i // 5].to_bytes(8, "little") for i in range(4))


# ---------------------------------------------------------------- secp256k1
P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % P == 0:
        return None
    if p1 == p2:
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _mul(k, point=G):
    out = None
    while k:
        if k & 1:
            out = _add(out, point)
        point = _add(point, point)
        k >>= 1
    return out


def _rfc6979_k(secret, digest):
    """RFC 6979 section 3.2 with HMAC-SHA256; digest is 32 bytes, qlen = 256."""
    x = secret.to_bytes(32, "big")
    h1 = (int.from_bytes(digest, "big") % N).to_bytes(32, "big")
    v, k = b"\x01" * 32, b"\x00" * 32
    k = hmac.new(k, v + b"\x00" + x + h1, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    k = hmac.new(k, v + b"\x01" + x + h1, hashlib.sha256).digest()
    v = hmac.new(k, v, hashlib.sha256).digest()
    while True:
        v = hmac.new(k, v, hashlib.sha256).digest()
        cand = int.from_bytes(v, "big")
        if 1 <= cand < N:
            return cand
        k = hmac.new(k, v + b"\x00", hashlib.sha256).digest()
        v = hmac.new(k, v, hashlib.sha256).digest()


def sign_digest(secret, digest):
    """(r, s, v): low-S ECDSA over a 32-byte digest, v the recovery parity (0 or 1)."""
    z = int.from_bytes(digest, "big") % N
    while True:
        k = _rfc6979_k(secret, digest)
        rx, ry = _mul(k)
        r = rx % N
        s = pow(k, -1, N) * (z + r * secret) % N
        if r and s:
            break
    v = ry & 1
    if s > N // 2:
        s, v = N - s, v ^ 1
    return r, s, v


def public_key(secret):
    x, y = _mul(secret)
    return x.to_bytes(32, "big") + y.to_bytes(32, "big")


def conflux_address(public):
    a = bytearray(keccak256(public)[12:])
    a[0] = (a[0] & 0x0F) | 0x10
    return bytes(a)


# ---------------------------------------------------------------- RLP and transactions
def _rlp_len(n, off):
    if n < 56:
        return bytes([off + n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([off + 55 + len(b)]) + b


def rlp(item):
    if isinstance(item, list):
        body = b"".join(rlp(i) for i in item)
        return _rlp_len(len(body), 0xC0) + body
    if isinstance(item, int):
        item = item.to_bytes((item.bit_length() + 7) // 8, "big") if item else b""
    if len(item) == 1 and item[0] < 0x80:
        return bytes(item)
    return _rlp_len(len(item), 0x80) + bytes(item)


class BadParams(Exception):
    pass


def unhex(v, what, size=None):
    if not isinstance(v, str) or not v.startswith("0x"):
        raise BadParams(f"{what} must be a 0x-prefixed hex string")
    try:
        b = bytes.fromhex(v[2:])
    except ValueError:
        raise BadParams(f"{what} is not hex") from None
    if size is not None and len(b) != size:
        raise BadParams(f"{what} must be {size} bytes")
    return b


def quantity(v, what):
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    if isinstance(v, str) and v.startswith("0x") and len(v) > 2:
        try:
            return int(v, 16)
        except ValueError:
            pass
    raise BadParams(f"{what} must be a 0x quantity")


def tx_payload(tx):
    """The bytes the host hashes for a transaction (`cfx` ‖ type ‖ RLP for typed ones)."""
    if not isinstance(tx, dict):
        raise BadParams("transaction must be an object")
    q = lambda k: quantity(tx.get(k), k)  # noqa: E731
    to = tx.get("to")
    to = b"" if to is None else unhex(to, "to", 20)
    tail = [to, q("value"), q("storageLimit"), q("epochHeight"), q("chainId"),
            unhex(tx.get("data", "0x"), "data")]
    access = [[unhex(e.get("address"), "accessList.address", 20),
               [unhex(k, "storageKeys", 32) for k in e.get("storageKeys", [])]]
              for e in tx.get("accessList", [])]
    kind = q("type")
    if kind == 0:
        return rlp([q("nonce"), q("gasPrice"), q("gas")] + tail)
    if kind == 1:
        return b"cfx\x01" + rlp([q("nonce"), q("gasPrice"), q("gas")] + tail + [access])
    if kind == 2:
        return b"cfx\x02" + rlp([q("nonce"), q("maxPriorityFeePerGas"), q("maxFeePerGas"),
                                 q("gas")] + tail + [access])
    raise BadParams(f"unknown transaction type {kind}")


# ---------------------------------------------------------------- the protocol
class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Plugin:
    def __init__(self, secret):
        self.secret = secret
        self.public = public_key(secret)
        self.address = conflux_address(self.public)

    def hello(self, params):
        theirs = str(params.get("protocolVersion", ""))
        if theirs.split(".")[0] != PROTOCOL.split(".")[0]:
            raise RpcError(INVALID_PARAMS, f"unsupported protocol version {theirs!r}, this plugin speaks {PROTOCOL}")
        return {"protocolVersion": PROTOCOL, "name": NAME, "version": VERSION,
                "methods": ["plugin_signTransaction", "plugin_signMessage", "plugin_signTypedData"]}

    def accounts(self, _params):
        return {"accounts": [{"address": "0x" + self.address.hex(),
                              "publicKey": "0x" + self.public.hex(),
                              "label": "example key"}]}

    def _check(self, params, payload_ok):
        if not isinstance(params, dict):
            raise BadParams("params must be an object")
        account = unhex(params.get("account"), "account", 20)
        if account != self.address:
            raise RpcError(UNKNOWN_ACCOUNT, "unknown account 0x" + account.hex())
        payload = unhex(params.get("signingPayload"), "signingPayload")
        digest = unhex(params.get("hash"), "hash", 32)
        if keccak256(payload) != digest:
            raise BadParams("hash is not keccak-256 of signingPayload")
        payload_ok(params, payload)
        r, s, v = sign_digest(self.secret, digest)
        return {"r": "0x%064x" % r, "s": "0x%064x" % s, "v": v}

    def sign_transaction(self, params):
        def ok(p, payload):
            tx = p.get("transaction")
            if tx_payload(tx) != payload:
                raise BadParams("signingPayload is not the encoding of transaction")
            if quantity(tx.get("chainId"), "chainId") != quantity(p.get("chainId"), "chainId"):
                raise BadParams("transaction.chainId differs from chainId")
        return self._check(params, ok)

    def sign_message(self, params):
        def ok(p, payload):
            msg = unhex(p.get("message"), "message")
            want = b"\x19Conflux Signed Message:\n" + str(len(msg)).encode() + msg
            if payload != want:
                raise BadParams("signingPayload is not the prefixed message")
        return self._check(params, ok)

    def sign_typed_data(self, params):
        def ok(p, payload):
            if not isinstance(p.get("typedData"), dict):
                raise BadParams("typedData must be an object")
            # 0x1901 ‖ domain separator ‖ struct hash (no struct hash when the primary
            # type is the domain itself).
            if len(payload) not in (34, 66) or payload[:2] != b"\x19\x01":
                raise BadParams("signingPayload is not 0x1901, domain separator, struct hash")
        return self._check(params, ok)

    def dispatch(self, method, params):
        table = {
            "plugin_hello": self.hello,
            "plugin_accounts": self.accounts,
            "plugin_signTransaction": self.sign_transaction,
            "plugin_signMessage": self.sign_message,
            "plugin_signTypedData": self.sign_typed_data,
        }
        if method not in table:
            raise RpcError(METHOD_NOT_FOUND, f"method {method!r} not found")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "params must be an object")
        try:
            return table[method](params)
        except BadParams as e:
            raise RpcError(INVALID_PARAMS, str(e)) from None


def answer(req_id, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": req_id}
    if error is not None:
        msg["error"] = {"code": error.code, "message": error.message}
    else:
        msg["result"] = result
    sys.stdout.write(json.dumps(msg, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def handle(plugin, line):
    try:
        req = json.loads(line)
    except ValueError:
        return answer(None, error=RpcError(PARSE_ERROR, "parse error"))
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
        rid = req.get("id") if isinstance(req, dict) else None
        return answer(rid, error=RpcError(INVALID_REQUEST, "invalid request"))
    if "id" not in req:
        return None  # a notification: nothing is defined, nothing is answered
    try:
        return answer(req["id"], result=plugin.dispatch(req["method"], req.get("params")))
    except RpcError as e:
        return answer(req["id"], error=e)
    except Exception as e:  # never die on one bad request
        print(f"internal error: {type(e).__name__}", file=sys.stderr)
        return answer(req["id"], error=RpcError(INTERNAL, "internal error"))


def load_secret(argv):
    text = None
    if "--key-file" in argv:
        i = argv.index("--key-file")
        if i + 1 >= len(argv):
            sys.exit("usage: example_plugin.py [--key-file FILE]")
        with open(argv[i + 1], encoding="ascii") as f:
            text = f.readline()
    else:
        text = os.environ.get("CFXLIGHT_PLUGIN_KEY")
    if not text:
        sys.exit("no key: pass --key-file FILE or set CFXLIGHT_PLUGIN_KEY")
    text = text.strip()
    text = text[2:] if text.startswith("0x") else text
    try:
        secret = int(text, 16)
    except ValueError:
        sys.exit("the key is not hex")
    if not 1 <= secret < N:
        sys.exit("the key is out of range")
    return secret


def main():
    plugin = Plugin(load_secret(sys.argv[1:]))
    print(f"{NAME} {VERSION} ready, account 0x{plugin.address.hex()}", file=sys.stderr)
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline(MAX_LINE + 1)
        if not line:
            return  # the host closed stdin: exit
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            # Drop the rest of the over-long line, answer once.
            while line and not line.endswith(b"\n"):
                line = stdin.readline(MAX_LINE + 1)
            answer(None, error=RpcError(INVALID_REQUEST, "line longer than 1 MiB"))
            continue
        if line.strip():
            handle(plugin, line.decode("utf-8", "replace"))


if __name__ == "__main__":
    main()
