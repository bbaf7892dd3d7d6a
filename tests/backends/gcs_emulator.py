"""A minimal in-memory emulator of the GCS JSON API calls greenpipe's GCSObjects makes, served over HTTP on the
loopback, for google-cloud-storage pointed at it with STORAGE_EMULATOR_HOST. It is written here, not GCS: it
shows greenpipe's calls go through the real client library and that 412 answers become ConditionFailed; GCS's
own behaviour is not tried (no network)."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


class GcsEmulator:
    """Objects by (bucket, name), each with a generation that grows on every write."""

    def __init__(self):
        self.objects: dict[tuple[str, str], tuple[bytes, int]] = {}
        self.generation = 0
        self.lock = threading.Lock()
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                emulator.get(self)

            def do_POST(self):
                emulator.post(self)

            def do_DELETE(self):
                emulator.delete(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()

    def metadata(self, bucket: str, name: str) -> dict:
        data, generation = self.objects[(bucket, name)]
        return {"kind": "storage#object", "bucket": bucket, "name": name, "generation": str(generation),
                "metageneration": "1", "size": str(len(data))}  # fmt: skip

    @staticmethod
    def reply(handler, status: int, body: bytes | dict = b"", kind: str = "application/json", generation: int = 0):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        handler.send_response(status)
        if generation:  # as GCS sends with a media download
            handler.send_header("x-goog-generation", str(generation))
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def missing(self, handler):
        self.reply(handler, 404, {"error": {"code": 404, "message": "No such object"}})

    def precondition(self, handler):
        self.reply(handler, 412, {"error": {"code": 412, "message": "Precondition Failed"}})

    def get(self, handler):
        url = urlparse(handler.path)
        query = parse_qs(url.query)
        listing = re.fullmatch(r"/storage/v1/b/([^/]+)/o", url.path)
        if listing:
            bucket, prefix = listing.group(1), query.get("prefix", [""])[0]
            with self.lock:
                items = [self.metadata(b, n) for (b, n) in sorted(self.objects) if b == bucket and n.startswith(prefix)]
            return self.reply(handler, 200, {"kind": "storage#objects", "items": items})
        found = re.fullmatch(r"(/download)?/storage/v1/b/([^/]+)/o/(.+)", url.path)
        if not found:
            return self.reply(handler, 400, {"error": {"code": 400, "message": f"not emulated: {url.path}"}})
        media, bucket, name = found.group(1), found.group(2), unquote(found.group(3))
        with self.lock:
            if (bucket, name) not in self.objects:
                return self.missing(handler)
            data, generation = self.objects[(bucket, name)]
            expected = query.get("ifGenerationMatch")
            if expected and int(expected[0]) != generation:
                return self.precondition(handler)
            if media or query.get("alt") == ["media"]:
                return self.reply(handler, 200, data, "application/octet-stream", generation)
            return self.reply(handler, 200, self.metadata(bucket, name))

    def post(self, handler):
        url = urlparse(handler.path)
        query = parse_qs(url.query)
        found = re.fullmatch(r"/upload/storage/v1/b/([^/]+)/o", url.path)
        if not found or query.get("uploadType") != ["multipart"]:
            return self.reply(handler, 400, {"error": {"code": 400, "message": f"not emulated: {handler.path}"}})
        body = handler.rfile.read(int(handler.headers["Content-Length"]))
        boundary = re.search(r'boundary="?([^";]+)"?', handler.headers["Content-Type"]).group(1).encode()
        parts = [p for p in body.split(b"--" + boundary) if p.strip() not in (b"", b"--")]
        meta = json.loads(parts[0].split(b"\r\n\r\n", 1)[1])
        content = parts[1].split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")
        bucket, name = found.group(1), meta["name"]
        with self.lock:
            expected = query.get("ifGenerationMatch")
            current = self.objects.get((bucket, name), (b"", 0))[1]
            if expected and int(expected[0]) != current:
                return self.precondition(handler)
            self.generation += 1
            self.objects[(bucket, name)] = (content, self.generation)
            return self.reply(handler, 200, self.metadata(bucket, name))

    def delete(self, handler):
        found = re.fullmatch(r"/storage/v1/b/([^/]+)/o/(.+)", urlparse(handler.path).path)
        key = (found.group(1), unquote(found.group(2))) if found else None
        with self.lock:
            if key not in self.objects:
                return self.missing(handler)
            del self.objects[key]
        return self.reply(handler, 204)
