"""A minimal keep-alive HTTP/1.1 client on asyncio streams, shared by the Raft vs etcd
benchmark's load generator and its orchestrator.

Both systems under test (Platelet's JSON API and etcd's v3 HTTP/JSON gateway) are driven
through this one client, so any cost the client adds is the same for both. It speaks just
enough HTTP: one request at a time per connection, Content-Length or chunked answers.
"""
import asyncio
import base64
import json


class HttpError(Exception):
    pass


class Conn:
    """One keep-alive connection to host:port."""

    def __init__(self, host, port, token=None):
        self.host, self.port = host, port
        self.auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self.reader = self.writer = None

    async def open(self, timeout=2.0):
        self.reader, self.writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), timeout)

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    async def request(self, method, path, body=b"", timeout=10.0):
        """Sends one request and returns (status, body bytes)."""
        if self.writer is None:
            await self.open()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"{self.auth}Connection: keep-alive\r\n\r\n").encode()
        self.writer.write(head + body)
        return await asyncio.wait_for(self._response(), timeout)

    async def _response(self):
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError(f"bad status line {lines[0]!r}")
        status = int(parts[1])
        length, chunked, close = None, False, False
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k, v = k.strip().lower(), v.strip().lower()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v:
                chunked = True
            elif k == "connection" and v == "close":
                close = True
        if chunked:
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                data = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                body += data[:-2]
        elif length is not None:
            body = await self.reader.readexactly(length)
        else:
            body = await self.reader.read()
            close = True
        if close:
            self.close()
        return status, body


def platelet_write(seq, tag="b"):
    """A Platelet proposal whose body is a 64-byte string."""
    payload = f"{tag}-{seq:012d}-".ljust(64, "x")[:64]
    return "POST", "/v1/propose", json.dumps({"kind": "note", "body": payload}).encode()


def etcd_write(seq, tag="b"):
    """An etcd put through the v3 gateway with a 64-byte value (keys differ per write)."""
    key = f"bench/{tag}/{seq:012d}".encode()
    value = f"{tag}-{seq:012d}-".ljust(64, "x")[:64].encode()
    body = json.dumps({"key": base64.b64encode(key).decode(),
                       "value": base64.b64encode(value).decode()}).encode()
    return "POST", "/v3/kv/put", body


WRITERS = {"platelet": platelet_write, "etcd": etcd_write}
