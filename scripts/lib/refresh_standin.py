#!/usr/bin/env python3
"""A stand-in for the four instance-refresh calls of EC2 Auto Scaling, in front of moto.

moto 5.2.5 has no StartInstanceRefresh, DescribeInstanceRefreshes, RollbackInstanceRefresh or
CancelInstanceRefresh. This server answers those four itself, in the real query protocol
(form-encoded POST, XML in the autoscaling 2011-01-01 namespace, the real error codes), and
proxies every other request, of any service, to moto unchanged. scripts/test-deploy.sh points
the AWS CLI at it (AWS_ENDPOINT_URL) and runs scripts/deploy.sh through it.

A refresh walks through a script of states, one step each time it is described (the way a
real one moves on between two polls of a deploy script):

  success   Pending, InProgress 0/50 %, Successful: the group then takes the desired
            configuration (an UpdateAutoScalingGroup sent to moto), as AWS does
  rollback  Pending, InProgress 50 %, then an alarm fires: RollbackInProgress, then
            RollbackSuccessful; the group keeps its launch template version
  rollback-failed  as rollback, but the rollback ends RollbackFailed
  failed    Pending, InProgress 0 %, Failed
  cancelled Pending, InProgress 50 %, then someone cancels: Cancelling, Cancelled
  hold      Pending, then InProgress at 30 % for ever (until cancelled or rolled back)

The script of the next StartInstanceRefresh is chosen with POST /_standin/next-refresh
{"script": NAME} (default: success); POST /_standin/settle moves every refresh to the end of
its script, as time would (a test's way to let a cancel or rollback finish). Every request is appended to --calls as one JSON line,
{"service": ..., "action": ...}, so that a test can compare the calls made with the permissions
granted. Standard library only.

Usage: refresh_standin.py --upstream http://127.0.0.1:MOTO --port-file FILE --calls FILE
"""

import argparse
import datetime
import http.client
import http.server
import json
import re
import sys
import threading
import urllib.parse
import uuid
from xml.sax.saxutils import escape

NAMESPACE = "http://autoscaling.amazonaws.com/doc/2011-01-01/"
ACTIVE = {"Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking"}
HANDLED = {"StartInstanceRefresh", "DescribeInstanceRefreshes", "CancelInstanceRefresh", "RollbackInstanceRefresh"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}

ALARM_REASON = "Alarm itemsd-test-target-5xx is in ALARM state"

