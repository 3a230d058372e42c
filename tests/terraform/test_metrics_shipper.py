"""make local's EMF shipper (scripts/emf-shipper.py) and `make metrics`
(scripts/metrics.py) against a real emulator: scripts/moto-server.py with IAM
enforced, started here on a free port, signed with its administrator's key.

The shipper follows synthetic function logs holding EMF records (several
dimension sets, an array value, a Lambda-style prefix, a line written in two
halves), a malformed line and an invalid record, while one log is truncated
and another rotated; the metrics are then read back from the emulator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from envfile import read_env_file  # noqa: E402

ENV = "test-env"
NS = "Portcullis"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without AWS settings (make test exports its
    own emulator's) nor an outer make's flags, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    home = tmp_path_factory.mktemp("emf")
    local = home / "local"
    (local / "logs").mkdir(parents=True)
    creds = local / "admin-credentials"
    log = open(home / "moto.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "moto-server.py"), "--port", str(free_port()), "--region", "us-east-1", "--credentials-file", str(creds)],
        stdout=log, stderr=subprocess.STDOUT, env=clean_env(), start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (creds.exists() and creds.stat().st_size > 0):
            assert proc.poll() is None, f"the emulator exited: {(home / 'moto.log').read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the emulator wrote no credentials: {(home / 'moto.log').read_text()[-2000:]}"
            time.sleep(0.2)
        values = read_env_file(creds)
        cw = boto3.session.Session(
            aws_access_key_id=values["AWS_ACCESS_KEY_ID"], aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"], region_name="us-east-1",
        ).client("cloudwatch", endpoint_url=values["AWS_ENDPOINT_URL"])
        yield {"home": home, "local": local, "cw": cw}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def emf(dimension_sets: list[list[str]], metrics: dict[str, str], **members) -> str:
    """One EMF record (the contract's shape), as a log line."""
    record = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [{"Namespace": NS, "Dimensions": dimension_sets, "Metrics": [{"Name": n, "Unit": u} for n, u in metrics.items()]}],
        },
        "Environment": ENV,
        **members,
    }
    return json.dumps(record)


def decision(outcome: str) -> str:
    return emf([["Environment"], ["Environment", "Outcome"]], {"AuthorizerDecision": "Count"}, Outcome=outcome, AuthorizerDecision=1, Function="authorizer")


def sweep(ms: int) -> str:
    return emf([["Environment"]], {"ReconcilerSweepDuration": "Milliseconds"}, ReconcilerSweepDuration=ms, Function="reconciler")


def append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(text)


