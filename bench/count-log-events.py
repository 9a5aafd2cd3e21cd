#!/usr/bin/env python3
"""Counts the events in one CloudWatch Logs stream (of a local emulator), and how many of them
are access-log lines for PATH. Prints "events access_lines". Run with the project venv's python
(boto3); AWS_ENDPOINT_URL, AWS_REGION and dummy credentials come from the environment.

Usage: count-log-events.py GROUP STREAM PATH
"""
import json
import os
import sys

import boto3


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit("usage: count-log-events.py GROUP STREAM PATH")
    group, stream, path = sys.argv[1:]
    logs = boto3.client("logs", region_name=os.environ["AWS_REGION"],
                        endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    events = access = 0
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
            if str(line.get("path", "")).split("?")[0] == path and "status" in line:
                access += 1
        if not page["events"] or page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    print(events, access)


if __name__ == "__main__":
    main()
