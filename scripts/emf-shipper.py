#!/usr/bin/env python3
"""Ship the functions' CloudWatch EMF records to the AWS emulator (`make local`).

    .venv/bin/python scripts/emf-shipper.py --log .local/logs/gateway.log \
        --log .local/logs/reconciler.log --status-file .local/metrics-shipper.json

In AWS, Lambda sends each function's stdout to CloudWatch Logs, which extracts
the metrics of every line in the Embedded Metric Format (EMF). Locally the
functions write the same lines to `.local/logs/*.log` (scripts/local.sh), and
the emulator has no CloudWatch Logs extraction: this script is that step. It
follows the log files (`tail -F`: a file that appears later, is truncated or is
replaced is followed on), picks the EMF records and publishes their metrics with
PutMetricData, signed with the emulator administrator's key (AWS_* in the
environment, as scripts/local.sh exports them, or --credentials-file).

EMF ("Specification: Embedded metric format",
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
a record is a JSON object whose `_aws` member holds `Timestamp` (milliseconds
since the epoch) and `CloudWatchMetrics`, an array of directives, each with
`Namespace`, `Dimensions` (an array of dimension sets: arrays of the names of
root members with string values) and `Metrics` (at most 100 definitions:
`Name` naming a root member that is a number or an array of at most 100
numbers, optional `Unit`, default None, and `StorageResolution`). Every metric
is published once per dimension set. On Lambda a prefix before the JSON object
(timestamp, request id) is allowed; so it is here.

PutMetricData limits ("PutMetricData", CloudWatch API Reference,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html):
at most 1000 metrics per request, 1 MB per HTTP POST request, 150 values per
metric (Values/Counts), 30 dimensions per metric, values within -2^360..2^360
and no NaN or infinity; one namespace per request. Batches stay within them.

A line that names `_aws` but is not JSON is counted and logged as malformed; a
JSON record that breaks the specification (or a limit above) as invalid; both
are skipped, nothing stops the shipper. A request the emulator refuses is split
in halves to isolate the refused data points; while the emulator does not
answer, the batches wait (up to --max-pending data points, the oldest dropped
first). SIGTERM/SIGINT (or the end of --stop-with PID) flush what is pending,
print the totals and exit 0. Counters go to --status-file (JSON) for `make
metrics`. Standard library and boto3 only (the project venv).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import signal
import sys
import time
from collections import Counter, deque
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent))

# PutMetricData (API Reference): 1000 metrics and 1 MB per request, 150
# values per metric, 30 dimensions per metric. The size budget leaves room
# for the request's own parameters and the encoding's overhead.
MAX_DATUMS_PER_REQUEST = 1000
MAX_REQUEST_BYTES = 1_000_000
REQUEST_BYTES_BUDGET = 900_000
MAX_VALUES_PER_DATUM = 150
MAX_DIMENSIONS = 30
VALUE_LIMIT = 2.0**360
# EMF specification: at most 100 metric definitions per directive and 100
# values per array target; a record is a log event, at most 1 MB.
MAX_METRICS_PER_DIRECTIVE = 100
MAX_ARRAY_VALUES = 100
MAX_LINE_BYTES = 1024 * 1024
# MetricDatum.Unit (API Reference, "MetricDatum").
UNITS = frozenset(
    "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits "
    "Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second "
    "Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second "
    "Megabits/Second Gigabits/Second Terabits/Second Count/Second None".split()
)
# How many malformed/invalid lines are logged in full; after that one in 1000.
LOG_FIRST = 50


def log(msg: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} emf-shipper: {msg}", flush=True)


class Invalid(Exception):
    """A record that is JSON but not valid EMF (the reason is the message)."""


class Malformed(Exception):
    """A line that names `_aws` but holds no JSON object."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_value(name: str, value: float) -> float:
    if not math.isfinite(value) or abs(value) > VALUE_LIMIT:
        raise Invalid(f"metric {name}: value {value} is outside -2^360..2^360")
    return float(value)


def decode(line: str) -> dict | None:
    """The EMF record of a log line; None for an ordinary log line.

    Malformed when the line names `_aws` but holds no JSON object; Invalid when
    the JSON object has an `_aws` member that is not EMF."""
    if '"_aws"' not in line:
        return None
    start = line.find("{")
    if start < 0:
        raise Malformed("no JSON object")
    try:
        doc = json.loads(line[start:], parse_constant=_reject_constant)
    except ValueError as err:
        raise Malformed(f"not JSON: {err}") from None
    if not isinstance(doc, dict) or "_aws" not in doc:
        return None  # an ordinary JSON log line that mentions "_aws"
    return doc