def wait_for(status_file: Path, proc, done, what: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the shipper exited"
        try:
            status = json.loads(status_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            status = {}
        if status and done(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"the shipper did not get to: {what}; status {status}")


@pytest.fixture(scope="module")
def shipped(emulator):
    """Run the shipper through the whole scenario; its final status and output."""
    local, logs = emulator["local"], emulator["local"] / "logs"
    gateway, reconciler, status_file = logs / "gateway.log", logs / "reconciler.log", local / "metrics-shipper.json"
    cut = decision("allowed")
    gateway.write_text(
        "\n".join([
            "2026-12-08T01:00:00Z  INFO portcullis_local: listening on 127.0.0.1:3000",
            json.dumps({"level": "INFO", "fields": {"message": "request", "note": "not \"_aws\" at the root"}, "target": "local"}),
            decision("allowed"),
            decision("bad_key"),
            decision("allowed"),
            '{"_aws":{"Timestamp":1765000000000,"CloudWatchMetrics":[{"Namespace":"Portcullis","Dimensions":[["Environment"]',
            emf([["Environment", "Outcome"]], {"AuthorizerDecision": "Count"}, AuthorizerDecision=1),  # no Outcome member: invalid
            # Lambda puts a timestamp and request id before the record; an array is several values.
            "2026-12-08T01:00:01.000Z\t8f5c2a51-0d3e-4e8a-9a5b-7f1c0c9d2e11\t"
            + emf([["Environment"], ["Environment", "JobType"]], {"JobQueueWait": "Milliseconds"}, JobType="report", JobQueueWait=[120, 80, 100]),
        ])
        + "\n"
        + cut[:40],  # a record still being written
        encoding="utf-8",
    )
    out = open(emulator["home"] / "shipper.log", "w+", encoding="utf-8")  # noqa: SIM115 - closed below
    env = clean_env()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "emf-shipper.py"), "--log", str(gateway), "--log", str(reconciler),
         "--credentials-file", str(local / "admin-credentials"), "--status-file", str(status_file), "--poll", "0.05", "--flush", "0.1"],
        stdout=out, stderr=subprocess.STDOUT, env=env,
    )
    try:
        settled = lambda n: lambda s: s["records"] == n and s["pending"] == 0  # noqa: E731
        wait_for(status_file, proc, settled(4), "4 records of gateway.log")
        append(gateway, cut[40:] + "\n")  # the rest of the record
        wait_for(status_file, proc, settled(5), "the record written in two halves")
        # Truncated (as `>` does when make local starts again): read again from its start.
        gateway.write_text(emf([["Environment"], ["Environment", "JobType"]], {"JobSucceeded": "Count"}, JobType="report", JobSucceeded=1) + "\n", encoding="utf-8")
        wait_for(status_file, proc, lambda s: settled(6)(s) and s["truncated"] >= 1, "the record after the truncation")
        # A log that appears later, then is rotated right after a last line.
        reconciler.write_text(sweep(250) + "\n", encoding="utf-8")
        wait_for(status_file, proc, settled(7), "reconciler.log, created later")
        append(reconciler, sweep(300) + "\n")
        reconciler.rename(logs / "reconciler.log.1")
        reconciler.write_text(sweep(350) + "\n", encoding="utf-8")
        wait_for(status_file, proc, lambda s: settled(9)(s) and s["rotated"] >= 1, "the rotated reconciler.log and its successor")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    out.seek(0)
    output = out.read()
    out.close()
    return {"code": code, "output": output, "status": json.loads(status_file.read_text(encoding="utf-8"))}


def stats(cw, name: str, **dims: str) -> dict:
    """GetMetricStatistics over the last hour, summed over its periods."""
    now = datetime.now(timezone.utc)
    points = cw.get_metric_statistics(
        Namespace=NS, MetricName=name, Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=5), Period=300,
        Statistics=["Sum", "SampleCount", "Minimum", "Maximum"],
    )["Datapoints"]
    assert points, f"no data points for {name} {dims}"
    return {
        "Sum": sum(p["Sum"] for p in points), "SampleCount": sum(p["SampleCount"] for p in points),
        "Minimum": min(p["Minimum"] for p in points), "Maximum": max(p["Maximum"] for p in points),
        "Units": {p.get("Unit") for p in points},
    }


def test_the_shipper_counts_what_it_skipped_and_stops_cleanly(shipped):
    s = shipped["status"]
    assert shipped["code"] == 0, shipped["output"]
    assert "stopping (SIGTERM)" in shipped["output"]
    assert (s["records"], s["malformed"], s["invalid"], s["refused"], s["dropped"], s["pending"]) == (9, 1, 1, 0, 0, 0), s
    assert s["truncated"] >= 1 and s["rotated"] >= 1, s
    # Each record once per dimension set: 4 decisions x 2, the array (one
    # Values/Counts datum) x 2, JobSucceeded x 2, 3 sweeps x 1.
    assert s["datums"] == 8 + 2 + 2 + 3, s
    assert "gateway.log:6: malformed EMF line skipped" in shipped["output"], shipped["output"]
    assert "gateway.log:7: invalid EMF line skipped (dimension Outcome" in shipped["output"], shipped["output"]
    assert s["running"] is False