# One step: (Status, PercentageComplete, InstancesToUpdate, StatusReason). The last step repeats.
SCRIPTS = {
    "success": [
        ("Pending", 0, 2, "Waiting for the instance refresh to start."),
        ("InProgress", 0, 2, "Waiting for instances to warm up before continuing. For example: i-0aaa is warming up."),
        ("InProgress", 50, 1, "Waiting for instances to warm up before continuing. For example: i-0bbb is warming up."),
        ("Successful", 100, 0, None),
    ],
    "rollback": [
        ("Pending", 0, 2, "Waiting for the instance refresh to start."),
        ("InProgress", 50, 1, "Waiting for instances to warm up before continuing."),
        ("RollbackInProgress", 50, 1, f"The instance refresh is rolling back. {ALARM_REASON}."),
        ("RollbackSuccessful", 50, 1, f"The instance refresh was rolled back. {ALARM_REASON}."),
    ],
    "rollback-failed": [
        ("Pending", 0, 2, "Waiting for the instance refresh to start."),
        ("InProgress", 50, 1, "Waiting for instances to warm up before continuing."),
        ("RollbackInProgress", 50, 1, f"The instance refresh is rolling back. {ALARM_REASON}."),
        ("RollbackFailed", 50, 1, "The rollback failed: an instance of the previous configuration failed to launch."),
    ],
    "failed": [
        ("Pending", 0, 2, "Waiting for the instance refresh to start."),
        ("InProgress", 0, 2, "Waiting for instances to warm up before continuing."),
        ("Failed", 0, 2, "An instance failed to launch: the launch template's image could not be used."),
    ],
    "cancelled": [
        ("Pending", 0, 2, "Waiting for the instance refresh to start."),
        ("InProgress", 50, 1, "Waiting for instances to warm up before continuing."),
        ("Cancelling", 50, 1, "The instance refresh is being cancelled by a user."),
        ("Cancelled", 50, 1, "The instance refresh was cancelled by a user."),
    ],
    "hold": [
        ("Pending", 0, 2, "Waiting for the instance refresh to start."),
        ("InProgress", 30, 2, "Waiting for instances to warm up before continuing."),
    ],
}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_query(body):
    """Form fields to a nested structure: A.B.member.1=x -> {"A": {"B": ["x"]}}."""
    flat = urllib.parse.parse_qs(body, keep_blank_values=True)
    tree = {}
    for key, values in flat.items():
        parts = key.split(".")
        node = tree
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "member":
                continue
            if last:
                node[part] = values[-1]
            else:
                node = node.setdefault(part, {})
    return _lists(tree)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def xml_value(name, value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return f"<{name}>{'true' if value else 'false'}</{name}>"
    if isinstance(value, list):
        return f"<{name}>" + "".join(xml_value("member", v) for v in value) + f"</{name}>"
    if isinstance(value, dict):
        return f"<{name}>" + "".join(xml_value(k, v) for k, v in value.items()) + f"</{name}>"
    return f"<{name}>{escape(str(value))}</{name}>"


def typed_preferences(prefs):
    """Form strings back to the types the model has (numbers, booleans)."""
    out = {}
    for key, value in prefs.items():
        if key in ("MinHealthyPercentage", "MaxHealthyPercentage", "InstanceWarmup", "CheckpointDelay", "BakeTime"):
            out[key] = int(value)
        elif key in ("SkipMatching", "AutoRollback"):
            out[key] = value == "true"
        elif key == "CheckpointPercentages":
            out[key] = [int(v) for v in value]
        else:
            out[key] = value
    return out


class Refresh:
    def __init__(self, group, script, preferences, desired, headers):
        self.id = str(uuid.uuid4())
        self.group = group
        self.script = SCRIPTS[script]
        self.step = 0
        self.override = None
        self.preferences = preferences
        self.desired = desired
        self.headers = headers
        self.start = now()
        self.end = None
        self.rollback_start = None
        self.applied = False

    def state(self):
        return self.override[0] if self.override else self.script[self.step]

    def status(self):
        return self.state()[0]

    def advance(self, apply_desired):
        """One step along the script (or the cancel/rollback override); the group takes the
        desired configuration as the refresh becomes Successful."""
        if self.override:
            if len(self.override) > 1:
                self.override = self.override[1:]
        elif self.step < len(self.script) - 1:
            self.step += 1
        if self.status() not in ACTIVE and self.end is None:
            self.end = now()
            if self.status() == "Successful" and not self.applied:
                self.applied = True
                apply_desired(self)

    def to_xml(self):
        status, pct, todo, reason = self.state()
        fields = {
            "InstanceRefreshId": self.id,
            "AutoScalingGroupName": self.group,
            "Status": status,
            "StatusReason": reason,
            "StartTime": self.start,
            "EndTime": self.end,
            "PercentageComplete": pct,
            "InstancesToUpdate": todo,
            "ProgressDetails": {"LivePoolProgress": {"PercentageComplete": pct, "InstancesToUpdate": todo}},
            "Preferences": self.preferences,
            "DesiredConfiguration": self.desired,
        }
        if status.startswith("Rollback"):
            fields["RollbackDetails"] = {
                "RollbackReason": reason,
                "RollbackStartTime": self.rollback_start,
                "PercentageCompleteOnRollback": 100 if status == "RollbackSuccessful" else 0,
                "InstancesToUpdateOnRollback": 0 if status == "RollbackSuccessful" else 1,
            }
        return "<member>" + "".join(xml_value(k, v) for k, v in fields.items()) + "</member>"


class AwsError(Exception):
    def __init__(self, code, message, status=400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class State:
    def __init__(self, upstream, calls_path):
        self.upstream = urllib.parse.urlsplit(upstream)
        self.calls_path = calls_path
        self.lock = threading.Lock()
        self.refreshes = []
        self.next_script = "success"

    def record(self, service, action):
        with self.lock, open(self.calls_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"service": service, "action": action}) + "\n")

    def upstream_call(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def autoscaling_call(self, headers, params):
        """A query-protocol call of our own to moto, signed as the caller's (moto reads the region
        from the credential scope and does not check signatures)."""
        body = urllib.parse.urlencode({**params, "Version": "2011-01-01"})
        keep = {k: v for k, v in headers.items() if k.lower() in ("authorization", "x-amz-date", "x-amz-security-token")}
        keep["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8"
        return self.upstream_call("POST", "/", keep, body.encode())

    def group_exists(self, headers, group):
        status, _, body = self.autoscaling_call(headers, {"Action": "DescribeAutoScalingGroups", "AutoScalingGroupNames.member.1": group})
        return status == 200 and f"<AutoScalingGroupName>{escape(group)}</AutoScalingGroupName>" in body.decode()

    def apply_desired(self, refresh):
        template = (refresh.desired or {}).get("LaunchTemplate")
        if not template:
            return
        params = {"Action": "UpdateAutoScalingGroup", "AutoScalingGroupName": refresh.group}
        for key in ("LaunchTemplateId", "LaunchTemplateName", "Version"):
            if key in template:
                params[f"LaunchTemplate.{key}"] = template[key]
        status, _, body = self.autoscaling_call(refresh.headers, params)
        if status != 200:
            print(f"refresh_standin: applying the desired configuration failed: {status} {body[:300]!r}", file=sys.stderr)

    def active(self, group):
        return [r for r in self.refreshes if r.group == group and r.status() in ACTIVE]

    # --- the four calls ------------------------------------------------------------------

    def start(self, headers, p):
        group = p.get("AutoScalingGroupName", "")
        if not group:
            raise AwsError("ValidationError", "1 validation error detected: Value null at 'autoScalingGroupName' failed to satisfy constraint: Member must not be null")
        if p.get("Strategy", "Rolling") != "Rolling":
            raise AwsError("ValidationError", f"Strategy {p['Strategy']} is not supported.")
        if not self.group_exists(headers, group):
            raise AwsError("ValidationError", f"AutoScalingGroup name not found - AutoScalingGroup {group} not found")
        preferences = typed_preferences(p.get("Preferences", {}))
        desired = p.get("DesiredConfiguration")
        if preferences.get("AutoRollback") and not (desired or {}).get("LaunchTemplate"):
            raise AwsError("ValidationError", "You must specify a desired configuration to use auto rollback.")
        with self.lock:
            running = self.active(group)
            if running:
                raise AwsError("InstanceRefreshInProgress", f"An Instance Refresh {running[0].id} is already in progress and blocks the execution of this Instance Refresh.")
            refresh = Refresh(group, self.next_script, preferences, desired, headers)
            self.next_script = "success"
            self.refreshes.append(refresh)
        return f"<InstanceRefreshId>{refresh.id}</InstanceRefreshId>"

    def describe(self, p):
        group = p.get("AutoScalingGroupName", "")
        ids = set(p.get("InstanceRefreshIds", []))
        with self.lock:
            found = [r for r in reversed(self.refreshes) if r.group == group and (not ids or r.id in ids)]
            # What this call saw, then one step on: the next call sees the next state.
            items = "".join(r.to_xml() for r in found)
            for r in found:
                r.advance(self.apply_desired)
        return f"<InstanceRefreshes>{items}</InstanceRefreshes>"

    def cancel(self, p):
        with self.lock:
            running = self.active(p.get("AutoScalingGroupName", ""))
            if not running:
                raise AwsError("ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group.")
            r = running[0]
            _, pct, todo, _ = r.state()
            r.override = [("Cancelling", pct, todo, "The instance refresh is being cancelled by a user."),
                          ("Cancelled", pct, todo, "The instance refresh was cancelled by a user.")]
        return f"<InstanceRefreshId>{r.id}</InstanceRefreshId>"

    def rollback(self, p):
        with self.lock:
            running = self.active(p.get("AutoScalingGroupName", ""))
            if not running:
                raise AwsError("ActiveInstanceRefreshNotFound", "No in progress or pending Instance Refresh found for Auto Scaling group.")
            r = running[0]
            if not (r.desired or {}).get("LaunchTemplate"):
                raise AwsError("IrreversibleInstanceRefresh", "The instance refresh cannot be rolled back: it has no desired configuration.")
            _, pct, todo, _ = r.state()
            reason = "RollbackInstanceRefresh was called."
            r.rollback_start = now()
            r.override = [("RollbackInProgress", pct, todo, f"The instance refresh is rolling back. {reason}"),
                          ("RollbackSuccessful", pct, todo, f"The instance refresh was rolled back. {reason}")]
        return f"<InstanceRefreshId>{r.id}</InstanceRefreshId>"


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the calls file is the record
            pass

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status, body, content_type="text/xml", extra=()):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _proxy(self, body):
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = state.upstream.netloc
            status, resp_headers, resp_body = state.upstream_call(self.command, self.path, headers, body)
            extra = [(k, v) for k, v in resp_headers if k.lower() not in HOP_BY_HOP | {"content-type"}]
            ctype = next((v for k, v in resp_headers if k.lower() == "content-type"), "text/xml")
            self._send(status, resp_body, ctype, extra)

        def _service(self):
            match = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", self.headers.get("Authorization", ""))
            return match.group(1) if match else "unknown"

        def do_GET(self):
            self._proxy(b"")

        def do_POST(self):
            body = self._body()
            if self.path == "/_standin/settle":
                with state.lock:
                    for r in state.refreshes:
                        while r.status() in ACTIVE:
                            r.advance(state.apply_desired)
                self._send(200, b"ok\n", "text/plain")
                return
            if self.path == "/_standin/next-refresh":
                script = json.loads(body or b"{}").get("script", "success")
                if script not in SCRIPTS:
                    self._send(400, f"unknown script {script}\n".encode(), "text/plain")
                    return
                state.next_script = script
                self._send(200, b"ok\n", "text/plain")
                return
            service = self._service()
            target = self.headers.get("X-Amz-Target", "")
            params = {}
            if target:
                action = target.split(".")[-1]
            else:
                params = parse_query(body.decode("utf-8", "replace"))
                action = params.get("Action", "unknown")
            state.record(service, action)
            if service == "autoscaling" and action in HANDLED:
                self._answer(action, params)
            else:
                self._proxy(body)

        def _answer(self, action, params):
            request_id = str(uuid.uuid4())
            try:
                result = {
                    "StartInstanceRefresh": lambda: state.start(dict(self.headers.items()), params),
                    "DescribeInstanceRefreshes": lambda: state.describe(params),
                    "CancelInstanceRefresh": lambda: state.cancel(params),
                    "RollbackInstanceRefresh": lambda: state.rollback(params),
                }[action]()
            except AwsError as e:
                body = (f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{e.code}</Code>'
                        f"<Message>{escape(e.message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
                self._send(e.status, body.encode(), extra=[("x-amzn-RequestId", request_id)])
                return
            body = (f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{result}</{action}Result>'
                    f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>")
            self._send(200, body.encode(), extra=[("x-amzn-RequestId", request_id)])

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    parser.add_argument("--port-file", required=True, help="where to write the port this server listens on")
    parser.add_argument("--calls", required=True, help="JSON-lines file of every call received")
    args = parser.parse_args()
    state = State(args.upstream, args.calls)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    with open(args.port_file, "w", encoding="utf-8") as f:
        f.write(f"{server.server_address[1]}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