def _datums_of_metric(doc: dict, definition: object, dimension_sets: list, when: datetime) -> list[dict]:
    if not isinstance(definition, dict) or not isinstance(definition.get("Name"), str) or not definition["Name"]:
        raise Invalid("a metric definition without a Name")
    name = definition["Name"]
    unit = definition.get("Unit", "None")
    if unit not in UNITS:
        raise Invalid(f"metric {name}: unit {unit!r} is not a CloudWatch unit")
    resolution = definition.get("StorageResolution", 60)
    if resolution not in (1, 60):
        raise Invalid(f"metric {name}: StorageResolution {resolution!r} is not 1 or 60")
    if name not in doc:
        raise Invalid(f"metric {name}: no root member {name}")
    target = doc[name]
    if _number(target):
        values = [_check_value(name, target)]
    elif isinstance(target, list) and target and all(_number(v) for v in target):
        if len(target) > MAX_ARRAY_VALUES:
            raise Invalid(f"metric {name}: {len(target)} values, more than {MAX_ARRAY_VALUES}")
        values = [_check_value(name, v) for v in target]
    else:
        raise Invalid(f"metric {name}: its value is not a number or an array of numbers")
    out = []
    for dimensions in dimension_sets:
        base = {"MetricName": name, "Dimensions": dimensions, "Timestamp": when, "Unit": unit}
        if resolution == 1:
            base["StorageResolution"] = 1
        out.extend(_with_values(base, values))
    return out


def _with_values(base: dict, values: list[float]) -> list[dict]:
    """One datum per MAX_VALUES_PER_DATUM distinct values (Values/Counts)."""
    if len(values) == 1:
        return [{**base, "Value": values[0]}]
    counts = Counter(values)
    distinct = list(counts)
    out = []
    for i in range(0, len(distinct), MAX_VALUES_PER_DATUM):
        chunk = distinct[i : i + MAX_VALUES_PER_DATUM]
        out.append({**base, "Values": chunk, "Counts": [float(counts[v]) for v in chunk]})
    return out


def _dimension_sets(doc: dict, sets: object) -> list[list[dict]]:
    if not isinstance(sets, list):
        raise Invalid("Dimensions is not an array of dimension sets")
    out = []
    for keys in sets or [[]]:
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise Invalid("a dimension set is not an array of names")
        if len(keys) > MAX_DIMENSIONS:
            raise Invalid(f"a dimension set has {len(keys)} names, more than {MAX_DIMENSIONS}")
        dims = []
        for key in keys:
            value = doc.get(key)
            if not isinstance(value, str) or not value:
                raise Invalid(f"dimension {key}: no root member with a string value")
            dims.append({"Name": key, "Value": value})
        out.append(dims)
    return out


def extract(doc: dict) -> list[tuple[str, dict]]:
    """(namespace, MetricDatum) for every metric and dimension set of a record."""
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        raise Invalid("_aws is not an object")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list):
        raise Invalid("_aws.CloudWatchMetrics is not an array")
    stamp = meta.get("Timestamp")
    if not _number(stamp) or stamp < 0:
        raise Invalid("_aws.Timestamp is not a number of milliseconds")
    try:
        when = datetime.fromtimestamp(stamp / 1000.0, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise Invalid(f"_aws.Timestamp {stamp} is out of range") from None
    out = []
    for directive in directives:
        if not isinstance(directive, dict):
            raise Invalid("a metric directive is not an object")
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            raise Invalid("a directive without a Namespace")
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list):
            raise Invalid("a directive's Metrics is not an array")
        if len(metrics) > MAX_METRICS_PER_DIRECTIVE:
            raise Invalid(f"a directive has {len(metrics)} metrics, more than {MAX_METRICS_PER_DIRECTIVE}")
        sets = _dimension_sets(doc, directive.get("Dimensions"))
        for definition in metrics:
            out.extend((namespace, d) for d in _datums_of_metric(doc, definition, sets, when))
    return out


