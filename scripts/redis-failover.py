"""Kills a Redis Cluster master under a writer and measures what the failover cost.

A single writer sets keys fo:0..fo:<KEYS-1> round robin to increasing sequence numbers, routing
each by its slot and following the cluster's slot map when a node fails or answers MOVED. After
KILL_AT seconds it SIGKILLs the master that owns fo:0; after SECONDS it reads every key back.
Prints one JSON line: the longest time without a successful write on the killed master's keys
(first failed or stalled write to the first success), the writes that failed, and the
acknowledged writes lost (a key whose value is older than its last acknowledged write).
Standard library only.

Usage: redis-failover.py HOST PORT SECONDS KILL_AT KEYS
"""
import json
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from importlib import import_module  # noqa: E402

load = import_module("redis-load")
crc16, command, read_reply = load.crc16, load.command, load.read_reply


class Node:
    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=1.0)
        self.stream = self.sock.makefile("rb")

    def call(self, *parts):
        self.sock.sendall(command(*parts))
        return read_reply(self.stream)


def slot_map(addresses):
    for address in addresses:
        try:
            slots = Node(address).call(b"CLUSTER", b"SLOTS")
        except (OSError, RuntimeError):
            continue
        owner = {}
        for entry in slots:
            start, end, master = int(entry[0]), int(entry[1]), entry[2]
            for slot in range(start, end + 1):
                owner[slot] = (master[0].decode(), int(master[1]))
        return owner
    raise RuntimeError("no node answers CLUSTER SLOTS")


def main():
    host, port, seconds, kill_at, keys = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    known = {(host, port + i) for i in range(6)}
    owner = slot_map(known)
    victim = owner[crc16(b"fo:0") % 16384]
    victim_slots = {slot for slot, address in owner.items() if address == victim}
    pid = int(Node(victim).call(b"INFO", b"server").decode().split("process_id:")[1].split()[0])
    nodes, acked, attempted = {}, [0] * keys, [0] * keys
    failed, killed, last_success, longest = 0, False, None, 0.0
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < seconds:
        if not killed and time.monotonic() - start >= kill_at:
            os.kill(pid, signal.SIGKILL)
            killed = True
        k = i % keys
        i += 1
        key = b"fo:%d" % k
        slot = crc16(key) % 16384
        attempted[k] += 1
        try:
            address = owner[slot]
            node = nodes.get(address) or nodes.setdefault(address, Node(address))
            reply = node.call(b"SET", key, b"%d" % attempted[k])
            if reply != b"OK":
                raise RuntimeError(str(reply))
            acked[k] = attempted[k]
            if slot in victim_slots:
                now = time.monotonic()
                if last_success is not None:
                    longest = max(longest, now - last_success)
                last_success = now
        except (OSError, RuntimeError):
            failed += 1
            nodes.pop(owner.get(slot), None)
            try:
                owner = slot_map(known - {victim} if killed else known)
            except RuntimeError:
                pass
            time.sleep(0.01)
    owner = slot_map(known - {victim})
    lost = 0
    for k in range(keys):
        key = b"fo:%d" % k
        address = owner[crc16(key) % 16384]
        node = nodes.get(address) or nodes.setdefault(address, Node(address))
        value = node.call(b"GET", key)
        if int(value or 0) < acked[k]:
            lost += 1
    print(json.dumps({"max_gap_ms": round(longest * 1000), "failed_writes": failed, "writes": i,
                      "lost_acknowledged": lost}))


if __name__ == "__main__":
    main()
