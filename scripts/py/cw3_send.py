"""conflux-web3's default send path through a node: a transfer with neither `gas` nor
`storageLimit`, so the library estimates both (cfx_estimateGasAndCollateral), fills nonce,
price and epoch height from the node, signs locally and sends the raw transaction.

    python cw3_send.py <rpc url> <secret> <to (base32)> <value in drip>

Prints one JSON line: the hash, the transaction as the node reports it, and the receipt.
"""
import json
import sys

from conflux_web3 import Web3


def main():
    url, secret, to, value = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    w3 = Web3(Web3.HTTPProvider(url))
    account = w3.account.from_key(secret)
    w3.cfx.default_account = account
    h = w3.cfx.send_transaction({"to": to, "value": value})
    receipt = h.executed(timeout=120)
    tx = w3.cfx.get_transaction_by_hash(h)
    print(json.dumps({
        "hash": h.to_0x_hex() if hasattr(h, "to_0x_hex") else h.hex(),
        "gas": int(tx["gas"]),
        "storageLimit": int(tx["storageLimit"]),
        "outcomeStatus": int(receipt["outcomeStatus"]),
        "from": str(tx["from"]),
    }))


if __name__ == "__main__":
    main()
