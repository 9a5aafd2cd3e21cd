#!/usr/bin/env python3
"""Counts the events in one CloudWatch Logs stream (of a local emulator), and how many of them
are access-log lines for each PATH (the query string aside). Prints "events lines_for_path...".
Run with the project venv's python (boto3); AWS_ENDPOINT_URL, AWS_REGION and dummy credentials
come from the environment.

Usage: count-log-events.py GROUP STREAM PATH...
"""
import json
import os
import sys

import boto3


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit("usage: count-log-events.py GROUP STREAM PATH...")
    group, stream, paths = sys.argv[1], sys.argv[2], sys.argv[3:]
    logs = boto3.client("logs", region_name=os.environ["AWS_REGION"],
                        endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    events = 0
    access = dict.fromkeys(paths, 0)
    kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    token = None
    while True:
        page = logs.get_log_events(**kwargs, **({"nextToken": token} if token else {}))
        for event in page["events"]:
            events += 1
            try:
                line = json.loads(event["message"])
            except ValueError:
                continue
            path = str(line.get("path", "")).split("?")[0]
            if path in access and "status" in line:
                access[path] += 1
        if not page["events"] or page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    print(events, *access.values())


if __name__ == "__main__":
    main()
