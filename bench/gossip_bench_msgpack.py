"""A minimal MessagePack codec for the Serf RPC client of the gossip benchmark.

Serf's agent RPC is a stream of MessagePack objects over TCP (a request header map, maybe a
body map; a response header map, maybe a body map). The benchmark needs only maps, arrays,
strings, binary, integers, booleans, nil and floats, so this module encodes and decodes just
those, from the public MessagePack specification, without a third-party package: the
benchmark must run on a machine that has only python3.

decode_from(read) pulls exactly the bytes of one object through read(n), which must return
n bytes or raise EOFError, so one socket carries a sequence of objects with no framing.
"""

import struct


def encode(obj):
    """Returns the MessagePack bytes of obj (dict, list, str, bytes, int, bool, None, float)."""
    out = bytearray()
    _enc(obj, out)
    return bytes(out)


def _enc(obj, out):
    if obj is None:
        out.append(0xC0)
    elif obj is True:
        out.append(0xC3)
    elif obj is False:
        out.append(0xC2)
    elif isinstance(obj, int):
        if 0 <= obj < 0x80:
            out.append(obj)
        elif -32 <= obj < 0:
            out.append(obj & 0xFF)
        elif 0 <= obj < 2**64:
            out.append(0xCF)
            out += struct.pack(">Q", obj)
        elif -(2**63) <= obj < 0:
            out.append(0xD3)
            out += struct.pack(">q", obj)
        else:
            raise ValueError("integer out of range")
    elif isinstance(obj, float):
        out.append(0xCB)
        out += struct.pack(">d", obj)
    elif isinstance(obj, str):
        b = obj.encode("utf-8")
        n = len(b)
        if n < 32:
            out.append(0xA0 | n)
        elif n < 2**8:
            out += bytes((0xD9, n))
        elif n < 2**16:
            out.append(0xDA)
            out += struct.pack(">H", n)
        else:
            out.append(0xDB)
            out += struct.pack(">I", n)
        out += b
    elif isinstance(obj, (bytes, bytearray)):
        n = len(obj)
        if n < 2**8:
            out += bytes((0xC4, n))
        elif n < 2**16:
            out.append(0xC5)
            out += struct.pack(">H", n)
        else:
            out.append(0xC6)
            out += struct.pack(">I", n)
        out += obj
    elif isinstance(obj, (list, tuple)):
        n = len(obj)
        if n < 16:
            out.append(0x90 | n)
        elif n < 2**16:
            out.append(0xDC)
            out += struct.pack(">H", n)
        else:
            out.append(0xDD)
            out += struct.pack(">I", n)
        for x in obj:
            _enc(x, out)
    elif isinstance(obj, dict):
        n = len(obj)
        if n < 16:
            out.append(0x80 | n)
        elif n < 2**16:
            out.append(0xDE)
            out += struct.pack(">H", n)
        else:
            out.append(0xDF)
            out += struct.pack(">I", n)
        for k, v in obj.items():
            _enc(k, out)
            _enc(v, out)
    else:
        raise TypeError("cannot encode %r" % type(obj))


# Fixed-width types: tag -> (struct format, byte count).
_FIXED = {
    0xCA: (">f", 4), 0xCB: (">d", 8),
    0xCC: (">B", 1), 0xCD: (">H", 2), 0xCE: (">I", 4), 0xCF: (">Q", 8),
    0xD0: (">b", 1), 0xD1: (">h", 2), 0xD2: (">i", 4), 0xD3: (">q", 8),
}
_LEN = {1: ">B", 2: ">H", 4: ">I"}
_CONTAINER_MAX = 1 << 20  # a sane bound: the benchmark never sees more


def decode_from(read):
    """Decodes one object, reading its bytes through read(n)."""
    t = read(1)[0]
    if t < 0x80:
        return t
    if t >= 0xE0:
        return t - 0x100
    if 0x80 <= t <= 0x8F:
        return _map(read, t & 0x0F)
    if 0x90 <= t <= 0x9F:
        return _array(read, t & 0x0F)
    if 0xA0 <= t <= 0xBF:
        return _str(read(t & 0x1F))
    if t == 0xC0:
        return None
    if t == 0xC2:
        return False
    if t == 0xC3:
        return True
    if t in _FIXED:
        fmt, n = _FIXED[t]
        return struct.unpack(fmt, read(n))[0]
    if t in (0xC4, 0xC5, 0xC6):  # bin 8/16/32
        return bytes(read(_length(read, 1 << (t - 0xC4))))
    if t in (0xD9, 0xDA, 0xDB):  # str 8/16/32
        return _str(read(_length(read, 1 << (t - 0xD9))))
    if t in (0xDC, 0xDD):
        return _array(read, _length(read, 2 if t == 0xDC else 4))
    if t in (0xDE, 0xDF):
        return _map(read, _length(read, 2 if t == 0xDE else 4))
    if t in (0xD4, 0xD5, 0xD6, 0xD7, 0xD8):  # fixext: type byte + 1..16 bytes
        read(1)
        return bytes(read(1 << (t - 0xD4)))
    if t in (0xC7, 0xC8, 0xC9):  # ext 8/16/32
        n = _length(read, 1 << (t - 0xC7))
        read(1)
        return bytes(read(n))
    raise ValueError("msgpack: unknown type byte 0x%02x" % t)


def _length(read, width):
    return struct.unpack(_LEN[width], read(width))[0]


def _str(b):
    return bytes(b).decode("utf-8", errors="replace")


def _array(read, n):
    if n > _CONTAINER_MAX:
        raise ValueError("msgpack: array too long")
    return [decode_from(read) for _ in range(n)]


def _map(read, n):
    if n > _CONTAINER_MAX:
        raise ValueError("msgpack: map too long")
    d = {}
    for _ in range(n):
        k = decode_from(read)
        if isinstance(k, (bytes, bytearray)):
            k = _str(k)
        d[k] = decode_from(read)
    return d


def decode(data):
    """Decodes one object from bytes; raises ValueError on trailing or missing bytes."""
    view = memoryview(data)
    pos = [0]

    def read(n):
        if pos[0] + n > len(view):
            raise EOFError("msgpack: truncated")
        b = view[pos[0]:pos[0] + n]
        pos[0] += n
        return b

    obj = decode_from(read)
    if pos[0] != len(view):
        raise ValueError("msgpack: trailing bytes")
    return obj


if __name__ == "__main__":
    # Self-check: round trips of every type this module writes.
    samples = [None, True, False, 0, 127, 128, 65535, 2**40, -1, -32, -33, -2**40, 1.5,
               "", "x" * 31, "y" * 32, "z" * 300, b"", b"\x00" * 300, [], list(range(20)),
               {}, {"Command": "members", "Seq": 7, "Nested": {"a": [1, "b", b"c"]}},
               {str(i): i for i in range(40)}]
    for s in samples:
        got = decode(encode(s))
        assert got == s, (s, got)
    print("ok: %d round trips" % len(samples))
