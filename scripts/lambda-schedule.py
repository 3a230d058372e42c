#!/usr/bin/env python3
"""Run a Lambda binary locally on a schedule, the way EventBridge Scheduler does.

    python3 scripts/lambda-schedule.py --every 5 --name reconciler -- target/debug/reconciler

Serves the Lambda Runtime API (the subset the Rust runtime uses: next
invocation, response, error, init error) on a free 127.0.0.1 port, starts the
binary with AWS_LAMBDA_RUNTIME_API pointing at it, and hands it a "Scheduled
Event" every --every seconds, exactly as in AWS: the function code runs
unchanged. Each result (or error) is printed as one line. If the binary exits,
it is restarted after a pause; SIGTERM/SIGINT stop both. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


def log(name: str, msg: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} schedule[{name}]: {msg}", flush=True)


class Runtime:
    def __init__(self, name: str, region: str, timeout_s: int):
        self.name = name
        self.region = region
        self.timeout_s = timeout_s
        self.events: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.idle = threading.Event()  # set when no invocation is in flight
        self.idle.set()

    def schedule(self) -> None:
        if not self.idle.is_set():
            log(self.name, "previous invocation still running; skipping this tick")
            return
        self.idle.clear()
        request_id = str(uuid.uuid4())
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "version": "0",
            "id": request_id,
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": "123456789012",
            "time": now,
            "region": self.region,
            "resources": [f"arn:aws:scheduler:{self.region}:123456789012:schedule/default/{self.name}"],
            "detail": {},
        }
        self.events.put((request_id, json.dumps(event).encode()))

    def handler(self):
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404, b'{"errorMessage":"unknown path"}')
                request_id, body = runtime.events.get()  # long poll, as in AWS
                deadline = int((time.time() + runtime.timeout_s) * 1000)
                self._reply(200, body, {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        f"arn:aws:lambda:{runtime.region}:123456789012:function:{runtime.name}",
                    "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                text = body.decode(errors="replace")[:2000]
                if self.path.endswith("/response"):
                    log(runtime.name, f"result {text}")
                    runtime.idle.set()
                elif self.path.endswith("/error"):
                    log(runtime.name, f"error {text}")
                    runtime.idle.set()
                else:
                    log(runtime.name, f"{self.path}: {text}")
                self._reply(202)

        return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=float, default=60.0, help="seconds between invocations")
    parser.add_argument("--name", default="function", help="function name (AWS_LAMBDA_FUNCTION_NAME)")
    parser.add_argument("--timeout", type=int, default=60, help="invocation deadline, seconds")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- binary [args]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the binary to run after --")
    if args.every <= 0:
        parser.error("--every must be positive")

    region = os.environ.get("AWS_REGION", "us-east-1")
    runtime = Runtime(args.name, region, args.timeout)
    server = ThreadingHTTPServer(("127.0.0.1", 0), runtime.handler())
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]

    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": args.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{args.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "local",
    })

    stopping = threading.Event()
    child: list[subprocess.Popen] = []

    def stop(_signum=None, _frame=None):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    log(args.name, f"runtime API on 127.0.0.1:{port}; invoking every {args.every:g}s: {' '.join(command)}")
    next_tick = time.monotonic() + 1.0
    while not stopping.is_set():
        if not child or child[0].poll() is not None:
            if child:
                log(args.name, f"the function exited (status {child[0].returncode}); restarting in 5 s")
                runtime.idle.set()
                # Drop an event the dead process never took.
                while not runtime.events.empty():
                    runtime.events.get_nowait()
                if stopping.wait(5):
                    break
                child.clear()
            try:
                child.append(subprocess.Popen(command, env=env))
            except OSError as err:
                log(args.name, f"cannot start {command[0]}: {err}")
                return 1
        now = time.monotonic()
        if now >= next_tick:
            runtime.schedule()
            next_tick = now + args.every
        stopping.wait(min(0.5, max(0.05, next_tick - now)))

    if child and child[0].poll() is None:
        child[0].terminate()
        try:
            child[0].wait(5)
        except subprocess.TimeoutExpired:
            child[0].kill()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