def test_get_metric_statistics_reads_back_every_dimension_set_and_value(shipped, emulator):
    cw = emulator["cw"]
    allowed = stats(cw, "AuthorizerDecision", Environment=ENV, Outcome="allowed")
    assert (allowed["Sum"], allowed["SampleCount"], allowed["Units"]) == (3, 3, {"Count"})  # the one written in halves included, none twice
    assert stats(cw, "AuthorizerDecision", Environment=ENV, Outcome="bad_key")["Sum"] == 1
    wait = stats(cw, "JobQueueWait", Environment=ENV, JobType="report")
    assert (wait["Sum"], wait["SampleCount"], wait["Minimum"], wait["Maximum"], wait["Units"]) == (300, 3, 80, 120, {"Milliseconds"})
    assert stats(cw, "JobSucceeded", Environment=ENV, JobType="report")["Sum"] == 1
    swept = stats(cw, "ReconcilerSweepDuration", Environment=ENV)
    assert (swept["Sum"], swept["SampleCount"]) == (900, 3)  # 250, then 300 and 350 around the rotation

    # The [Environment] rollup: moto's GetMetricStatistics also counts the
    # data points whose dimensions merely include the ones asked for, so it
    # is read with GetMetricData, which matches a dimension set exactly, as
    # CloudWatch does for both.
    now = datetime.now(timezone.utc)
    rollup = cw.get_metric_data(
        MetricDataQueries=[{"Id": "d", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "AuthorizerDecision", "Dimensions": [{"Name": "Environment", "Value": ENV}]}, "Period": 3600, "Stat": "Sum"}}],
        StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=5),
    )["MetricDataResults"][0]["Values"]
    assert sum(rollup) == 4

    listed = {(m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"]))) for m in cw.list_metrics(Namespace=NS)["Metrics"]}
    env = ("Environment", ENV)
    assert listed == {
        ("AuthorizerDecision", (env,)),
        ("AuthorizerDecision", (env, ("Outcome", "allowed"))),
        ("AuthorizerDecision", (env, ("Outcome", "bad_key"))),
        ("JobQueueWait", (env,)),
        ("JobQueueWait", (env, ("JobType", "report"))),
        ("JobSucceeded", (env,)),
        ("JobSucceeded", (env, ("JobType", "report"))),
        ("ReconcilerSweepDuration", (env,)),
    }, listed


def make_metrics(local: Path) -> str:
    r = subprocess.run(
        ["make", "-s", "--no-print-directory", "metrics", f"LOCAL_DIR={local}", "MINUTES=15"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=clean_env(PORTCULLIS_VENV=sys.prefix),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def row(output: str, *words: str) -> list[str]:
    """The last three columns (Sum, SampleCount, Average) of the metrics row
    whose metric and dimensions are exactly these words."""
    found = [line.split() for line in output.splitlines() if line.split()[:-3] == list(words)]
    assert len(found) == 1, f"expected one row with {words}:\n{output}"
    return found[0][-3:]


def test_make_metrics_lists_them_with_the_alarms_and_dashboards(shipped, emulator):
    out = make_metrics(emulator["local"])
    assert row(out, "AuthorizerDecision", f"Environment={ENV}", "Outcome=allowed") == ["3", "3", "1"]
    assert row(out, "AuthorizerDecision", f"Environment={ENV}") == ["4", "4", "1"]
    assert row(out, "JobQueueWait", f"Environment={ENV}", "JobType=report") == ["300", "3", "100"]
    assert row(out, "ReconcilerSweepDuration", f"Environment={ENV}") == ["900", "3", "300"]
    assert "Alarms (DescribeAlarms): none" in out and "Dashboards (ListDashboards): none" in out, out
    assert "9 EMF records, 15 data points shipped; 1 malformed and 1 invalid lines skipped" in out, out

    cw = emulator["cw"]
    cw.put_metric_alarm(
        AlarmName="portcullis-test-authorizer-errors", Namespace=NS, MetricName="AuthorizerDecision",
        Dimensions=[{"Name": "Environment", "Value": ENV}, {"Name": "Outcome", "Value": "error"}],
        Statistic="Sum", Period=300, EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cw.put_dashboard(DashboardName="portcullis-test", DashboardBody=json.dumps({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 2, "properties": {"markdown": "Portcullis"}}]}))
    out = make_metrics(emulator["local"])
    assert "Alarms (DescribeAlarms): 1 (stored, never evaluated by the emulator" in out, out
    assert any(line.split()[:1] == ["portcullis-test-authorizer-errors"] and "received" in line.split() for line in out.splitlines()), out
    assert "Dashboards (ListDashboards): 1" in out and "portcullis-test  (1 widgets" in out, out


def shipper_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("emf_shipper", ROOT / "scripts" / "emf-shipper.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_batches_stay_within_put_metric_data_limits():
    """1000 metrics and 1 MB per request, 150 values per metric, one namespace per request."""
    m = shipper_module()
    now = datetime.now(timezone.utc)
    small = [("Portcullis", {"MetricName": "JobSubmitted", "Dimensions": [{"Name": "Environment", "Value": ENV}], "Timestamp": now, "Unit": "Count", "Value": 1.0})] * 2500
    other = [("Other", {"MetricName": "X", "Dimensions": [], "Timestamp": now, "Unit": "None", "Value": 2.0})]
    requests = m.batches(small + other)
    assert [(ns, len(items)) for ns, items in requests] == [("Portcullis", 1000), ("Portcullis", 1000), ("Portcullis", 500), ("Other", 1)]
    # 300 distinct values: two datums of at most 150 values (Values/Counts), counts kept.
    doc = json.loads(emf([["Environment"]], {"ProxyUpstreamLatency": "Milliseconds"}, ProxyUpstreamLatency=list(range(100))))
    (_, datum), = m.extract(doc)
    assert datum["Values"] == [float(v) for v in range(100)] and set(datum["Counts"]) == {1.0}
    wide = m._with_values({"MetricName": "L"}, [float(v) for v in range(300)] + [7.0])
    assert [len(d["Values"]) for d in wide] == [150, 150] and sum(sum(d["Counts"]) for d in wide) == 301
    # Large data points: the size budget splits before the 1 MB limit.
    big = {"MetricName": "L" * 255, "Dimensions": [{"Name": f"D{i}", "Value": "v" * 1024} for i in range(30)], "Timestamp": now, "Unit": "Milliseconds",
           "Values": [float(v) + 0.123456789 for v in range(150)], "Counts": [1.0] * 150}
    sized = m.batches([("Portcullis", big)] * 200)
    assert len(sized) > 1 and all(sum(m.encoded_size(d) for d in items) <= m.MAX_REQUEST_BYTES for _, items in sized)


def test_invalid_records_are_refused_as_the_specification_says():
    m = shipper_module()
    good = json.loads(decision("allowed"))
    assert len(m.extract(good)) == 2
    for mutate, reason in [
        (lambda d: d.pop("Outcome"), "dimension Outcome"),
        (lambda d: d.update(Outcome=3), "dimension Outcome"),
        (lambda d: d.update(AuthorizerDecision="1"), "not a number"),
        (lambda d: d.update(AuthorizerDecision=[1] * 101), "more than 100"),
        (lambda d: d["_aws"].pop("Timestamp"), "Timestamp"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="Requests"), "not a CloudWatch unit"),
        (lambda d: d["_aws"]["CloudWatchMetrics"][0].update(Dimensions=[[f"K{i}" for i in range(31)]]), "more than 30"),
    ]:
        doc = json.loads(decision("allowed"))
        mutate(doc)
        with pytest.raises(m.Invalid, match=reason):
            m.extract(doc)
    with pytest.raises(m.Malformed):
        m.decode('{"_aws": {"CloudWatchMetrics": [')
    with pytest.raises(m.Malformed):
        m.decode('{"_aws":{"Timestamp":1,"CloudWatchMetrics":[]},"X":NaN}')
    assert m.decode("plain text") is None and m.decode('{"msg": "the \\"_aws\\" member"}') is None


def test_a_refused_data_point_is_isolated_and_the_rest_delivered():
    from collections import Counter

    from botocore.exceptions import ClientError, EndpointConnectionError

    m = shipper_module()

    class Stub:
        def __init__(self):
            self.got, self.down = [], False

        def put_metric_data(self, Namespace, MetricData):  # noqa: N803 - the SDK's names
            if self.down:
                raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
            if any(d["MetricName"] == "Bad" for d in MetricData):
                raise ClientError({"Error": {"Code": "InvalidParameterValue", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "PutMetricData")
            self.got.extend(d["MetricName"] for d in MetricData)

    stats, stub = Counter(), Stub()
    sender = m.Sender(stub, stats, max_pending=10)
    sender.add([("P", {"MetricName": n}) for n in ["A", "B", "Bad", "C", "D"]])
    sender.flush()
    assert stub.got == ["A", "B", "C", "D"] and stats["refused"] == 1 and not sender.pending
    stub.down = True
    sender.add([("P", {"MetricName": f"N{i}"}) for i in range(12)])  # two over --max-pending: the oldest go
    sender.flush()
    assert stats["dropped"] == 2 and len(sender.pending) == 10
    stub.down = False
    sender.flush(final=True)
    assert stub.got[4:] == [f"N{i}" for i in range(2, 12)] and not sender.pending
