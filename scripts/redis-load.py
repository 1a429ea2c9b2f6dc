#!/usr/bin/env python3
"""Loads COUNT keys (key0..key<COUNT-1>, VALUE_SIZE-byte values) into a Redis Cluster.

redis-benchmark puts every key of a master under one hash tag, so all of them land in one slot,
which makes a rebalance benchmark meaningless. This loader routes plain keys by their real slot
(CRC16 mod 16384) and pipelines SETs to each master. Standard library only.

Usage: redis-load.py HOST PORT COUNT VALUE_SIZE
"""
import socket
import sys


def crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def command(*parts: bytes) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


def read_reply(stream):
    line = stream.readline()
    kind, rest = line[:1], line[1:-2]
    if kind == b"*":
        return [read_reply(stream) for _ in range(int(rest))]
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = stream.read(size + 2)[:-2]
        return data
    if kind == b"-":
        raise RuntimeError(rest.decode())
    return rest


def main():
    host, port, count, value_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    seed = socket.create_connection((host, port))
    slots = read_reply_after(seed, command(b"CLUSTER", b"SLOTS"))
    owner = [None] * 16384
    for entry in slots:
        start, end, master = int(entry[0]), int(entry[1]), entry[2]
        address = (master[0].decode(), int(master[1]))
        for slot in range(start, end + 1):
            owner[slot] = address
    connections = {}
    pending = {}
    value = b"v" * value_size
    for i in range(count):
        key = b"key%d" % i
        address = owner[crc16(key) % 16384]
        if address not in connections:
            connections[address] = socket.create_connection(address)
            pending[address] = []
        pending[address].append(command(b"SET", key, value))
        if len(pending[address]) == 1000:
            flush(connections[address], pending[address])
            pending[address] = []
    for address, commands in pending.items():
        flush(connections[address], commands)


def read_reply_after(sock, request):
    sock.sendall(request)
    return read_reply(sock.makefile("rb"))


def flush(sock, commands):
    if not commands:
        return
    sock.sendall(b"".join(commands))
    stream = sock.makefile("rb")
    for _ in commands:
        read_reply(stream)


if __name__ == "__main__":
    main()