def encoded_size(datum: dict) -> int:
    """An upper bound of the datum's size in a PutMetricData request: its
    query-protocol form encoding (the most verbose of the protocols the SDKs
    use) with the longest member prefix."""
    prefix = "MetricData.member.1000."
    size = 0

    def add(key: str, value: object) -> None:
        nonlocal size
        size += len(quote(prefix + key, safe="")) + len(quote(str(value), safe="")) + 2

    for key, value in datum.items():
        if key == "Dimensions":
            for i, dim in enumerate(value, 1):
                add(f"Dimensions.member.{i}.Name", dim["Name"])
                add(f"Dimensions.member.{i}.Value", dim["Value"])
        elif key in ("Values", "Counts"):
            for i, v in enumerate(value, 1):
                add(f"{key}.member.{i}", repr(v))
        elif key == "Timestamp":
            add(key, "2026-01-01T00%3A00%3A00.000Z")
        else:
            add(key, value)
    return size


def batches(namespace_datums: list[tuple[str, dict]]) -> list[tuple[str, list[dict]]]:
    """Requests within PutMetricData's limits: one namespace each, at most
    MAX_DATUMS_PER_REQUEST data points and REQUEST_BYTES_BUDGET bytes."""
    out: list[tuple[str, list[dict]]] = []
    current: dict[str, tuple[list[dict], int]] = {}
    for namespace, datum in namespace_datums:
        size = encoded_size(datum)
        items, used = current.get(namespace, ([], 0))
        if items and (len(items) >= MAX_DATUMS_PER_REQUEST or used + size > REQUEST_BYTES_BUDGET):
            out.append((namespace, items))
            items, used = [], 0
        items.append(datum)
        current[namespace] = (items, used + size)
    out.extend((ns, items) for ns, (items, _) in current.items() if items)
    return out


class Follower:
    """`tail -F` of one file: lines appended to it, from its start; a file
    that is truncated (shorter than what was read, or its first bytes
    changed) is read again from its start, a file replaced by another (log
    rotation) is read to its end and the new one from its start."""

    HEAD = 64

    def __init__(self, path: str, stats: Counter):
        self.path = path
        self.stats = stats
        self.fd: int | None = None
        self.ident: tuple[int, int] | None = None
        self.pos = 0
        self.head = b""
        self.buf = b""
        self.skipping = False  # inside an over-long line
        self.lineno = 0

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return False
        st = os.fstat(fd)
        self.fd, self.ident, self.pos, self.head, self.buf, self.skipping, self.lineno = fd, (st.st_dev, st.st_ino), 0, b"", b"", False, 0
        return True

    def _close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
        self.fd = None

    def _restart(self, why: str) -> None:
        log(f"{self.path}: {why}; reading it from its start")
        self.stats[why.split(" ")[0]] += 1
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.pos, self.head, self.buf, self.skipping, self.lineno = 0, b"", b"", False, 0

    def poll(self) -> list[tuple[int, str]]:
        """The complete lines written since the last poll, numbered."""
        if self.fd is None and not self._open():
            return []
        out: list[tuple[int, str]] = []
        try:
            st = os.stat(self.path)
        except OSError:
            st = None
        if st is None or (st.st_dev, st.st_ino) != self.ident:
            out.extend(self._read(final=True))  # rotated or removed: finish the old file
            self._close()
            self.stats["rotated"] += 1
            if st is None:
                log(f"{self.path}: removed (rotated); following it when it appears again")
            else:
                log(f"{self.path}: replaced (rotated); following the new file")
                if self._open():
                    out.extend(self._read())
            return out
        fst = os.fstat(self.fd)
        if fst.st_size < self.pos:
            self._restart("truncated (shorter than what was read)")
        elif self.head and os.pread(self.fd, len(self.head), 0) != self.head:
            self._restart("truncated (rewritten from its start)")
        out.extend(self._read())
        return out

    def _read(self, final: bool = False) -> list[tuple[int, str]]:
        chunks = []
        while True:
            data = os.read(self.fd, 1 << 20)
            if not data:
                break
            if len(self.head) < self.HEAD and self.pos < self.HEAD:
                self.head = (self.head + data)[: self.HEAD]
            self.pos += len(data)
            chunks.append(data)
            if sum(map(len, chunks)) >= 8 << 20:
                break  # the rest on the next poll
        self.buf += b"".join(chunks)
        lines = self.buf.split(b"\n")
        self.buf = lines.pop()
        if final and self.buf:
            lines.append(self.buf)
            self.buf = b""
        out = []
        for raw in lines:
            self.lineno += 1
            if self.skipping:
                self.skipping = False
                continue
            out.append((self.lineno, raw.decode("utf-8", errors="replace").rstrip("\r")))
        if len(self.buf) > MAX_LINE_BYTES:
            self.stats["malformed"] += 1
            log(f"{self.path}:{self.lineno + 1}: a line longer than {MAX_LINE_BYTES} bytes (an EMF record is at most 1 MB); skipped")
            self.buf, self.skipping = b"", True
        return out


