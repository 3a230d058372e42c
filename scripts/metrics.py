#!/usr/bin/env python3
"""`make metrics`: the last minutes of Portcullis' metrics, and the alarms and
dashboards, in the AWS emulator `make local` runs.

    .venv/bin/python scripts/metrics.py [--minutes 15] [--local-dir .local]

Reads the emulator's URL and administrator key from LOCAL_DIR/admin-credentials
(written by scripts/moto-server.py; the emulator enforces IAM), then prints:

1. every metric of the namespace (ListMetrics) with data in the window: its
   dimension values and Sum, SampleCount and Average over the window
   (GetMetricData, one period for the whole window; a dimension set is matched
   exactly, as CloudWatch does);
2. the alarms (DescribeAlarms): name, state, metric and threshold, and whether
   the metric an alarm watches was received; the emulator stores alarms but
   never evaluates them, so a state is the one it was created with;
3. the dashboards (ListDashboards);
4. the counters of the EMF shipper (scripts/emf-shipper.py, LOCAL_DIR/metrics-shipper.json).

"none" is printed for an empty section. Exit status 1 when the emulator cannot
be reached or its credentials are missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from envfile import read_env_file  # noqa: E402

# GetMetricData takes at most 500 queries per call (API Reference, "GetMetricData").
MAX_QUERIES = 500
STATS = ("Sum", "SampleCount", "Average")


def client(local_dir: Path):
    import boto3
    from botocore.config import Config

    creds_file = local_dir / "admin-credentials"
    creds = read_env_file(creds_file)
    if not creds.get("AWS_ENDPOINT_URL") or not creds.get("AWS_ACCESS_KEY_ID"):
        sys.exit(f"metrics: no emulator credentials in {creds_file}: start the platform with `make local` first")
    session = boto3.session.Session(
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds.get("AWS_SECRET_ACCESS_KEY"),
        region_name=creds.get("AWS_REGION") or "us-east-1",
    )
    cfg = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=3, read_timeout=30)
    return session.client("cloudwatch", endpoint_url=creds["AWS_ENDPOINT_URL"], config=cfg), creds["AWS_ENDPOINT_URL"]


def list_streams(cw, namespace: str) -> list[dict]:
    """Every (metric, dimension set) of the namespace, sorted."""
    streams = []
    for page in cw.get_paginator("list_metrics").paginate(Namespace=namespace):
        streams.extend(page.get("Metrics", []))
    key = lambda m: (m["MetricName"], sorted((d["Name"], d["Value"]) for d in m.get("Dimensions", [])))  # noqa: E731
    unique = {json.dumps(key(m)): m for m in streams}
    return sorted(unique.values(), key=key)


def figures(cw, namespace: str, streams: list[dict], start: datetime, end: datetime) -> list[dict | None]:
    """Sum, SampleCount and Average over [start, end) of each stream; None
    for a stream without data points in the window."""
    period = max(60, int((end - start).total_seconds()) // 60 * 60)
    queries = []
    for i, m in enumerate(streams):
        metric = {"Namespace": namespace, "MetricName": m["MetricName"], "Dimensions": m.get("Dimensions", [])}
        for stat in STATS:
            queries.append({"Id": f"m{i}_{stat.lower()}", "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}, "ReturnData": True})
    values: dict[str, list[float]] = {}
    for at in range(0, len(queries), MAX_QUERIES):
        kwargs = {"MetricDataQueries": queries[at : at + MAX_QUERIES], "StartTime": start, "EndTime": end}
        while True:
            page = cw.get_metric_data(**kwargs)
            for result in page.get("MetricDataResults", []):
                values.setdefault(result["Id"], []).extend(result.get("Values", []))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
    out: list[dict | None] = []
    for i in range(len(streams)):
        total = values.get(f"m{i}_sum", [])
        count = values.get(f"m{i}_samplecount", [])
        if not count or sum(count) == 0:
            out.append(None)
            continue
        averages = values.get(f"m{i}_average", [])
        # One period covers the window; should the service split it, the
        # window's average is the sums' total over the counts' total.
        average = averages[0] if len(averages) == 1 and len(total) == 1 else sum(total) / sum(count)
        out.append({"Sum": sum(total), "SampleCount": sum(count), "Average": average})
    return out


def fmt(x: float) -> str:
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.3f}".rstrip("0")


def dims_text(m: dict) -> str:
    return " ".join(f"{d['Name']}={d['Value']}" for d in m.get("Dimensions", [])) or "(no dimensions)"


def table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()  # noqa: E731
    return ["  " + line(header), *("  " + line(r) for r in rows)]


def print_metrics(cw, namespace: str, minutes: int, now: datetime) -> set[str]:
    start = now - timedelta(minutes=minutes)
    streams = list_streams(cw, namespace)
    data = figures(cw, namespace, streams, start, now) if streams else []
    rows = [[m["MetricName"], dims_text(m), fmt(f["Sum"]), fmt(f["SampleCount"]), fmt(f["Average"])] for m, f in zip(streams, data) if f]
    print(f"Metrics in namespace {namespace}, last {minutes} min ({start:%H:%M:%S}Z to {now:%H:%M:%S}Z):")
    if rows:
        print("\n".join(table(rows, ["metric", "dimensions", "Sum", "SampleCount", "Average"])))
    else:
        print("  none: no data point in this window")
    quiet = len(streams) - len(rows)
    if quiet:
        print(f"  ({quiet} more metric/dimension combinations received earlier, none in this window)")
    return {m["MetricName"] for m in streams}


def print_alarms(cw, namespace: str, received: set[str]) -> None:
    metric_alarms, composite = [], []
    for page in cw.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
        metric_alarms.extend(page.get("MetricAlarms", []))
        composite.extend(page.get("CompositeAlarms", []))
    total = len(metric_alarms) + len(composite)
    print(f"\nAlarms (DescribeAlarms): {total or 'none'}" + (" (stored, never evaluated by the emulator: each state is the one it was created with)" if total else ""))
    rows = []
    for a in sorted(metric_alarms, key=lambda a: a["AlarmName"]):
        if a.get("MetricName"):
            what = f"{a.get('Namespace')}/{a['MetricName']}"
            stat = a.get("Statistic") or a.get("ExtendedStatistic") or "?"
            seen = ("received" if a["MetricName"] in received else "not received yet") if a.get("Namespace") == namespace else "-"
        else:
            names = [q["MetricStat"]["Metric"]["MetricName"] for q in a.get("Metrics", []) if "MetricStat" in q]
            what = "metric math: " + ",".join(names)
            stat = "expression"
            seen = ("received" if any(n in received for n in names) else "not received yet") if names else "-"
        cond = f"{stat} {a.get('ComparisonOperator', '?')} {fmt(a['Threshold']) if 'Threshold' in a else a.get('ThresholdMetricId', '?')}"
        rows.append([a["AlarmName"], a.get("StateValue", "?"), what, cond, seen])
    for a in sorted(composite, key=lambda a: a["AlarmName"]):
        rows.append([a["AlarmName"], a.get("StateValue", "?"), "composite", a.get("AlarmRule", "")[:60], "-"])
    if rows:
        rows.insert(0, ["alarm", "state", "metric", "condition", "its metric"])
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for r in rows:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def print_dashboards(cw) -> None:
    boards = []
    for page in cw.get_paginator("list_dashboards").paginate():
        boards.extend(page.get("DashboardEntries", []))
    print(f"\nDashboards (ListDashboards): {len(boards) or 'none'}")
    for b in sorted(boards, key=lambda b: b["DashboardName"]):
        widgets = "?"
        try:
            body = json.loads(cw.get_dashboard(DashboardName=b["DashboardName"]).get("DashboardBody") or "{}")
            widgets = str(len(body.get("widgets", [])))
        except (ValueError, AttributeError):
            pass
        print(f"  {b['DashboardName']}  ({widgets} widgets, {b.get('Size', '?')} bytes)")


def print_shipper(local_dir: Path, now: datetime) -> None:
    path = local_dir / "metrics-shipper.json"
    try:
        s = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        print(f"\nEMF shipper: no status in {path} (it runs with make local)")
        return
    try:
        age = int((now - datetime.fromisoformat(s["updated"])).total_seconds())
        when = f"updated {age} s ago" if s.get("running") else f"stopped {age} s ago"
    except (KeyError, ValueError, TypeError):
        when = "status time unknown"
    print(
        f"\nEMF shipper ({when}; log: {local_dir}/logs/metrics-shipper.log): {s.get('records', 0)} EMF records, "
        f"{s.get('datums', 0)} data points shipped; {s.get('malformed', 0)} malformed and {s.get('invalid', 0)} invalid lines skipped, "
        f"{s.get('refused', 0)} refused, {s.get('pending', 0)} pending"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=int, default=15, help="the window, in minutes (15)")
    p.add_argument("--local-dir", default=os.environ.get("PORTCULLIS_LOCAL_DIR", ".local"), help="make local's state directory (.local)")
    p.add_argument("--namespace", default="Portcullis", help="the metrics' namespace (Portcullis)")
    args = p.parse_args(argv)
    if args.minutes < 1:
        p.error("--minutes must be at least 1")
    from botocore.exceptions import BotoCoreError, ClientError

    local_dir = Path(args.local_dir)
    cw, endpoint = client(local_dir)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    print(f"AWS emulator {endpoint} (administrator key from {local_dir}/admin-credentials)\n")
    try:
        received = print_metrics(cw, args.namespace, args.minutes, now)
        print_alarms(cw, args.namespace, received)
        print_dashboards(cw)
    except (BotoCoreError, ClientError) as err:
        print(f"metrics: the emulator at {endpoint} did not answer ({err}); is `make local` running?", file=sys.stderr)
        return 1
    print_shipper(local_dir, now)
    return 0


if __name__ == "__main__":
    sys.exit(main())