class Sender:
    """PutMetricData to the emulator, batches waiting while it does not answer."""

    def __init__(self, client, stats: Counter, max_pending: int):
        self.client = client
        self.stats = stats
        self.max_pending = max_pending
        self.pending: deque[tuple[str, dict]] = deque()
        self.retry_at = 0.0
        self.backoff = 0.5

    def add(self, items: list[tuple[str, dict]]) -> None:
        self.pending.extend(items)
        while len(self.pending) > self.max_pending:
            self.pending.popleft()
            self.stats["dropped"] += 1

    def flush(self, final: bool = False) -> None:
        if not self.pending or (time.monotonic() < self.retry_at and not final):
            return
        requests = batches(list(self.pending))
        self.pending.clear()
        for i, (namespace, datums) in enumerate(requests):
            unsent = self._put(namespace, datums)
            if unsent:
                # The emulator does not answer: keep what it did not take and the rest.
                rest = [(namespace, d) for d in unsent] + [(ns, d) for ns, ds in requests[i + 1 :] for d in ds]
                self.pending.extendleft(reversed(rest))
                self.retry_at = time.monotonic() + self.backoff
                self.backoff = min(self.backoff * 2, 10.0)
                return
        self.backoff = 0.5

    def _put(self, namespace: str, datums: list[dict]) -> list[dict]:
        """The data points the emulator did not take because it cannot be
        reached (empty when done); refused ones are isolated by halving the
        request, then counted and logged."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_metric_data(Namespace=namespace, MetricData=datums)
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = err.response.get("Error", {}).get("Code", "?")
            if status >= 500 or "Throttl" in code:
                self.stats["put_retries"] += 1
                return datums
            if len(datums) > 1:
                half = len(datums) // 2
                unsent = self._put(namespace, datums[:half])
                return unsent + datums[half:] if unsent else self._put(namespace, datums[half:])
            self.stats["refused"] += 1
            log(f"PutMetricData refused {namespace}/{datums[0]['MetricName']}: {code}: {err}")
            return []
        except BotoCoreError as err:
            self.stats["put_retries"] += 1
            if self.stats["put_retries"] in (1, 10) or self.stats["put_retries"] % 100 == 0:
                log(f"the emulator does not answer ({err}); keeping {len(self.pending) + len(datums)} data points")
            return datums
        self.stats["requests"] += 1
        self.stats["datums"] += len(datums)
        return []


def cloudwatch_client(credentials_file: str | None):
    import boto3
    from botocore.config import Config

    env = dict(os.environ)
    if credentials_file:
        from envfile import read_env_file

        env.update(read_env_file(Path(credentials_file)))
    endpoint = env.get("AWS_ENDPOINT_URL")
    if not endpoint:
        sys.exit("emf-shipper: AWS_ENDPOINT_URL is not set (the emulator's URL); set it or pass --credentials-file")
    session = boto3.session.Session(
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
    )
    cfg = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=20)
    return session.client("cloudwatch", endpoint_url=endpoint, config=cfg), endpoint


class Shipper:
    def __init__(self, args: argparse.Namespace, sender: Sender, stats: Counter):
        self.args = args
        self.sender = sender
        self.stats = stats
        self.followers: dict[str, Follower] = {}
        self.logged = Counter()

    def paths(self) -> list[str]:
        out = []
        for pattern in self.args.log:
            found = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
            out.extend(p for p in found if p not in out)
        return out

    def poll(self) -> None:
        for path in self.paths():
            follower = self.followers.setdefault(path, Follower(path, self.stats))
            for lineno, line in follower.poll():
                self.handle(path, lineno, line)

    def handle(self, path: str, lineno: int, line: str) -> None:
        self.stats["lines"] += 1
        try:
            doc = decode(line)
            if doc is None:
                return
            items = extract(doc)
        except Malformed as err:
            self._skip("malformed", path, lineno, line, str(err))
            return
        except Invalid as err:
            self._skip("invalid", path, lineno, line, str(err))
            return
        self.stats["records"] += 1
        self.sender.add(items)

    def _skip(self, kind: str, path: str, lineno: int, line: str, why: str) -> None:
        self.stats[kind] += 1
        self.logged[kind] += 1
        n = self.logged[kind]
        if n <= LOG_FIRST or n % 1000 == 0:
            snippet = line if len(line) <= 160 else line[:160] + "..."
            log(f"{path}:{lineno}: {kind} EMF line skipped ({why}) [{kind} so far: {self.stats[kind]}]: {snippet}")

    def summary(self) -> str:
        s = self.stats
        return (
            f"{s['records']} EMF records, {s['datums']} data points in {s['requests']} PutMetricData requests; "
            f"{s['malformed']} malformed and {s['invalid']} invalid lines skipped, {s['refused']} data points refused, "
            f"{s['dropped']} dropped, {len(self.sender.pending)} pending; {s['lines']} lines read"
        )

    def write_status(self, endpoint: str, running: bool) -> None:
        if not self.args.status_file:
            return
        status = {
            "pid": os.getpid(),
            "running": running,
            "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "endpoint": endpoint,
            "logs": self.paths(),
            "pending": len(self.sender.pending),
            **{k: self.stats[k] for k in ("lines", "records", "datums", "requests", "malformed", "invalid", "refused", "dropped", "truncated", "rotated")},
        }
        tmp = f"{self.args.status_file}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(status, f, indent=1)
            os.replace(tmp, self.args.status_file)
        except OSError as err:
            log(f"cannot write {self.args.status_file}: {err}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", action="append", required=True, help="a log file to follow (repeat; a glob pattern is re-expanded on every poll)")
    p.add_argument("--credentials-file", help="KEY=VALUE file with AWS_ENDPOINT_URL and the administrator's key (default: the environment)")
    p.add_argument("--status-file", help="write the counters here (JSON) for make metrics")
    p.add_argument("--poll", type=float, default=0.25, help="seconds between reads of the logs (0.25)")
    p.add_argument("--flush", type=float, default=1.0, help="seconds between PutMetricData rounds (1)")
    p.add_argument("--max-pending", type=int, default=100_000, help="data points kept while the emulator does not answer (100000)")
    p.add_argument("--stop-with", type=int, help="exit (after a last flush) when this process is gone")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stats: Counter = Counter()
    client, endpoint = cloudwatch_client(args.credentials_file)
    sender = Sender(client, stats, args.max_pending)
    shipper = Shipper(args, sender, stats)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    signal.signal(signal.SIGINT, lambda *_: stopping.append("SIGINT"))
    log(f"following {', '.join(args.log)}; PutMetricData to {endpoint}")
    last_flush = last_status = 0.0
    last_summary = time.monotonic()  # a summary a minute, when something changed
    reported = None
    while not stopping:
        try:
            shipper.poll()
            now = time.monotonic()
            if now - last_flush >= args.flush:
                sender.flush()
                last_flush = now
            if now - last_status >= 2:
                shipper.write_status(endpoint, True)
                last_status = now
            current = tuple(sorted(stats.items()))
            if now - last_summary >= 60 and current != reported:
                log(shipper.summary())
                last_summary, reported = now, current
            if args.stop_with and not _alive(args.stop_with):
                stopping.append(f"process {args.stop_with} ended")
                break
        except Exception as err:  # noqa: BLE001 - never die on one bad round
            stats["errors"] += 1
            log(f"unexpected error (continuing): {type(err).__name__}: {err}")
        time.sleep(args.poll)
    try:
        shipper.poll()
        sender.flush(final=True)
    except Exception as err:  # noqa: BLE001
        log(f"last flush failed: {type(err).__name__}: {err}")
    shipper.write_status(endpoint, False)
    log(f"stopping ({stopping[0]}): {shipper.summary()}")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


if __name__ == "__main__":
    sys.exit(main())
