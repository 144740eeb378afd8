#!/usr/bin/env python3
"""Sandbox conformance against the official Genesys Cloud Python SDK.

Usage: python tests/sdk/conformance.py PATH_TO_SPEECHOPS_BINARY

Starts `speechops sandbox serve` on loopback, authenticates with the SDK's own
client-credentials helper, and drives every route the sandbox serves under
/api/v2/speechandtextanalytics through the SDK's typed SpeechTextAnalyticsApi
methods and request models (PureCloudPlatformClientV2==269.0.0, pinned in
requirements.txt next to this file).

The SDK is lenient: it drops response fields its models do not have, turns unknown
enum values into the string "outdated_sdk_version" and never notices a missing array.
So every response is also checked strictly: ApiClient.deserialize is wrapped and the
raw JSON is walked against the response model's attribute_map / swagger_types
(recursively through lists, dicts and nested models), collecting

  - fields the SDK model does not have,
  - enum values the model's setter does not allow (and case mismatches),
  - nulls (Genesys omits empty values; the SDK's enum setters crash on a null),
  - wrong JSON types, datetimes the SDK cannot parse or not in Genesys's format,
  - fields the contract (SPEC 8.3/8.4) says are always present, in particular arrays
    that must be present even when empty,

plus round-trip, paging and filter assertions. Every problem is collected; they are
printed grouped by route and the exit status is 1 if there is any.

Speech rules (/api/v2/speech/rules, SPEC 8.5) are the origin tutorial's API and are not
in the SDK, so they are not checked here.
"""

import ast
import collections
import importlib.metadata
import inspect
import json
import math
import datetime
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

SDK_VERSION = "269.0.0"
CLIENT_ID = "sdk-conformance"
CLIENT_SECRET = "sdk-conformance-secret"
STA = "/api/v2/speechandtextanalytics"
DEADLINE_SECS = 110  # hard stop: the whole check must stay under 2 minutes

try:
    import urllib3
    import PureCloudPlatformClientV2 as pc
    from PureCloudPlatformClientV2 import models
    from PureCloudPlatformClientV2.rest import ApiException
    from dateutil.parser import isoparse
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"sdk-conformance: cannot import the SDK ({e}); "
             f"pip install -r tests/sdk/requirements.txt")

# Every route the sandbox serves under /api/v2/speechandtextanalytics.
EXPECTED_ROUTES = [
    f"GET {STA}/topics",
    f"POST {STA}/topics",
    f"GET {STA}/topics/{{id}}",
    f"PUT {STA}/topics/{{id}}",
    f"DELETE {STA}/topics/{{id}}",
    f"POST {STA}/topics/publishjobs",
    f"GET {STA}/topics/publishjobs/{{id}}",
    f"GET {STA}/programs",
    f"POST {STA}/programs",
    f"GET {STA}/programs/{{id}}",
    f"PUT {STA}/programs/{{id}}",
    f"DELETE {STA}/programs/{{id}}",
    f"POST {STA}/programs/publishjobs",
    f"GET {STA}/programs/publishjobs/{{id}}",
    f"GET {STA}/programs/topiclinks/jobs/{{id}}",
    f"GET {STA}/programs/mappings",
    f"GET {STA}/programs/{{id}}/mappings",
    f"PUT {STA}/programs/{{id}}/mappings",
    f"GET {STA}/programs/{{id}}/transcriptionengines",
    f"PUT {STA}/programs/{{id}}/transcriptionengines",
    "GET /api/v2/organizations/me",
    f"POST {STA}/topics/testphrase/jobs",
    f"GET {STA}/topics/testphrase/jobs/{{id}}",
    "POST /api/v2/analytics/transcripts/aggregates/query",
    "GET /api/v2/routing/queues",
    "GET /api/v2/flows",
    f"GET {STA}/sentimentfeedback",
    f"POST {STA}/sentimentfeedback",
    f"DELETE {STA}/sentimentfeedback/{{id}}",
    f"GET {STA}/dictionaryfeedback",
    f"POST {STA}/dictionaryfeedback",
    f"GET {STA}/dictionaryfeedback/{{id}}",
    f"PUT {STA}/dictionaryfeedback/{{id}}",
    f"DELETE {STA}/dictionaryfeedback/{{id}}",
    f"GET {STA}/categories",
    f"POST {STA}/categories",
    f"GET {STA}/categories/{{id}}",
    f"PUT {STA}/categories/{{id}}",
    f"DELETE {STA}/categories/{{id}}",
    f"GET {STA}/settings",
    f"PATCH {STA}/settings",
    f"PUT {STA}/settings",
    f"DELETE {STA}/sentimentfeedback",
    "POST /api/v2/audits/query/realtime",
]
# DELETE {STA}/sentimentfeedback (the SDK's delete_speechandtextanalytics_sentimentfeedback)
# deletes every sentiment feedback of the org. speechops never calls it (an integration
# test counts it); the sandbox serves it, checked here last in its section.

# The project's own seed: queues, flows and sample transcripts (SPEC 9).
SEED_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                         "sandbox-seed.yaml")
# Its queue and flow ids: the only ones a program's mappings may name.
SEED_QUEUES = ["q-retention-en", "q-retention-es", "q-care-uk", "q-sales-out"]
SEED_FLOWS = ["f-inbound-main", "f-uk-care"]

# Fields the contract says are always present (SPEC 8.3, 8.4, 9). List-typed ones carry
# the rule "arrays present even when empty". Optional fields (description, nextUri,
# datePublished, ...) are not listed.
REQUIRED = {
    "TopicsEntityListing": ["entities", "pageSize", "total", "pageCount", "selfUri"],
    "ProgramsEntityListing": ["entities", "pageSize", "total", "pageCount", "selfUri"],
    "ListedTopic": ["id", "name", "published", "strictness", "matchingType",
                    "programsCount", "tags", "dialect", "participants", "phrasesCount",
                    "modifiedBy", "dateModified", "selfUri"],
    "Topic": ["id", "name", "published", "strictness", "matchingType", "programs",
              "tags", "dialect", "participants", "phrases", "modifiedBy",
              "dateModified", "selfUri"],
    "Phrase": ["text", "sentiment"],
    "ListedProgram": ["id", "name", "published", "topicsCount", "tags", "modifiedBy",
                      "dateModified", "selfUri"],
    "Program": ["id", "name", "published", "topics", "tags", "modifiedBy",
                "dateModified", "selfUri"],
    "TopicJob": ["id", "state", "topics"],
    "ProgramJob": ["id", "state", "programs"],
    "BaseTopicEntitiy": ["id"],
    "BaseProgramEntity": ["id"],
    "AddressableEntityRef": ["id"],
    "DeleteProgramResponse": ["id"],
    "ErrorBody": ["message", "code", "status"],
    "SentimentFeedbackEntityListing": ["entities"],
    "SentimentFeedback": ["id", "phrase", "dialect", "feedbackValue", "dateCreated",
                          "createdBy"],
    "DictionaryFeedbackEntityListing": ["entities", "pageSize", "total", "pageCount",
                                        "selfUri"],
    "ListedDictionaryFeedback": ["id", "term", "dialect", "boostValue", "dateCreated",
                                 "createdBy", "dateModified", "modifiedBy", "selfUri"],
    "DictionaryFeedback": ["id", "term", "dialect", "boostValue", "dateCreated",
                           "createdBy", "dateModified", "modifiedBy", "examplePhrases",
                           "soundsLike", "selfUri"],
    "DictionaryFeedbackExamplePhrase": ["phrase"],
    "UserReference": ["id"],
    # SPEC 8.6: the SDK's models. CategoriesEntityListing is a numbered SDK listing
    # (pageNumber, and selfUri like every other SDK listing this file checks).
    "CategoriesEntityListing": ["entities", "pageSize", "pageNumber", "total", "pageCount",
                                "selfUri"],
    "StaCategory": ["id", "name", "interactionType", "criteria", "createdBy",
                    "dateCreated", "modifiedBy", "dateModified", "selfUri"],
    "Operand": ["type"],
    "Term": ["word", "participantType"],
    "InfixOperator": ["operatorType"],
    "SpeechTextAnalyticsSettingsResponse": ["expectedDialects", "textAnalyticsEnabled",
                                            "agentEmpathyEnabled"],
    # A program's sub-resources: its queue / flow mappings and transcription engines.
    "TopicsDefinitionsProgramMappings": ["program", "queues", "flows", "modifiedBy",
                                         "dateModified"],
    "ProgramTranscriptionEngines": ["id", "program", "transcriptionEngines", "modifiedBy",
                                    "dateModified", "selfUri"],
    "ProgramTranscriptionEngine": ["dialects"],
    "EngineIntegration": ["id"],
}

# Genesys datetimes: ISO-8601 UTC, e.g. 2024-01-31T12:00:00.000Z.
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
OUTDATED = "outdated_sdk_version"


# ----------------------------------------------------------------------------------
# Problem collection


def route_of(method, url):
    """`GET /api/v2/speechandtextanalytics/topics/{id}` for a concrete request."""
    path = urllib.parse.urlsplit(url).path
    segs = path.split("/")
    if path.startswith(STA + "/"):
        base = len(STA.split("/"))
        segs = [s if i <= base or s in ("topics", "programs", "publishjobs", "testphrase", "jobs",
                                        "topiclinks",
                                        "mappings", "transcriptionengines")
                else "{id}"
                for i, s in enumerate(segs)]
    return f"{method} {'/'.join(segs)}"


class Recorder:
    def __init__(self):
        self.problems = collections.OrderedDict()  # route -> OrderedDict(msg -> count)
        self.routes = set()
        self.checked = 0
        self.last_route = "(no request yet)"

    def problem(self, route, msg):
        per_route = self.problems.setdefault(route, collections.OrderedDict())
        per_route[msg] = per_route.get(msg, 0) + 1

    def expect(self, route, cond, msg):
        if not cond:
            self.problem(route, msg)
        return bool(cond)

    def total(self):
        return sum(len(v) for v in self.problems.values())


REC = Recorder()


# ----------------------------------------------------------------------------------
# Strict walk of raw JSON against the SDK's models

_MODEL_INFO = {}


def enum_values(klass, attr):
    """The setter's `allowed_values`, or None if the attribute is no enum."""
    prop = getattr(klass, attr, None)
    if not isinstance(prop, property) or prop.fset is None:
        return None
    m = re.search(r"allowed_values = (\[.*?\])", inspect.getsource(prop.fset), re.S)
    return ast.literal_eval(m.group(1)) if m else None


def model_info(name):
    """json key -> (python attr, swagger type, allowed enum values or None)."""
    if name not in _MODEL_INFO:
        klass = getattr(models, name)
        inst = klass()
        _MODEL_INFO[name] = (klass, {
            inst.attribute_map[attr]: (attr, typ, enum_values(klass, attr))
            for attr, typ in inst.swagger_types.items()
        })
    return _MODEL_INFO[name]


def jtype(v):
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            int: "integer", float: "number", type(None): "null"}.get(type(v), type(v).__name__)


def walk(route, v, typ, path):
    """Checks raw JSON value `v` against swagger type `typ`."""
    bad = lambda msg: REC.problem(route, f"{path}: {msg}")  # noqa: E731
    m = re.fullmatch(r"list\[(.*)\]", typ)
    if m:
        if not isinstance(v, list):
            return bad(f"expected an array ({typ}), got {jtype(v)}")
        for x in v:
            if x is None:
                bad("null array element")
            else:
                walk(route, x, m.group(1), path + "[]")
        return
    m = re.fullmatch(r"dict\(([^,]*), (.*)\)", typ)
    if m:
        if not isinstance(v, dict):
            return bad(f"expected an object ({typ}), got {jtype(v)}")
        for x in v.values():
            walk(route, x, m.group(2), path + "{}")
        return
    if typ == "int":
        if not isinstance(v, int) or isinstance(v, bool):
            bad(f"expected an integer, got {jtype(v)} {v!r}")
        return
    if typ == "float":
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            bad(f"expected a number, got {jtype(v)} {v!r}")
        return
    if typ == "bool":
        if not isinstance(v, bool):
            bad(f"expected a boolean, got {jtype(v)} {v!r}")
        return
    if typ in ("str", "LocalDateTime", "YearMonth"):
        if not isinstance(v, str):
            bad(f"expected a string, got {jtype(v)} {v!r}")
        return
    if typ in ("datetime", "date"):
        if not isinstance(v, str):
            return bad(f"expected a {typ} string, got {jtype(v)} {v!r}")
        try:
            isoparse(v)
        except (ValueError, OverflowError):
            return bad(f"{typ} {v!r} is not ISO-8601 (the SDK's isoparse rejects it)")
        if not (DATETIME_RE if typ == "datetime" else DATE_RE).match(v):
            bad(f"{typ} {v!r} is not in Genesys's format "
                f"{'yyyy-MM-ddTHH:mm:ss.SSSZ' if typ == 'datetime' else 'yyyy-MM-dd'}")
        return
    if typ == "object":
        return
    if not hasattr(models, typ):
        return bad(f"the SDK has no model {typ} (checker bug)")
    if not isinstance(v, dict):
        return bad(f"expected an object ({typ}), got {jtype(v)}")
    klass, info = model_info(typ)
    for key in v:
        if key not in info:
            REC.problem(route, f"{path}.{key}: field not in SDK model {typ} "
                               f"(the SDK drops it silently)")
    for key, (attr, sub, allowed) in info.items():
        here = f"{path}.{key}"
        if key not in v:
            if key in REQUIRED.get(typ, ()):
                if sub.startswith("list["):
                    REC.problem(route, f"{here}: missing array ({typ}.{key}); the contract "
                                       f"wants arrays present even when empty")
                else:
                    REC.problem(route, f"{here}: missing field ({typ}.{key})")
            continue
        x = v[key]
        if x is None:
            if sub.startswith("list["):
                REC.problem(route, f"{here}: null array; the contract wants [] "
                                   f"(arrays present even when empty)")
            elif allowed is not None:
                REC.problem(route, f"{here}: null enum; Genesys omits empty values and "
                                   f"the SDK's {typ}.{attr} setter crashes on None")
            else:
                REC.problem(route, f"{here}: null; Genesys omits empty values")
            continue
        if allowed is not None and isinstance(x, str):
            probe = klass()
            try:
                setattr(probe, attr, x)
                got = getattr(probe, attr)
            except Exception as e:  # the SDK's setter itself failed
                got = f"<setter raised {e!r}>"
            if got != x:
                REC.problem(route, f"{here}: enum value {x!r} is not one of "
                                   f"{allowed} (the SDK turns it into {got!r})")
            elif x not in allowed:
                REC.problem(route, f"{here}: enum value {x!r} differs in case from "
                                   f"{allowed} (the SDK accepts it case-insensitively)")
            continue
        walk(route, x, sub, here)


def count_outdated(obj):
    """Number of 'outdated_sdk_version' values in a deserialized SDK object."""
    if isinstance(obj, list):
        return sum(count_outdated(x) for x in obj)
    if isinstance(obj, dict):
        return sum(count_outdated(x) for x in obj.values())
    if hasattr(obj, "swagger_types"):
        return sum(count_outdated(getattr(obj, a)) for a in obj.swagger_types)
    return 1 if obj == OUTDATED else 0


def check_error_body(route, exc, expect_status=None):
    """Walks an error response against the SDK's ErrorBody model."""
    REC.checked += 1
    try:
        body = json.loads(exc.body) if exc.body else None
    except ValueError:
        REC.problem(route, f"{exc.status} error body is not JSON: {exc.body[:80]!r}")
        return None
    if not isinstance(body, dict):
        REC.problem(route, f"{exc.status} error body is not a JSON object (ErrorBody)")
        return None
    walk(route, body, "ErrorBody", f"ErrorBody({exc.status})")
    if body.get("status") != exc.status:
        REC.problem(route, f"ErrorBody.status {body.get('status')!r} differs from the HTTP "
                           f"status {exc.status}")
    if expect_status is not None and exc.status != expect_status:
        REC.problem(route, f"expected HTTP {expect_status}, got {exc.status} "
                           f"({body.get('code')}: {body.get('message')})")
    return body


# ----------------------------------------------------------------------------------
# The sandbox process


class Sandbox:
    def __init__(self, binary, rate_limit):
        self.workdir = tempfile.mkdtemp(prefix="sdk-conformance-")
        self.stderr = open(os.path.join(self.workdir, "stderr.log"), "w+b")
        self.proc = subprocess.Popen(
            [binary, "sandbox", "serve", "--listen", "127.0.0.1:0",
             "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
             "--rate-limit", str(rate_limit), "--seed-file", SEED_FILE],
            cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self.stderr)
        try:
            self._await_address()
        except BaseException:  # also SIGTERM / Ctrl-C while starting: never leak it
            self.stop()
            raise

    def _await_address(self):
        first = []
        reader = threading.Thread(target=lambda: first.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(20)
        line = first[0].decode("utf-8", "replace").strip() if first else ""
        m = re.fullmatch(r"listening on (http://\S+)", line)
        if not m:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait(5)
            self.stderr.seek(0)
            log = self.stderr.read()
            raise RuntimeError(f"sandbox did not start (first stdout line {line!r}); "
                               f"stderr:\n{log.decode('utf-8', 'replace')}")
        self.url = m.group(1).rstrip("/")
        # Keep draining stdout so the sandbox never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        if self.stderr.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.stderr.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


# ----------------------------------------------------------------------------------
# The SDK client


def sdk_client(base_url):
    """An ApiClient aimed at the sandbox, retries off, hooks installed, token set."""
    client = pc.ApiClient(host=base_url)
    http = client.get_http_client()  # DefaultHttpClient -> RESTClientObject (rest.py)
    # The SDK (rest.py) builds its urllib3 PoolManager with a default
    # `urllib3.util.Retry()`: 10 retries, honouring Retry-After on 429/503/413 (and
    # retrying connection errors), with no SDK configuration knob. Replace the pool
    # manager with one that never retries, so a 429 surfaces at once as ApiException,
    # and give it timeouts (the SDK sets none).
    http.rest_client.pool_manager = urllib3.PoolManager(
        num_pools=4, maxsize=4, block=True,
        retries=urllib3.util.Retry(total=0, connect=0, read=0, redirect=0, status=0,
                                   other=0, respect_retry_after_header=False,
                                   raise_on_status=False, raise_on_redirect=False),
        timeout=urllib3.Timeout(connect=5, read=30))

    def pre_hook(options):
        route = route_of(options.method, options.url)
        REC.last_route = route
        if route.split(" ", 1)[1].startswith("/api/v2/"):
            REC.routes.add(route)
        return options

    http.set_pre_request_hook(pre_hook)

    original = client.deserialize

    def deserialize(response, response_type):
        route = REC.last_route
        REC.checked += 1
        raw = response.data if isinstance(response.data, str) else response.data.decode()
        data = None
        if not raw.strip():
            REC.problem(route, f"HTTP {response.status} with an empty body; the SDK "
                               f"declares a {response_type} response")
        else:
            ctype = response.getheader("Content-Type") or ""
            if not ctype.startswith("application/json"):
                REC.problem(route, f"Content-Type {ctype!r}, not application/json")
            try:
                data = json.loads(raw)
            except ValueError:
                REC.problem(route, f"response body is not JSON: {raw[:80]!r}")
            else:
                walk(route, data, response_type, response_type)
        try:
            obj = original(response, response_type)
        except Exception as e:  # e.g. a null enum: the SDK's setter calls None.lower()
            REC.problem(route, f"the SDK failed to deserialize {response_type}: {e!r}")
            return None  # the typed method returns None; the checks carry on
        if data is not None:
            before = sum(1 for m in REC.problems.get(route, {}) if "the SDK turns it" in m)
            if count_outdated(obj) and not before:
                REC.problem(route, f"the SDK deserialized an enum as {OUTDATED!r}")
        return obj

    client.deserialize = deserialize
    # The SDK's own client-credentials helper: it posts to
    # get_conf_url("login", host) + "/oauth/token", i.e. the same host when the host
    # does not start with "api.".
    client.get_client_credentials_token(CLIENT_ID, CLIENT_SECRET)
    return client


def call(fn, *args, expect_status=None, **kwargs):
    """Calls an SDK method; on ApiException records it (unless expected) and returns None.

    With expect_status, returns the parsed error body when the call failed with it and
    records a problem when it succeeded.
    """
    try:
        result = fn(*args, **kwargs)
    except ApiException as e:
        route = REC.last_route
        if expect_status is not None:
            return check_error_body(route, e, expect_status) or {}
        body = check_error_body(route, e) or {}
        REC.problem(route, f"unexpected HTTP {e.status} {body.get('code')}: "
                           f"{body.get('message')}")
        return None
    if expect_status is not None:
        REC.problem(REC.last_route, f"expected HTTP {expect_status}, the call succeeded")
        return None
    return result


def mk(klass, **attrs):
    obj = klass()
    for k, v in attrs.items():
        setattr(obj, k, v)
    return obj


def call_status(ctx, route, status, fn, *args, **kwargs):
    """`call`, plus the HTTP status of a success (201 on create, 204 on delete, ...);
    a 204 must have an empty body. Returns the deserialized result."""
    ctx.client.last_response = None
    result = call(fn, *args, **kwargs)
    resp = ctx.client.last_response
    if resp is not None:  # None: the call failed, already recorded
        REC.expect(route, resp.status == status,
                   f"answered HTTP {resp.status}, expected {status}")
        if status == 204:
            REC.expect(route, not (resp.data or b"").strip(),
                       f"a 204 with a body: {resp.data[:80]!r}")
    return result


def names_field(err, field):
    """Whether an ErrorBody names `field` in its message or a detail's fieldName."""
    return field in (err.get("message") or "") or any(
        field in (d.get("fieldName") or "") for d in err.get("details") or []
        if isinstance(d, dict))


def expect_400_naming(route, err, field, what):
    """`err` from call(..., expect_status=400): the 400 must name `field`."""
    if err and err.get("status") == 400:
        REC.expect(route, names_field(err, field),
                   f"the 400 for {what} does not name {field!r}: {err.get('message')!r}")


def next_uri_kwargs(route, uri, allowed):
    """SDK keyword arguments for following a listing's `nextUri`.

    The SDK has no "follow nextUri" helper: parse the URI's query and pass its
    parameters back to the typed list method (nextPage -> next_page, ...). The SDK
    URL-encodes query values itself (urllib3 urlencode), so a '+' in a cursor survives.
    """
    parts = urllib.parse.urlsplit(uri)
    REC.expect(route, not parts.scheme and not parts.netloc,
               f"nextUri {uri!r} is not a relative path + query")
    REC.expect(route, parts.path == route.split(" ", 1)[1],
               f"nextUri path {parts.path!r} is not the listing's path")
    kwargs = {}
    names = {"pageSize": "page_size", "pageNumber": "page_number", "nextPage": "next_page",
             "sortBy": "sort_by", "sortOrder": "sort_order", "name": "name",
             "state": "state", "ids": "ids", "dialects": "dialects", "dialect": "dialect",
             "transcriptionEngine": "transcription_engine"}
    for k, vs in urllib.parse.parse_qs(parts.query, keep_blank_values=True).items():
        if k not in names or names[k] not in allowed:
            REC.problem(route, f"nextUri carries {k!r}, which the SDK method cannot send")
            continue
        v = vs[-1]
        if k in ("ids", "dialects"):
            v = [x for x in v.split(",") if x]
        elif k in ("pageSize", "pageNumber"):
            v = int(v)
        kwargs[names[k]] = v
    return kwargs


# ----------------------------------------------------------------------------------
# The checks

R_TOPICS = f"GET {STA}/topics"
R_TOPIC_POST = f"POST {STA}/topics"
R_TOPIC = f"GET {STA}/topics/{{id}}"
R_TOPIC_PUT = f"PUT {STA}/topics/{{id}}"
R_TOPIC_DELETE = f"DELETE {STA}/topics/{{id}}"
R_TOPIC_JOB_POST = f"POST {STA}/topics/publishjobs"
R_TOPIC_JOB = f"GET {STA}/topics/publishjobs/{{id}}"
R_PROGRAMS = f"GET {STA}/programs"
R_PROGRAM_POST = f"POST {STA}/programs"
R_PROGRAM = f"GET {STA}/programs/{{id}}"
R_PROGRAM_PUT = f"PUT {STA}/programs/{{id}}"
R_PROGRAM_DELETE = f"DELETE {STA}/programs/{{id}}"
R_PROGRAM_JOB_POST = f"POST {STA}/programs/publishjobs"
R_PROGRAM_JOB = f"GET {STA}/programs/publishjobs/{{id}}"
R_LINKS_JOB = f"GET {STA}/programs/topiclinks/jobs/{{id}}"
R_MAPPINGS = f"GET {STA}/programs/{{id}}/mappings"
R_MAPPINGS_PUT = f"PUT {STA}/programs/{{id}}/mappings"
R_ENGINES = f"GET {STA}/programs/{{id}}/transcriptionengines"
R_ENGINES_PUT = f"PUT {STA}/programs/{{id}}/transcriptionengines"

TOPIC_LIST_ARGS = ["next_page", "page_size", "page_number", "state", "name", "ids",
                   "dialects", "sort_by", "sort_order"]
PROGRAM_LIST_ARGS = ["next_page", "page_size", "state", "name", "ids", "sort_by",
                     "sort_order"]
R_SENTIMENTS = f"GET {STA}/sentimentfeedback"
R_SENTIMENT_POST = f"POST {STA}/sentimentfeedback"
R_SENTIMENT_DELETE = f"DELETE {STA}/sentimentfeedback/{{id}}"
R_DICTIONARY = f"GET {STA}/dictionaryfeedback"
R_DICTIONARY_POST = f"POST {STA}/dictionaryfeedback"
R_DICTIONARY_ONE = f"GET {STA}/dictionaryfeedback/{{id}}"
R_DICTIONARY_PUT = f"PUT {STA}/dictionaryfeedback/{{id}}"
R_DICTIONARY_DELETE = f"DELETE {STA}/dictionaryfeedback/{{id}}"
DICTIONARY_LIST_ARGS = ["dialect", "transcription_engine", "next_page", "page_size"]
R_CATEGORIES = f"GET {STA}/categories"
R_CATEGORY_POST = f"POST {STA}/categories"
R_CATEGORY = f"GET {STA}/categories/{{id}}"
R_CATEGORY_PUT = f"PUT {STA}/categories/{{id}}"
R_CATEGORY_DELETE = f"DELETE {STA}/categories/{{id}}"
CATEGORY_LIST_ARGS = ["page_size", "page_number", "name", "sort_order", "sort_by", "ids"]
R_SETTINGS = f"GET {STA}/settings"
R_SETTINGS_PATCH = f"PATCH {STA}/settings"
R_SETTINGS_PUT = f"PUT {STA}/settings"


class Ctx:
    def __init__(self, client):
        self.client = client
        self.api = pc.SpeechTextAnalyticsApi(client)
        self.topics = {}    # name -> Topic
        self.programs = {}  # name -> Program
        self.sentiments = {}   # (dialect, phrase) -> SentimentFeedback
        self.dictionary = {}   # (dialect, term) -> DictionaryFeedback
        self.categories = {}   # name -> StaCategory


def check_topic_echo(route, got, req):
    """The Topic returned by POST/PUT/GET carries what the TopicRequest set."""
    if got is None:
        return
    for attr in ("name", "description", "strictness", "matching_type", "dialect",
                 "participants"):
        sent = getattr(req, attr)
        back = getattr(got, attr)
        if sent is not None and back != OUTDATED:  # OUTDATED: reported by the walk
            REC.expect(route, back == sent,
                       f"Topic.{attr}: sent {sent!r}, got {back!r}")
    if req.tags is not None:
        REC.expect(route, sorted(got.tags or []) == sorted(req.tags),
                   f"Topic.tags: sent {req.tags!r}, got {got.tags!r}")
    if req.program_ids is not None:
        back = sorted(p.id for p in (got.programs or []))
        REC.expect(route, back == sorted(req.program_ids),
                   f"Topic.programs: sent programIds {req.program_ids!r}, got {back!r}")
    for p in got.programs or []:
        REC.expect(route, p.name and p.self_uri,
                   "Topic.programs[] lacks name or selfUri ({id, name, selfUri})")
    sent_phrases = {p.text: p for p in req.phrases or []}
    back_phrases = {p.text: p for p in got.phrases or []}
    REC.expect(route, sorted(sent_phrases) == sorted(back_phrases),
               f"Topic.phrases: sent {sorted(sent_phrases)}, got {sorted(back_phrases)}")
    for text, sp in sent_phrases.items():
        bp = back_phrases.get(text)
        if bp is None:
            continue
        for attr in ("strictness", "sentiment", "is_ai_generated"):
            sent = getattr(sp, attr)
            back = getattr(bp, attr)
            if sent is not None and back != OUTDATED:
                REC.expect(route, back == sent,
                           f"Phrase.{attr}: sent {sent!r}, got {back!r}")


def check_program_echo(route, got, req):
    if got is None:
        return
    for attr in ("name", "description"):
        sent = getattr(req, attr)
        if sent is not None:
            REC.expect(route, getattr(got, attr) == sent,
                       f"Program.{attr}: sent {sent!r}, got {getattr(got, attr)!r}")
    if req.tags is not None:
        REC.expect(route, sorted(got.tags or []) == sorted(req.tags),
                   f"Program.tags: sent {req.tags!r}, got {got.tags!r}")
    if req.topic_ids is not None:
        back = sorted(t.id for t in (got.topics or []))
        REC.expect(route, back == sorted(req.topic_ids),
                   f"Program.topics: sent topicIds {req.topic_ids!r}, got {back!r}")
    for t in got.topics or []:
        REC.expect(route, t.name and t.self_uri,
                   "Program.topics[] lacks name or selfUri ({id, name, selfUri})")


def create_topic(ctx, req):
    got = call(ctx.api.post_speechandtextanalytics_topics, req)
    check_topic_echo(R_TOPIC_POST, got, req)
    if got is not None:
        ctx.topics[req.name] = got
    return got


def create_program(ctx, req):
    got = call(ctx.api.post_speechandtextanalytics_programs, req)
    check_program_echo(R_PROGRAM_POST, got, req)
    if got is not None:
        ctx.programs[req.name] = got
    return got


def list_all_topics(ctx, page_size, **filters):
    """Follows nextUri from page 1; returns (pages, entities)."""
    pages, entities = [], []
    kwargs = dict(page_size=page_size, page_number=1, **filters)
    for _ in range(50):
        page = call(ctx.api.get_speechandtextanalytics_topics, **kwargs)
        if page is None:
            break
        pages.append(page)
        entities += page.entities or []
        if not page.next_uri:
            break
        kwargs = next_uri_kwargs(R_TOPICS, page.next_uri, TOPIC_LIST_ARGS)
    return pages, entities


def list_by_cursor(fn, route, allowed, page_size, **filters):
    """Cursor paging: follows nextUri (its nextPage) until it is absent; returns
    (pages, entities)."""
    pages, entities = [], []
    kwargs = dict(page_size=page_size, **filters)
    for _ in range(50):
        page = call(fn, **kwargs)
        if page is None:
            break
        pages.append(page)
        entities += page.entities or []
        if not page.next_uri:
            break
        kwargs = next_uri_kwargs(route, page.next_uri, allowed)
        REC.expect(route, "next_page" in kwargs,
                   f"nextUri {page.next_uri!r} carries no nextPage cursor")
        REC.expect(route, kwargs.get("page_size") == page_size,
                   f"nextUri {page.next_uri!r} does not keep pageSize={page_size}")
        for k, v in filters.items():
            REC.expect(route, kwargs.get(k) == v,
                       f"nextUri {page.next_uri!r} does not keep the filter {k}={v!r}")
    return pages, entities


def list_all_programs(ctx, page_size, **filters):
    return list_by_cursor(ctx.api.get_speechandtextanalytics_programs, R_PROGRAMS,
                          PROGRAM_LIST_ARGS, page_size, **filters)


def poll_job(ctx, fn, route, job_id):
    """GETs a publish job until Completed; returns the last job."""
    job = None
    for _ in range(40):
        job = call(fn, job_id)
        if job is None or job.state in ("Completed", "Failed", OUTDATED):
            break
        time.sleep(0.05)
    if job is not None:
        REC.expect(route, job.state == "Completed",
                   f"publish job ended in state {job.state!r}, not Completed")
    return job


def names_of(entities):
    return sorted(e.name for e in entities)


def sec_topics(ctx):
    api = ctx.api
    member = create_program(ctx, mk(models.ProgramRequest, name="SDK member program",
                                    description="holds topics through programIds",
                                    topic_ids=[], tags=["sdk", "member"]))
    member_ids = [member.id] if member else []

    # Every TopicRequest and Phrase field.
    full_req = mk(
        models.TopicRequest, name="SDK full topic", description="every TopicRequest field",
        strictness="85", program_ids=member_ids, matching_type="Semantic",
        tags=["sdk", "full"], dialect="en-US", participants="External",
        phrases=[
            mk(models.Phrase, text="i want to cancel my subscription", strictness="90",
               sentiment="Negative", is_ai_generated=True),
            mk(models.Phrase, text="thank you for your help", strictness="55",
               sentiment="Positive", is_ai_generated=False),
            mk(models.Phrase, text="let me check that", sentiment="Neutral",
               is_ai_generated=False),
        ])
    full = create_topic(ctx, full_req)
    # Only the required fields: the response must still carry tags [] and programs [].
    minimal_req = mk(models.TopicRequest, name="SDK minimal topic", dialect="en-US",
                     phrases=[mk(models.Phrase, text="minimal phrase")])
    minimal = create_topic(ctx, minimal_req)
    others = [
        ("Billing dispute", "es-US", "Lexical", ["billing"]),
        ("billing address change", "en-GB", "Lexical", []),
        ("Greeting", "fr-FR", "Lexical", ["greeting"]),
        ("Churn risk", "de-DE", "Semantic", ["churn"]),
        ("Zeta topic", "en-US", "Lexical", []),
        ("Alpha topic", "en-US", "Semantic", ["alpha"]),
        ("SDK doomed topic", "en-US", "Lexical", []),
    ]
    for name, dialect, matching, tags in others:
        create_topic(ctx, mk(models.TopicRequest, name=name, dialect=dialect,
                             matching_type=matching, tags=tags, strictness="72",
                             participants="All", description=f"{name} ({dialect})",
                             phrases=[mk(models.Phrase, text=f"{name.lower()} phrase",
                                         sentiment="Unspecified",
                                         is_ai_generated=False)]))
    all_names = sorted(ctx.topics)

    # GET by id.
    for req, created in ((full_req, full), (minimal_req, minimal)):
        if created is not None:
            got = call(api.get_speechandtextanalytics_topic, created.id)
            check_topic_echo(R_TOPIC, got, req)
    if member is not None and full is not None:
        prog = call(api.get_speechandtextanalytics_program, member.id)
        if prog is not None:
            REC.expect(R_PROGRAM, full.id in [t.id for t in prog.topics or []],
                       "a topic written with programIds is not in the program's topics")

    # Paging by number, following nextUri.
    pages, entities = list_all_topics(ctx, 3)
    REC.expect(R_TOPICS, names_of(entities) == all_names,
               f"paging pageSize=3 via nextUri listed {names_of(entities)}, "
               f"expected {all_names}")
    if pages:
        total = len(all_names)
        REC.expect(R_TOPICS, pages[0].total in (None, total),
                   f"total {pages[0].total!r}, expected {total}")
        REC.expect(R_TOPICS, pages[0].page_count in (None, math.ceil(total / 3)),
                   f"pageCount {pages[0].page_count!r}, expected {math.ceil(total / 3)}")
        REC.expect(R_TOPICS, len(pages) == math.ceil(total / 3),
                   f"nextUri led through {len(pages)} pages, expected {math.ceil(total / 3)}")
        REC.expect(R_TOPICS, all(p.page_size == 3 for p in pages), "pageSize not echoed")
        second = call(api.get_speechandtextanalytics_topics, page_size=3, page_number=2)
        if second is not None and len(pages) > 1:
            REC.expect(R_TOPICS, [e.id for e in second.entities or []]
                       == [e.id for e in pages[1].entities or []],
                       "pageNumber=2 differs from the page nextUri led to")
    listed = {e.name: e for e in entities}
    if "SDK full topic" in listed:
        e = listed["SDK full topic"]
        REC.expect(R_TOPICS, e.phrases_count in (None, 3),
                   f"phrasesCount {e.phrases_count!r}, expected 3")
        REC.expect(R_TOPICS, e.programs_count in (None, len(member_ids)),
                   f"programsCount {e.programs_count!r}, expected {len(member_ids)}")

    # Filters.
    def filtered(expected, **filters):
        page = call(api.get_speechandtextanalytics_topics, page_size=25, page_number=1,
                    **filters)
        if page is not None and expected is not None:
            REC.expect(R_TOPICS, names_of(page.entities or []) == sorted(expected),
                       f"filter {filters} listed {names_of(page.entities or [])}, "
                       f"expected {sorted(expected)}")
        return page

    filtered(["Billing dispute", "billing address change"], name="BILLING")
    filtered(["Billing dispute", "Greeting"], dialects=["es-US", "fr-FR"])
    if full is not None and minimal is not None:
        filtered(["SDK full topic", "SDK minimal topic"], ids=[full.id, minimal.id])
    filtered(all_names, state="latest")
    page = filtered(all_names, sort_by="name", sort_order="desc")
    if page is not None:
        got = [e.name for e in page.entities or []]
        REC.expect(R_TOPICS, got in (sorted(got, reverse=True),
                                     sorted(got, key=str.lower, reverse=True)),
                   f"sortBy=name sortOrder=desc is not descending: {got}")
    page = filtered(all_names, sort_by="matchingType", sort_order="asc")
    if page is not None:
        # Missing or unknown values are reported by the walk; order the rest.
        got = [e.matching_type for e in page.entities or []
               if e.matching_type in ("Lexical", "Semantic")]
        REC.expect(R_TOPICS, got == sorted(got),
                   f"sortBy=matchingType sortOrder=asc is not ascending: {got}")

    # Publish job.
    published = [t for t in (full, ctx.topics.get("Billing dispute")) if t is not None]
    job = call(api.post_speechandtextanalytics_topics_publishjobs,
               mk(models.TopicJobRequest, topic_ids=[t.id for t in published]))
    if job is not None:
        REC.expect(R_TOPIC_JOB_POST, sorted(t.id for t in job.topics or [])
                   == sorted(t.id for t in published),
                   "TopicJob.topics does not list the topics of the request")
        poll_job(ctx, api.get_speechandtextanalytics_topics_publishjob, R_TOPIC_JOB, job.id)
        filtered([t.name for t in published], state="published")
        if full is not None:
            got = call(api.get_speechandtextanalytics_topic, full.id)
            if got is not None:
                REC.expect(R_TOPIC, got.published is True,
                           "a topic is not published after its publish job Completed")
                REC.expect(R_TOPIC, got.date_published and got.published_by,
                           "a published topic lacks datePublished or publishedBy")

    # PUT with every field: membership moves from the full topic to the minimal one.
    if full is not None:
        put_req = mk(models.TopicRequest, name="SDK full topic", description="updated",
                     strictness="65", program_ids=[], matching_type="Lexical", tags=[],
                     dialect="en-US", participants="Internal",
                     phrases=[mk(models.Phrase, text="i want to cancel", strictness="1",
                                 sentiment="Negative", is_ai_generated=False),
                              mk(models.Phrase, text="generated phrase", strictness="72",
                                 sentiment="Unspecified", is_ai_generated=True)])
        got = call(api.put_speechandtextanalytics_topic, full.id, put_req)
        check_topic_echo(R_TOPIC_PUT, got, put_req)
    if minimal is not None:
        put_req = mk(models.TopicRequest, name="SDK minimal topic", description="now held",
                     strictness="72", program_ids=member_ids, matching_type="Semantic",
                     tags=["held"], dialect="en-US", participants="All",
                     phrases=[mk(models.Phrase, text="minimal phrase", strictness="55",
                                 sentiment="Neutral", is_ai_generated=False)])
        got = call(api.put_speechandtextanalytics_topic, minimal.id, put_req)
        check_topic_echo(R_TOPIC_PUT, got, put_req)

    # DELETE: 204, then 404; a topic a program still holds is a 409.
    doomed = ctx.topics.pop("SDK doomed topic", None)
    if doomed is not None:
        call(api.delete_speechandtextanalytics_topic, doomed.id)
        call(api.get_speechandtextanalytics_topic, doomed.id, expect_status=404)
    if minimal is not None and member_ids:
        call(api.delete_speechandtextanalytics_topic, minimal.id, expect_status=409)


def sec_programs(ctx):
    api = ctx.api
    t = ctx.topics
    ids = lambda *names: [t[n].id for n in names if n in t]  # noqa: E731
    full_req = mk(models.ProgramRequest, name="SDK full program",
                  description="every ProgramRequest field",
                  topic_ids=ids("Billing dispute", "Greeting"), tags=["sdk", "full"])
    full = create_program(ctx, full_req)
    minimal = create_program(ctx, mk(models.ProgramRequest, name="SDK minimal program"))
    for i in range(45):
        create_program(ctx, mk(models.ProgramRequest, name=f"SDK paging program {i:02d}",
                               description=f"page filler {i}",
                               topic_ids=ids("Zeta topic") if i % 7 == 0 else [],
                               tags=[f"group{i % 3}"] if i % 5 == 0 else []))

    # Cursor paging: pageSize 20, follow nextUri (its nextPage) until it is absent.
    pages, entities = list_all_programs(ctx, 20)
    listed_ids = [e.id for e in entities]
    created = {p.id for p in ctx.programs.values()}
    REC.expect(R_PROGRAMS, len(listed_ids) == len(set(listed_ids)),
               "cursor paging listed a program twice")
    REC.expect(R_PROGRAMS, created <= set(listed_ids),
               f"following nextUri at pageSize 20 reached {len(created & set(listed_ids))} "
               f"of {len(created)} created programs in {len(pages)} page(s)")
    if pages:
        n = len(set(listed_ids))
        if created <= set(listed_ids):
            REC.expect(R_PROGRAMS, len(pages) == math.ceil(n / 20),
                       f"nextUri led through {len(pages)} pages for {n} programs "
                       f"at pageSize 20")
        REC.expect(R_PROGRAMS, pages[0].total in (None, n),
                   f"total {pages[0].total!r}, expected {n}")
        REC.expect(R_PROGRAMS, pages[0].page_count in (None, math.ceil(n / 20)),
                   f"pageCount {pages[0].page_count!r}, expected {math.ceil(n / 20)}")
        REC.expect(R_PROGRAMS, all(p.page_size == 20 for p in pages), "pageSize not echoed")
    listed = {e.name: e for e in entities}
    if "SDK full program" in listed:
        e = listed["SDK full program"]
        REC.expect(R_PROGRAMS, e.topics_count in (None, len(full_req.topic_ids)),
                   f"ListedProgram.topicsCount {e.topics_count!r}, "
                   f"expected {len(full_req.topic_ids)}")

    # The filters SPEC 8.4 and the SDK have.
    def filtered(expected, **filters):
        page = call(api.get_speechandtextanalytics_programs, page_size=100, **filters)
        if page is not None and expected is not None:
            REC.expect(R_PROGRAMS, names_of(page.entities or []) == sorted(expected),
                       f"filter {filters} listed {len(page.entities or [])} programs, "
                       f"expected {len(expected)}")
        return page

    filtered([f"SDK paging program {i:02d}" for i in range(10)], name="paging PROGRAM 0")
    if full is not None and minimal is not None:
        filtered(["SDK full program", "SDK minimal program"], ids=[full.id, minimal.id])
    filtered(None, state="latest")
    page = filtered(None, sort_by="name", sort_order="desc")
    if page is not None:
        got = [e.name for e in page.entities or []]
        REC.expect(R_PROGRAMS, got in (sorted(got, reverse=True),
                                       sorted(got, key=str.lower, reverse=True)),
                   "sortBy=name sortOrder=desc is not descending")

    # GET, PUT.
    if full is not None:
        check_program_echo(R_PROGRAM, call(api.get_speechandtextanalytics_program, full.id),
                           full_req)
    if minimal is not None:
        put_req = mk(models.ProgramRequest, name="SDK minimal program",
                     description="now with topics", topic_ids=ids("Zeta topic", "Alpha topic"),
                     tags=["updated"])
        check_program_echo(R_PROGRAM_PUT,
                           call(api.put_speechandtextanalytics_program, minimal.id, put_req),
                           put_req)
        check_program_echo(R_PROGRAM, call(api.get_speechandtextanalytics_program, minimal.id),
                           put_req)
        put_req = mk(models.ProgramRequest, name="SDK minimal program", topic_ids=[], tags=[])
        check_program_echo(R_PROGRAM_PUT,
                           call(api.put_speechandtextanalytics_program, minimal.id, put_req),
                           put_req)

    # Publish job.
    if full is not None:
        job = call(api.post_speechandtextanalytics_programs_publishjobs,
                   mk(models.ProgramJobRequest, program_ids=[full.id]))
        if job is not None:
            REC.expect(R_PROGRAM_JOB_POST, [p.id for p in job.programs or []] == [full.id],
                       "ProgramJob.programs does not list the programs of the request")
            poll_job(ctx, api.get_speechandtextanalytics_programs_publishjob, R_PROGRAM_JOB,
                     job.id)
            got = call(api.get_speechandtextanalytics_program, full.id)
            if got is not None:
                REC.expect(R_PROGRAM, got.published is True,
                           "a program is not published after its publish job Completed")
                REC.expect(R_PROGRAM, got.date_published and got.published_by,
                           "a published program lacks datePublished or publishedBy")

    # DELETE with and without forceDelete, then 404.
    for name, force in (("SDK paging program 44", True), ("SDK paging program 43", None)):
        p = ctx.programs.pop(name, None)
        if p is None:
            continue
        kwargs = {"force_delete": True} if force else {}
        got = call(api.delete_speechandtextanalytics_program, p.id, **kwargs)
        if got is not None and got.id is not None:
            REC.expect(R_PROGRAM_DELETE, got.id == p.id,
                       f"DeleteProgramResponse.id {got.id!r} is not the deleted program")
            REC.expect(R_PROGRAM_DELETE, got.topic_links_job is not None,
                       "DeleteProgramResponse has no topicLinksJob")
            if got.topic_links_job is not None:
                job = poll_job(ctx, api.get_speechandtextanalytics_programs_topiclinks_job,
                               R_LINKS_JOB, got.topic_links_job.id)
                if job is not None:
                    REC.expect(R_LINKS_JOB, job.program_id == p.id,
                               f"ProgramTopicLinksJob.programId {job.program_id!r} is not {p.id}")
        call(api.get_speechandtextanalytics_program, p.id, expect_status=404)


def check_mappings(route, got, program, queue_ids, flow_ids, what):
    """A TopicsDefinitionsProgramMappings names `program` and holds exactly the
    (distinct) queue and flow ids, each once, with their selfUris."""
    if got is None:
        return
    prog = got.program
    REC.expect(route, prog is not None and prog.id == program.id,
               f"{what}: program {prog.id if prog else None!r}, expected {program.id!r}")
    if prog is not None:
        REC.expect(route, prog.name == program.name,
                   f"{what}: program.name {prog.name!r}, expected {program.name!r}")
    for key, refs, sent, path in (("queues", got.queues, queue_ids, "/api/v2/routing/queues"),
                                  ("flows", got.flows, flow_ids, "/api/v2/flows")):
        back = [r.id for r in refs or []]
        REC.expect(route, len(back) == len(set(back)),
                   f"{what}: {key} lists an id twice: {back}")
        REC.expect(route, sorted(set(back)) == sorted(set(sent)),
                   f"{what}: {key} {back}, expected {sorted(set(sent))}")
        for r in refs or []:
            REC.expect(route, r.self_uri == f"{path}/{r.id}",
                       f"{what}: {key}[].selfUri {r.self_uri!r} is not {path}/{r.id}")


def sec_program_mappings(ctx):
    """GET / PUT /programs/{id}/mappings: a program's queues and flows. The PUT replaces
    both lists (both required), stores an id once, names only the seeded queues and
    flows (400 naming queueIds[i] / flowIds[i]); a program update keeps them."""
    api = ctx.api
    get = api.get_speechandtextanalytics_program_mappings
    put = api.put_speechandtextanalytics_program_mappings
    nowhere = "00000000-0000-4000-8000-000000000000"  # names no program
    req = mk(models.ProgramRequest, name="SDK mapped program", description="has mappings",
             topic_ids=[], tags=["mapped"])
    program = create_program(ctx, req)
    if program is None:
        return

    def write(queue_ids, flow_ids, what):
        got = call_status(ctx, R_MAPPINGS_PUT, 200, put, program.id,
                          mk(models.ProgramMappingsRequest, queue_ids=queue_ids,
                             flow_ids=flow_ids))
        check_mappings(R_MAPPINGS_PUT, got, program, queue_ids, flow_ids, what)
        check_mappings(R_MAPPINGS, call(get, program.id), program, queue_ids, flow_ids,
                       f"GET after {what}")
        return got

    # A fresh program maps nothing: both arrays present and empty.
    fresh = call_status(ctx, R_MAPPINGS, 200, get, program.id)
    check_mappings(R_MAPPINGS, fresh, program, [], [], "a fresh program")

    # PUT sets both lists; a second PUT with fewer ids removes the others; duplicate ids
    # are stored once.
    first = write(["q-retention-en", "q-care-uk", "q-sales-out"],
                  ["f-inbound-main", "f-uk-care"], "PUT 3 queues, 2 flows")
    if first is not None and fresh is not None and first.date_modified and fresh.date_modified:
        REC.expect(R_MAPPINGS_PUT, first.date_modified >= fresh.date_modified,
                   f"dateModified went backwards: {fresh.date_modified} -> "
                   f"{first.date_modified}")
    write(["q-care-uk"], ["f-uk-care"], "PUT fewer ids")
    write(["q-sales-out", "q-retention-es", "q-sales-out"],
          ["f-inbound-main", "f-inbound-main"], "PUT duplicate ids")
    queue_ids, flow_ids = ["q-sales-out", "q-retention-es"], ["f-inbound-main"]

    # Rejected PUTs write nothing: an id naming no seeded queue / flow (also past a
    # duplicate: i is the index in the request), a missing list.
    bad = [
        ("queueIds[1]", "an unknown queue id",
         dict(queue_ids=["q-retention-en", "q-nowhere"], flow_ids=[])),
        ("flowIds[2]", "an unknown flow id",
         dict(queue_ids=[], flow_ids=["f-inbound-main", "f-uk-care", "f-nowhere"])),
        ("queueIds[2]", "an unknown queue id after a duplicate",
         dict(queue_ids=["q-care-uk", "q-care-uk", "q-nowhere"], flow_ids=[])),
        ("flowIds", "a missing flowIds", dict(queue_ids=["q-care-uk"])),
        ("queueIds", "a missing queueIds", dict(flow_ids=["f-uk-care"])),
    ]
    for field, what, attrs in bad:
        err = call(put, program.id, mk(models.ProgramMappingsRequest, **attrs),
                   expect_status=400)
        expect_400_naming(R_MAPPINGS_PUT, err, field, what)
    check_mappings(R_MAPPINGS, call(get, program.id), program, queue_ids, flow_ids,
                   "GET after the rejected PUTs")

    # An unknown program: 404 on both.
    call(get, nowhere, expect_status=404)
    call(put, nowhere, mk(models.ProgramMappingsRequest, queue_ids=["q-care-uk"],
                          flow_ids=[]), expect_status=404)

    # Updating the program (PUT /programs/{id}) keeps its mappings.
    put_req = mk(models.ProgramRequest, name="SDK mapped program",
                 description="updated, mappings kept", topic_ids=[], tags=[])
    updated = call(api.put_speechandtextanalytics_program, program.id, put_req)
    check_program_echo(R_PROGRAM_PUT, updated, put_req)
    check_mappings(R_MAPPINGS, call(get, program.id), program, queue_ids, flow_ids,
                   "GET after a program update (PUT /programs/{id})")


def engines_of(engines):
    """Comparable form of ProgramTranscriptionEngine models (sent or received)."""
    return [(e.engine, list(e.dialects or []),
             e.engine_integration.id if e.engine_integration is not None else None)
            for e in engines or []]


def sec_program_engines(ctx):
    """GET / PUT /programs/{id}/transcriptionengines: engine (Genesys | GenesysExtended
    | TranscriptionConnector), dialects ({language}-{country}), engineIntegration."""
    api = ctx.api
    get = api.get_speechandtextanalytics_program_transcriptionengines
    put = api.put_speechandtextanalytics_program_transcriptionengines
    nowhere = "00000000-0000-4000-8000-000000000000"  # names no program
    program = create_program(ctx, mk(models.ProgramRequest, name="SDK engines program"))
    if program is None:
        return

    def engine(name, *dialects, integration=None):
        e = mk(models.ProgramTranscriptionEngine, engine=name, dialects=list(dialects))
        if integration is not None:
            e.engine_integration = mk(models.EngineIntegration, id=integration)
        return e

    def check(route, got, sent, what):
        if got is None:
            return
        REC.expect(route, engines_of(got.transcription_engines) == engines_of(sent),
                   f"{what}: transcriptionEngines {engines_of(got.transcription_engines)}, "
                   f"expected {engines_of(sent)}")
        REC.expect(route, got.program is not None and got.program.id == program.id
                   and got.program.name == program.name,
                   f"{what}: program {got.program.id if got.program else None!r} does not "
                   f"name the program {program.id!r} ({program.name!r})")
        want_uri = f"{STA}/programs/{program.id}/transcriptionengines"
        REC.expect(route, got.self_uri == want_uri,
                   f"{what}: selfUri {got.self_uri!r}, expected {want_uri!r}")

    def write(sent, what):
        got = call_status(ctx, R_ENGINES_PUT, 200, put, program.id,
                          mk(models.TranscriptionEnginesRequest, transcription_engines=sent))
        check(R_ENGINES_PUT, got, sent, what)
        check(R_ENGINES, call(get, program.id), sent, f"GET after {what}")

    check(R_ENGINES, call_status(ctx, R_ENGINES, 200, get, program.id), [],
          "a fresh program")
    write([engine("Genesys", "en-US", "es-US"),
           engine("TranscriptionConnector", "de-DE", integration="sdk-integration-1")],
          "PUT two engines")
    kept = [engine("GenesysExtended", "en-GB", "fr-FR")]
    write(kept, "PUT one engine")

    # Rejected PUTs write nothing: an engine the SDK does not have (sent as given, past
    # the SDK's setter, and as the setter sends it), a malformed dialect, a missing
    # transcriptionEngines.
    odd = engine("Genesys", "en-US")
    odd._engine = "Whisper"  # the SDK's setter would turn it into 'outdated_sdk_version'
    bad = [
        ("engine", "an engine 'Whisper'", [engine("Genesys", "en-US"), odd]),
        ("engine", "an engine the SDK's setter mangled", [engine("Whisper", "en-US")]),
        ("dialects[1]", "a dialect 'english'", [engine("Genesys", "en-US", "english")]),
        ("dialects[0]", "a dialect 'en_us'", [engine("GenesysExtended", "en_us")]),
        ("transcriptionEngines", "a missing transcriptionEngines", None),
    ]
    for field, what, sent in bad:
        err = call(put, program.id,
                   mk(models.TranscriptionEnginesRequest, transcription_engines=sent),
                   expect_status=400)
        expect_400_naming(R_ENGINES_PUT, err, field, what)
    check(R_ENGINES, call(get, program.id), kept, "GET after the rejected PUTs")

    # An unknown program: 404 on both.
    call(get, nowhere, expect_status=404)
    call(put, nowhere, mk(models.TranscriptionEnginesRequest,
                          transcription_engines=[engine("Genesys", "en-US")]),
         expect_status=404)

    # Updating the program (PUT /programs/{id}) keeps its engines.
    put_req = mk(models.ProgramRequest, name="SDK engines program",
                 description="updated, engines kept", topic_ids=[], tags=[])
    check_program_echo(R_PROGRAM_PUT,
                       call(api.put_speechandtextanalytics_program, program.id, put_req),
                       put_req)
    check(R_ENGINES, call(get, program.id), kept,
          "GET after a program update (PUT /programs/{id})")

    # Every field of ProgramTranscriptionEngine is optional in SDK 269 (the .NET 270
    # docs agree): an engine entry without `engine` is accepted and echoed as sent.
    sent = [mk(models.ProgramTranscriptionEngine, dialects=["en-US"])]
    got = call(put, program.id, mk(models.TranscriptionEnginesRequest,
                                   transcription_engines=sent))
    check(R_ENGINES_PUT, got, sent, "PUT of an engine entry without engine")


def check_sentiment_echo(route, got, req):
    """A SentimentFeedback returned by POST (or listed) carries what was sent."""
    if got is None:
        return
    REC.expect(route, bool(got.id), "SentimentFeedback without an id")
    for attr in ("phrase", "dialect", "feedback_value"):
        sent, back = getattr(req, attr), getattr(got, attr)
        if sent is not None and back != OUTDATED:  # OUTDATED: reported by the walk
            REC.expect(route, back == sent,
                       f"SentimentFeedback.{attr}: sent {sent!r}, got {back!r}")


def sec_sentiment_feedback(ctx):
    """Sentiment feedback: unpaged list (dialect filter), create (201), delete (204),
    and last the delete-all route (204, then the list is empty)."""
    api = ctx.api
    post = api.post_speechandtextanalytics_sentimentfeedback
    entries = [
        ("en-US", "this product is awesome", "Positive"),
        ("en-US", "not bad at all", "Positive"),
        ("en-US", "i am on hold again", "Negative"),
        ("en-GB", "not bad at all", "Positive"),  # same phrase, other dialect: allowed
        ("es-US", "está bien", "Neutral"),
        ("es-US", "qué desastre", "Negative"),
        ("de-DE", "geht so", "Neutral"),
    ]
    for dialect, phrase, value in entries:
        req = mk(models.SentimentFeedback, phrase=phrase, dialect=dialect,
                 feedback_value=value)
        got = call_status(ctx, R_SENTIMENT_POST, 201, post, req)
        check_sentiment_echo(R_SENTIMENT_POST, got, req)
        if got is not None:
            ctx.sentiments[(dialect, phrase)] = got

    # Rejected creates: a duplicate dialect + phrase, a missing required field.
    call(post, mk(models.SentimentFeedback, phrase="not bad at all", dialect="en-US",
                  feedback_value="Negative"), expect_status=409)
    required = {"phrase": "phrase", "dialect": "dialect", "feedbackValue": "feedback_value"}
    for field, attr in required.items():
        attrs = dict(phrase="never stored phrase", dialect="en-US", feedback_value="Neutral")
        del attrs[attr]
        err = call(post, mk(models.SentimentFeedback, **attrs), expect_status=400)
        expect_400_naming(R_SENTIMENT_POST, err, field, f"a missing {field}")

    def listed():
        page = call(api.get_speechandtextanalytics_sentimentfeedback)
        if page is None:
            return None
        ids = [e.id for e in page.entities or []]
        REC.expect(R_SENTIMENTS, len(ids) == len(set(ids)), "an entry is listed twice")
        return {e.id: e for e in page.entities or []}

    # The list: every created entry with the fields POST returned, nothing else (the
    # rejected creates left nothing behind).
    everything = listed()
    if everything is not None:
        created = {c.id: key for key, c in ctx.sentiments.items()}
        REC.expect(R_SENTIMENTS, set(everything) == set(created),
                   f"listed {len(everything)} entries, created {len(created)}: "
                   f"missing {sorted(created[i] for i in set(created) - set(everything))}, "
                   f"extra {sorted(e.phrase for i, e in everything.items() if i not in created)}")
        for key, c in ctx.sentiments.items():
            e = everything.get(c.id)
            if e is None:
                continue
            check_sentiment_echo(R_SENTIMENTS, e, c)
            REC.expect(R_SENTIMENTS, e.date_created == c.date_created,
                       f"{key}: listed dateCreated {e.date_created} differs from the "
                       f"created {c.date_created}")
            REC.expect(R_SENTIMENTS, (e.created_by and e.created_by.id)
                       == (c.created_by and c.created_by.id),
                       f"{key}: listed createdBy differs from the created one")

    # The dialect filter.
    for dialect in ("es-US", "en-GB", "fr-CA"):
        page = call(api.get_speechandtextanalytics_sentimentfeedback, dialect=dialect)
        if page is None:
            continue
        got = sorted(e.id for e in page.entities or [])
        want = sorted(c.id for (d, _), c in ctx.sentiments.items() if d == dialect)
        REC.expect(R_SENTIMENTS, got == want,
                   f"dialect={dialect} listed {[e.phrase for e in page.entities or []]}, "
                   f"expected {[p for (d, p) in ctx.sentiments if d == dialect]}")
        REC.expect(R_SENTIMENTS, all(e.dialect == dialect for e in page.entities or []),
                   f"dialect={dialect} listed another dialect")

    # Delete: 204, gone from the list, a second delete is a 404, and the identity is
    # free again.
    key = ("en-US", "i am on hold again")
    victim = ctx.sentiments.pop(key, None)
    if victim is not None:
        delete = api.delete_speechandtextanalytics_sentimentfeedback_sentiment_feedback_id
        call_status(ctx, R_SENTIMENT_DELETE, 204, delete, victim.id)
        after = listed()
        if after is not None:
            REC.expect(R_SENTIMENTS, victim.id not in after,
                       "a deleted entry is still listed")
            REC.expect(R_SENTIMENTS, all(c.id in after for c in ctx.sentiments.values()),
                       "deleting one entry removed others")
        call(delete, victim.id, expect_status=404)
        req = mk(models.SentimentFeedback, dialect=key[0], phrase=key[1],
                 feedback_value="Neutral")
        got = call_status(ctx, R_SENTIMENT_POST, 201, post, req)
        check_sentiment_echo(R_SENTIMENT_POST, got, req)
        if got is not None:
            REC.expect(R_SENTIMENT_POST, got.id != victim.id,
                       "a re-created entry reuses the deleted entry's id")
            ctx.sentiments[key] = got

    # Delete all: 204, and nothing is listed afterwards.
    route = f"DELETE {STA}/sentimentfeedback"
    call_status(ctx, route, 204, api.delete_speechandtextanalytics_sentimentfeedback)
    after = listed()
    if after is not None:
        REC.expect(route, not after, f"{len(after)} entries left after delete-all")
    ctx.sentiments.clear()


def examples(*phrases):
    return [mk(models.DictionaryFeedbackExamplePhrase, phrase=p) for p in phrases]


def check_dictionary_echo(route, got, req, full=True):
    """A DictionaryFeedback (full) or ListedDictionaryFeedback carries what was sent."""
    if got is None:
        return
    REC.expect(route, bool(got.id), "DictionaryFeedback without an id")
    for attr in ("term", "dialect", "boost_value", "display_as", "transcription_engine"):
        sent, back = getattr(req, attr), getattr(got, attr)
        if sent is not None and back != OUTDATED:  # OUTDATED: reported by the walk
            REC.expect(route, back == sent,
                       f"DictionaryFeedback.{attr}: sent {sent!r}, got {back!r}")
    if not full:
        return
    sent = sorted(p.phrase for p in req.example_phrases or [])
    back = sorted(p.phrase for p in got.example_phrases or [])
    REC.expect(route, back == sent,
               f"DictionaryFeedback.examplePhrases: sent {sent}, got {back}")
    sent = sorted(req.sounds_like or [])
    back = sorted(got.sounds_like or [])
    REC.expect(route, back == sent, f"DictionaryFeedback.soundsLike: sent {sent}, got {back}")


def sec_dictionary_feedback(ctx):
    """Dictionary feedback: cursor-paged list (dialect filter), create (201), GET, PUT
    and DELETE (204) by id, the SDK's limits (400) and dialect + term identity (409)."""
    api = ctx.api
    post = api.post_speechandtextanalytics_dictionaryfeedback
    get_one = api.get_speechandtextanalytics_dictionaryfeedback_dictionary_feedback_id
    put = api.put_speechandtextanalytics_dictionaryfeedback_dictionary_feedback_id
    delete = api.delete_speechandtextanalytics_dictionaryfeedback_dictionary_feedback_id
    lister = api.get_speechandtextanalytics_dictionaryfeedback
    reqs = {}  # (dialect, term) -> the DictionaryFeedback last written

    def create(req):
        got = call_status(ctx, R_DICTIONARY_POST, 201, post, req)
        check_dictionary_echo(R_DICTIONARY_POST, got, req)
        if got is not None:
            ctx.dictionary[(req.dialect, req.term)] = got
            reqs[(req.dialect, req.term)] = req
        return got

    # Every DictionaryFeedback field a client sets.
    full_req = mk(models.DictionaryFeedback, term="Genesys Cloud", dialect="en-US",
                  boost_value=5.5, transcription_engine="Genesys",
                  display_as="Genesys Cloud CX",
                  example_phrases=examples("welcome to Genesys Cloud support",
                                           "my Genesys Cloud login fails today",
                                           "open the Genesys Cloud admin page"),
                  sounds_like=["jenesis cloud", "genesis cloud"])
    full = create(full_req)
    # Only the required fields: the response must still carry examplePhrases [] and
    # soundsLike [].
    minimal_req = mk(models.DictionaryFeedback, term="speechops", dialect="en-US")
    minimal = create(minimal_req)
    fillers = [("en-US", f"fillerword{i:02d}") for i in range(9)] + [
        ("es-US", "Genesys Cloud"),  # same term, other dialect: allowed
        ("es-US", "reembolso"),
        ("es-US", "facturación"),
        ("de-DE", "Rückerstattung"),
        ("de-DE", "Kündigung"),
    ]
    for dialect, term in fillers:
        create(mk(models.DictionaryFeedback, term=term, dialect=dialect, boost_value=3.0,
                  example_phrases=examples(f"this is about {term} today",
                                           f"please say {term} again",
                                           f"we discussed {term} yesterday")))

    # GET by id: the full body.
    for req, created in ((full_req, full), (minimal_req, minimal)):
        if created is not None:
            got = call_status(ctx, R_DICTIONARY_ONE, 200, get_one, created.id)
            check_dictionary_echo(R_DICTIONARY_ONE, got, req)
            if got is not None:
                REC.expect(R_DICTIONARY_ONE, got.id == created.id,
                           f"GET by id answered id {got.id!r}, not {created.id!r}")

    # Rejected creates: the SDK's limits and the dialect + term identity.
    ok_examples = examples("say the word speechops now", "speechops is a tool here",
                           "we use speechops every day")
    bad = [
        ("boostValue", "a boostValue of 11",
         dict(term="boosted", dialect="en-US", boost_value=11.0)),
        ("examplePhrases", "a 2-word example phrase",
         dict(term="speechops two", dialect="en-US",
              example_phrases=examples("use speechops two please", "speechops two",
                                       "we like speechops two a lot"))),
        ("term", "a missing term", dict(dialect="en-US", example_phrases=ok_examples)),
        ("dialect", "a missing dialect", dict(term="speechops three")),
        ("examplePhrases", "example phrases that lack the term",
         dict(term="speechops four", dialect="en-US",
              example_phrases=examples("we use it every day", "speechops four is here",
                                       "say speechops four now"))),
    ]
    for field, what, attrs in bad:
        err = call(post, mk(models.DictionaryFeedback, **attrs), expect_status=400)
        expect_400_naming(R_DICTIONARY_POST, err, field, what)
    call(post, mk(models.DictionaryFeedback, term="Genesys Cloud", dialect="en-US",
                  boost_value=2.0), expect_status=409)
    # The same term up to letter case is the same term.
    call(post, mk(models.DictionaryFeedback, term="genesys cloud", dialect="en-US",
                  boost_value=2.0), expect_status=409)

    # Cursor paging at a page size smaller than the count, following nextUri; the
    # rejected creates left nothing behind.
    created = {c.id: key for key, c in ctx.dictionary.items()}
    n = len(created)
    pages, entities = list_by_cursor(lister, R_DICTIONARY, DICTIONARY_LIST_ARGS, 5)
    listed_ids = [e.id for e in entities]
    REC.expect(R_DICTIONARY, len(listed_ids) == len(set(listed_ids)),
               "cursor paging listed an entry twice")
    REC.expect(R_DICTIONARY, set(listed_ids) == set(created),
               f"following nextUri at pageSize 5 listed {len(set(listed_ids))} entries in "
               f"{len(pages)} page(s), created {n}")
    if pages:
        REC.expect(R_DICTIONARY, len(pages) == math.ceil(n / 5),
                   f"nextUri led through {len(pages)} pages for {n} entries at pageSize 5")
        REC.expect(R_DICTIONARY, all(len(p.entities or []) == 5 for p in pages[:-1]),
                   f"page sizes {[len(p.entities or []) for p in pages]} at pageSize 5")
        REC.expect(R_DICTIONARY, pages[0].total in (None, n),
                   f"total {pages[0].total!r}, expected {n}")
        REC.expect(R_DICTIONARY, pages[0].page_count in (None, math.ceil(n / 5)),
                   f"pageCount {pages[0].page_count!r}, expected {math.ceil(n / 5)}")
        REC.expect(R_DICTIONARY, all(p.page_size == 5 for p in pages), "pageSize not echoed")
    by_id = {e.id: e for e in entities}
    for key, c in ctx.dictionary.items():
        if c.id in by_id:
            check_dictionary_echo(R_DICTIONARY, by_id[c.id], reqs[key], full=False)

    # The dialect filter, paged and unpaged.
    def want(dialect):
        return sorted(c.id for (d, _), c in ctx.dictionary.items() if d == dialect)

    pages, entities = list_by_cursor(lister, R_DICTIONARY, DICTIONARY_LIST_ARGS, 4,
                                     dialect="en-US")
    REC.expect(R_DICTIONARY, sorted(e.id for e in entities) == want("en-US"),
               f"dialect=en-US at pageSize 4 listed {len(entities)} entries, expected "
               f"{len(want('en-US'))}")
    REC.expect(R_DICTIONARY, len(pages) == math.ceil(len(want("en-US")) / 4),
               f"dialect=en-US at pageSize 4 took {len(pages)} pages")
    if pages:
        REC.expect(R_DICTIONARY, pages[0].total in (None, len(want("en-US"))),
                   f"dialect=en-US: total {pages[0].total!r}, expected {len(want('en-US'))}")
    for dialect in ("es-US", "de-DE", "fr-FR"):
        page = call(lister, dialect=dialect)
        if page is None:
            continue
        got = sorted(e.id for e in page.entities or [])
        REC.expect(R_DICTIONARY, got == want(dialect),
                   f"dialect={dialect} listed {[e.term for e in page.entities or []]}")
        REC.expect(R_DICTIONARY, all(e.dialect == dialect for e in page.entities or []),
                   f"dialect={dialect} listed another dialect")
        REC.expect(R_DICTIONARY, not page.next_uri,
                   f"dialect={dialect}: a nextUri on a page holding every entry")

    # PUT: every field changes; the minimal entry gains examples; identity conflicts
    # and limits apply to updates too.
    if full is not None:
        put_req = mk(models.DictionaryFeedback, term="Genesys Cloud", dialect="en-US",
                     boost_value=7.0, transcription_engine="Genesys",
                     display_as="Genesys Cloud",
                     example_phrases=examples("welcome to Genesys Cloud support",
                                              "is Genesys Cloud down right now",
                                              "the Genesys Cloud desktop app",
                                              "log in to Genesys Cloud please"),
                     sounds_like=["jenesis cloud"])
        got = call_status(ctx, R_DICTIONARY_PUT, 200, put, full.id, body=put_req)
        check_dictionary_echo(R_DICTIONARY_PUT, got, put_req)
        if got is not None:
            REC.expect(R_DICTIONARY_PUT, got.id == full.id, "PUT changed the id")
            reqs[("en-US", "Genesys Cloud")] = put_req
        check_dictionary_echo(R_DICTIONARY_ONE, call(get_one, full.id), put_req)
        err = call(put, full.id, body=mk(models.DictionaryFeedback, term="Genesys Cloud",
                                          dialect="en-US", boost_value=11.0),
                   expect_status=400)
        expect_400_naming(R_DICTIONARY_PUT, err, "boostValue", "a boostValue of 11")
    if minimal is not None:
        put_req = mk(models.DictionaryFeedback, term="speechops", dialect="en-US",
                     boost_value=1.0, example_phrases=ok_examples,
                     sounds_like=["speech ops"])
        got = call_status(ctx, R_DICTIONARY_PUT, 200, put, minimal.id, body=put_req)
        check_dictionary_echo(R_DICTIONARY_PUT, got, put_req)
        check_dictionary_echo(R_DICTIONARY_ONE, call(get_one, minimal.id), put_req)
        call(put, minimal.id, body=mk(models.DictionaryFeedback, term="Genesys Cloud",
                                      dialect="en-US"), expect_status=409)
        page = call(lister, dialect="en-US")
        if page is not None:
            e = {e.id: e for e in page.entities or []}.get(minimal.id)
            if REC.expect(R_DICTIONARY, e is not None, "an updated entry is not listed"):
                check_dictionary_echo(R_DICTIONARY, e, put_req, full=False)

    # DELETE: 204, then 404 by id and on a second delete, and gone from the list.
    victim = ctx.dictionary.pop(("en-US", "fillerword08"), None)
    if victim is not None:
        call_status(ctx, R_DICTIONARY_DELETE, 204, delete, victim.id)
        call(get_one, victim.id, expect_status=404)
        call(delete, victim.id, expect_status=404)
        page = call(lister, dialect="en-US")
        if page is not None:
            got = sorted(e.id for e in page.entities or [])
            REC.expect(R_DICTIONARY, victim.id not in got, "a deleted entry is still listed")
            REC.expect(R_DICTIONARY, got == want("en-US"),
                       "deleting one entry changed the others")


def call_json(ctx, fn, *args, **kwargs):
    """`call`, plus the HTTP status and the raw JSON body of a success:
    (result, status, raw); status and raw are None when the call failed."""
    ctx.client.last_response = None
    result = call(fn, *args, **kwargs)
    resp = ctx.client.last_response
    if resp is None:
        return result, None, None
    try:
        raw = json.loads(resp.data) if (resp.data or "").strip() else None
    except (TypeError, ValueError):
        raw = None  # reported by the deserialize hook
    return result, resp.status, raw


def near_criteria(topic_id, word="competitor"):
    """An OperandGroup: a Topic operand Near (with an operatorPosition) a Term operand
    with occurrence, inverted and voiceSecondsPosition."""
    return mk(models.Operand, type="OperandGroup", operands=[
        mk(models.Operand, type="Topic", topic_id=topic_id,
           infix_operator=mk(models.InfixOperator, operator_type="Near",
                             operator_position=mk(models.OperatorPosition,
                                                  voice_seconds_position=30,
                                                  digital_words_position=50))),
        mk(models.Operand, type="Term", occurrence=2, inverted=True,
           term=mk(models.Term, word=word, participant_type="External"),
           voice_seconds_position=mk(models.OperandPosition, starting_position_value=0,
                                     starting_position_direction="FromStart",
                                     ending_position_value=60,
                                     ending_position_direction="FromEnd")),
    ])


def term_operand(word, who="Both"):
    return mk(models.Operand, type="Term", term=mk(models.Term, word=word,
                                                   participant_type=who))


def check_category_echo(ctx, route, got, raw, req):
    """A StaCategory (typed `got`, its raw JSON `raw`) carries what the CategoryRequest
    set; its criteria echo exactly: the JSON the SDK sent, nothing added or dropped."""
    if got is None:
        return
    REC.expect(route, bool(got.id), "StaCategory without an id")
    for attr in ("name", "description", "interaction_type"):
        sent, back = getattr(req, attr), getattr(got, attr)
        if sent is not None and back != OUTDATED:  # OUTDATED: reported by the walk
            REC.expect(route, back == sent,
                       f"StaCategory.{attr}: sent {sent!r}, got {back!r}")
    if req.description is None:
        REC.expect(route, not got.description,
                   f"StaCategory.description: sent none, got {got.description!r}")
    if got.id:
        REC.expect(route, got.self_uri == f"{STA}/categories/{got.id}",
                   f"StaCategory.selfUri {got.self_uri!r} is not the category's path")
    if raw is not None:
        sent = ctx.client.sanitize_for_serialization(req.criteria)
        back = raw.get("criteria") if isinstance(raw, dict) else None
        REC.expect(route, back == sent,
                   f"StaCategory.criteria does not echo the request: sent "
                   f"{json.dumps(sent, sort_keys=True)}, got {json.dumps(back, sort_keys=True)}")


def sec_categories(ctx):
    """Categories: numbered pages of at most 25 (name / ids filters, sortBy name |
    description, sortOrder), create, GET / PUT / DELETE by id, criteria trees built
    from the SDK's Operand models; a topic a category uses cannot be deleted."""
    api = ctx.api
    post = api.post_speechandtextanalytics_categories
    get_one = api.get_speechandtextanalytics_category
    put = api.put_speechandtextanalytics_category
    delete = api.delete_speechandtextanalytics_category
    lister = api.get_speechandtextanalytics_categories
    reqs = {}  # name -> the CategoryRequest last written
    nowhere = "00000000-0000-4000-8000-000000000000"  # names no topic

    # Topics the criteria use, held by no program (so only a category can hold them).
    def topic(name):
        return create_topic(ctx, mk(models.TopicRequest, name=name, dialect="en-US",
                                    phrases=[mk(models.Phrase, text=f"{name.lower()} phrase")]))
    topic_a = topic("SDK category topic A")
    topic_b = topic("SDK category topic B")
    if topic_a is None or topic_b is None:
        return

    def create(req):
        got, status, raw = call_json(ctx, post, req)
        if status is not None:
            REC.expect(R_CATEGORY_POST, status in (200, 201),
                       f"answered HTTP {status}, expected 200 (or 201)")
        check_category_echo(ctx, R_CATEGORY_POST, got, raw, req)
        if got is not None:
            ctx.categories[req.name] = got
            reqs[req.name] = req
        return got

    # Every CategoryRequest field; a Topic operand Near a Term operand.
    full_req = mk(models.CategoryRequest, name="SDK full category",
                  description="every CategoryRequest field", interaction_type="Voice",
                  criteria=near_criteria(topic_a.id))
    full = create(full_req)
    # The required fields only, one Term operand.
    minimal_req = mk(models.CategoryRequest, name="SDK minimal category",
                     interaction_type="Digital", criteria=term_operand("refund"))
    minimal = create(minimal_req)
    # Fillers: names ascend where descriptions descend.
    for i in range(5):
        crit = (mk(models.Operand, type="Topic", topic_id=topic_b.id) if i % 2
                else term_operand(f"filler{i}", "Internal"))
        create(mk(models.CategoryRequest, name=f"SDK paging category {i}",
                  description=f"filler {4 - i}", interaction_type="All", criteria=crit))
    all_names = sorted(ctx.categories)

    # GET by id.
    for req, made in ((full_req, full), (minimal_req, minimal)):
        if made is None:
            continue
        got, status, raw = call_json(ctx, get_one, made.id)
        check_category_echo(ctx, R_CATEGORY, got, raw, req)
        if got is not None:
            REC.expect(R_CATEGORY, got.id == made.id,
                       f"GET by id answered id {got.id!r}, not {made.id!r}")
            REC.expect(R_CATEGORY, got.date_created == made.date_created,
                       "GET by id: dateCreated differs from the created one")
    call(get_one, nowhere, expect_status=404)

    # Rejected creates: a duplicate name, a missing interactionType, an Operand type the
    # SDK does not have (sent as given, past the SDK's setter, and as the setter sends
    # it), a topicId naming no topic.
    call(post, mk(models.CategoryRequest, name="SDK full category", interaction_type="All",
                  criteria=term_operand("duplicate")), expect_status=409)
    err = call(post, mk(models.CategoryRequest, name="SDK never category",
                        criteria=term_operand("never")), expect_status=400)
    expect_400_naming(R_CATEGORY_POST, err, "interactionType", "a missing interactionType")
    odd = term_operand("never")
    odd._type = "Phrase"  # the SDK's setter would turn it into 'outdated_sdk_version'
    for what, operand in (("an Operand type 'Phrase'", odd),
                          ("an Operand type the SDK's setter mangled",
                           mk(models.Operand, type="Phrase",
                              term=mk(models.Term, word="never", participant_type="Both")))):
        err = call(post, mk(models.CategoryRequest, name="SDK never category",
                            interaction_type="All",
                            criteria=mk(models.Operand, type="OperandGroup",
                                        operands=[term_operand("fine"), operand])),
                   expect_status=400)
        expect_400_naming(R_CATEGORY_POST, err, "type", what)
    err = call(post, mk(models.CategoryRequest, name="SDK never category",
                        interaction_type="Voice", criteria=near_criteria(nowhere)),
               expect_status=400)
    expect_400_naming(R_CATEGORY_POST, err, "topicId", "a topicId naming no topic")

    # Numbered paging at pageSize 2 (created categories > 5), by pageNumber; each page
    # echoes pageNumber/pageSize and points at the next one. The rejected creates left
    # nothing behind.
    created = {c.id: name for name, c in ctx.categories.items()}
    n = len(created)
    want_pages = math.ceil(n / 2)
    pages, entities, raw_by_id = [], [], {}
    for number in range(1, 50):
        page, _, raw = call_json(ctx, lister, page_size=2, page_number=number)
        if page is None:
            break
        pages.append(page)
        ents = page.entities or []
        entities += ents
        for e in (raw or {}).get("entities") or []:
            if isinstance(e, dict):
                raw_by_id[e.get("id")] = e
        REC.expect(R_CATEGORIES, page.page_number == number,
                   f"page {number}: pageNumber {page.page_number!r}")
        REC.expect(R_CATEGORIES, page.page_size == 2,
                   f"page {number}: pageSize {page.page_size!r}, expected 2")
        last = number >= page.page_count if page.page_count else len(ents) < 2
        if last:
            REC.expect(R_CATEGORIES, not page.next_uri,
                       f"the last page ({number}) has a nextUri {page.next_uri!r}")
        elif REC.expect(R_CATEGORIES, page.next_uri,
                        "a page before the last (of a numbered listing) has no nextUri"):
            kwargs = next_uri_kwargs(R_CATEGORIES, page.next_uri, CATEGORY_LIST_ARGS)
            REC.expect(R_CATEGORIES, kwargs.get("page_number") == number + 1
                       and kwargs.get("page_size") == 2,
                       f"page {number}: nextUri {page.next_uri!r} is not pageNumber "
                       f"{number + 1} at pageSize 2")
        if last or not ents:
            break
    listed_ids = [e.id for e in entities]
    REC.expect(R_CATEGORIES, len(listed_ids) == len(set(listed_ids)),
               "paging at pageSize 2 listed a category twice")
    REC.expect(R_CATEGORIES, set(listed_ids) == set(created),
               f"paging at pageSize 2 listed {sorted(e.name for e in entities)}, "
               f"created {sorted(created.values())}")
    if pages:
        REC.expect(R_CATEGORIES, len(pages) == want_pages,
                   f"{len(pages)} pages for {n} categories at pageSize 2")
        REC.expect(R_CATEGORIES, all(len(p.entities or []) == 2 for p in pages[:-1]),
                   f"page sizes {[len(p.entities or []) for p in pages]} at pageSize 2")
        REC.expect(R_CATEGORIES, pages[0].total == n,
                   f"total {pages[0].total!r}, expected {n}")
        REC.expect(R_CATEGORIES, pages[0].page_count == want_pages,
                   f"pageCount {pages[0].page_count!r}, expected {want_pages}")
    beyond = call(lister, page_size=2, page_number=want_pages + 1)
    if beyond is not None:
        REC.expect(R_CATEGORIES, not beyond.entities and not beyond.next_uri,
                   f"page {want_pages + 1} of {want_pages}: "
                   f"{[e.name for e in beyond.entities or []]}, nextUri {beyond.next_uri!r}")
    for e in entities:
        name = created.get(e.id)
        if name is not None:
            check_category_echo(ctx, R_CATEGORIES, e, raw_by_id.get(e.id), reqs[name])

    # Filters and sorting.
    def filtered(expected, **filters):
        page = call(lister, page_size=25, **filters)
        if page is not None and expected is not None:
            REC.expect(R_CATEGORIES, names_of(page.entities or []) == sorted(expected),
                       f"filter {filters} listed {names_of(page.entities or [])}, "
                       f"expected {sorted(expected)}")
        return page

    filtered([f"SDK paging category {i}" for i in range(5)], name="paging CATEGORY")
    filtered(["SDK full category"], name="SDK full category")
    filtered([], name="no such category")
    if full is not None and minimal is not None:
        filtered(["SDK full category", "SDK minimal category"], ids=[full.id, minimal.id])
        err = call(lister, ids=[full.id], name="SDK", expect_status=400)
        expect_400_naming(R_CATEGORIES, err, "ids", "ids combined with name")
    err = call(lister, ids=[f"{nowhere[:-2]}{i:02d}" for i in range(26)], expect_status=400)
    expect_400_naming(R_CATEGORIES, err, "ids", "26 ids")
    err = call(lister, page_size=26, expect_status=400)
    expect_400_naming(R_CATEGORIES, err, "pageSize", "pageSize 26")
    for key, attr in (("name", "name"), ("description", "description")):
        asc = filtered(all_names, sort_by=key, sort_order="asc")
        desc = filtered(all_names, sort_by=key, sort_order="desc")
        if asc is None or desc is None:
            continue
        up = [e.name for e in asc.entities or []]
        down = [e.name for e in desc.entities or []]
        REC.expect(R_CATEGORIES, down == up[::-1],
                   f"sortBy={key}: sortOrder=desc {down} is not asc reversed {up}")
        vals = [getattr(e, attr) for e in asc.entities or [] if getattr(e, attr)]
        REC.expect(R_CATEGORIES, vals in (sorted(vals), sorted(vals, key=str.lower)),
                   f"sortBy={key} sortOrder=asc is not ascending: {vals}")

    # PUT replaces the whole category: new criteria (a nested group), no description
    # now; identity conflicts and unknown topics apply to updates too.
    if minimal is not None:
        put_req = mk(models.CategoryRequest, name="SDK minimal category",
                     description="now a nested tree", interaction_type="All",
                     criteria=mk(models.Operand, type="OperandGroup", operands=[
                         mk(models.Operand, type="OperandGroup", inverted=False,
                            infix_operator=mk(models.InfixOperator, operator_type="And"),
                            operands=[
                                mk(models.Operand, type="Topic", topic_id=topic_b.id,
                                   infix_operator=mk(models.InfixOperator,
                                                     operator_type="Or")),
                                mk(models.Operand, type="Term", occurrence=1,
                                   term=mk(models.Term, word="cancel",
                                           participant_type="External"),
                                   digital_words_position=mk(
                                       models.OperandPosition, starting_position_value=5,
                                       starting_position_direction="FromEnd")),
                            ]),
                         term_operand("refund", "Internal"),
                     ]))
        got, status, raw = call_json(ctx, put, minimal.id, put_req)
        check_category_echo(ctx, R_CATEGORY_PUT, got, raw, put_req)
        if got is not None:
            REC.expect(R_CATEGORY_PUT, got.id == minimal.id, "PUT changed the id")
            REC.expect(R_CATEGORY_PUT, got.date_created == minimal.date_created,
                       "PUT changed dateCreated")
            reqs[put_req.name] = put_req
        got, status, raw = call_json(ctx, get_one, minimal.id)
        check_category_echo(ctx, R_CATEGORY, got, raw, put_req)
        put_req = mk(models.CategoryRequest, name="SDK minimal category",
                     interaction_type="Digital", criteria=term_operand("refund"))
        got, status, raw = call_json(ctx, put, minimal.id, put_req)
        check_category_echo(ctx, R_CATEGORY_PUT, got, raw, put_req)
        call(put, minimal.id, mk(models.CategoryRequest, name="SDK full category",
                                 interaction_type="All", criteria=term_operand("x")),
             expect_status=409)
        err = call(put, minimal.id, mk(models.CategoryRequest, name="SDK minimal category",
                                       interaction_type="All",
                                       criteria=near_criteria(nowhere)),
                   expect_status=400)
        expect_400_naming(R_CATEGORY_PUT, err, "topicId", "a topicId naming no topic")
    call(put, nowhere, mk(models.CategoryRequest, name="SDK never category",
                          interaction_type="All", criteria=term_operand("x")),
         expect_status=404)

    # A topic a category uses cannot be deleted (409); once the category is gone
    # (204, then 404) it can, and a category can no longer name it.
    if full is not None:
        call(api.delete_speechandtextanalytics_topic, topic_a.id, expect_status=409)
        call(api.get_speechandtextanalytics_topic, topic_a.id)
        ctx.categories.pop("SDK full category", None)
        call_status(ctx, R_CATEGORY_DELETE, 204, delete, full.id)
        call(get_one, full.id, expect_status=404)
        call(delete, full.id, expect_status=404)
        page = call(lister, page_size=25)
        if page is not None:
            got = sorted(e.id for e in page.entities or [])
            REC.expect(R_CATEGORIES, full.id not in got, "a deleted category is still listed")
            REC.expect(R_CATEGORIES, got == sorted(c.id for c in ctx.categories.values()),
                       "deleting one category changed the others")
        call_status(ctx, R_TOPIC_DELETE, 204, api.delete_speechandtextanalytics_topic,
                    topic_a.id)
        ctx.topics.pop("SDK category topic A", None)
        call(api.get_speechandtextanalytics_topic, topic_a.id, expect_status=404)
        err = call(post, mk(models.CategoryRequest, name="SDK never category",
                            interaction_type="Voice", criteria=near_criteria(topic_a.id)),
                   expect_status=400)
        expect_400_naming(R_CATEGORY_POST, err, "topicId", "a topicId naming a deleted topic")


def sec_settings(ctx):
    """The org's STA settings: GET, PATCH (merges), PUT (replaces); defaultProgramId
    must name a program, and the default program is deleted only with forceDelete."""
    api = ctx.api
    get = api.get_speechandtextanalytics_settings
    patch = api.patch_speechandtextanalytics_settings
    put = api.put_speechandtextanalytics_settings
    fresh = {"defaultProgram": None, "expectedDialects": ["en-US"],
             "textAnalyticsEnabled": False, "agentEmpathyEnabled": False}

    def expect_state(route, got, want, what):
        if got is None:
            return
        dp = got.default_program
        have = {"defaultProgram": dp.id if dp is not None else None,
                "expectedDialects": sorted(got.expected_dialects or []),
                "textAnalyticsEnabled": got.text_analytics_enabled,
                "agentEmpathyEnabled": got.agent_empathy_enabled}
        want = dict(want, expectedDialects=sorted(want["expectedDialects"]))
        REC.expect(route, have == want, f"{what}: got {have}, expected {want}")
        if dp is not None:
            REC.expect(route, dp.self_uri == f"{STA}/programs/{dp.id}",
                       f"{what}: defaultProgram.selfUri {dp.self_uri!r} is not the "
                       f"program's path")

    def write(route, fn, what, want, **fields):
        got = call_status(ctx, route, 200, fn,
                          mk(models.SpeechTextAnalyticsSettingsRequest, **fields))
        expect_state(route, got, want, what)
        expect_state(R_SETTINGS, call(get), want, f"GET after {what}")

    expect_state(R_SETTINGS, call_status(ctx, R_SETTINGS, 200, get), fresh, "a fresh org")
    first = create_program(ctx, mk(models.ProgramRequest, name="SDK default program 1"))
    second = create_program(ctx, mk(models.ProgramRequest, name="SDK default program 2"))
    if first is None or second is None:
        return

    # PATCH one field at a time: the others stay.
    want = dict(fresh, defaultProgram=first.id)
    write(R_SETTINGS_PATCH, patch, "PATCH defaultProgramId", want, default_program_id=first.id)
    want["textAnalyticsEnabled"] = True
    write(R_SETTINGS_PATCH, patch, "PATCH textAnalyticsEnabled", want,
          text_analytics_enabled=True)
    want["expectedDialects"] = ["en-US", "es-US", "de-DE"]
    write(R_SETTINGS_PATCH, patch, "PATCH expectedDialects", want,
          expected_dialects=["en-US", "es-US", "de-DE"])
    want["agentEmpathyEnabled"] = True
    write(R_SETTINGS_PATCH, patch, "PATCH agentEmpathyEnabled", want,
          agent_empathy_enabled=True)
    write(R_SETTINGS_PATCH, patch, "an empty PATCH", want)

    # A defaultProgramId naming no program: a 400 naming the field, nothing written.
    nowhere = "00000000-0000-4000-8000-000000000000"
    for route, fn in ((R_SETTINGS_PATCH, patch), (R_SETTINGS_PUT, put)):
        err = call(fn, mk(models.SpeechTextAnalyticsSettingsRequest,
                          default_program_id=nowhere, text_analytics_enabled=False),
                   expect_status=400)
        expect_400_naming(route, err, "defaultProgramId", "a defaultProgramId naming no program")
    expect_state(R_SETTINGS, call(get), want, "GET after the rejected writes")

    # Moving the default frees the old default program: it deletes without forceDelete.
    want["defaultProgram"] = second.id
    write(R_SETTINGS_PATCH, patch, "PATCH defaultProgramId to another program", want,
          default_program_id=second.id)
    ctx.programs.pop("SDK default program 1", None)
    call(api.delete_speechandtextanalytics_program, first.id)
    call(api.get_speechandtextanalytics_program, first.id, expect_status=404)
    expect_state(R_SETTINGS, call(get), want, "GET after deleting a former default program")

    # PUT one field: the others return to the fresh org's values.
    want = dict(fresh, agentEmpathyEnabled=True)
    write(R_SETTINGS_PUT, put, "PUT agentEmpathyEnabled alone", want,
          agent_empathy_enabled=True)
    want = {"defaultProgram": second.id, "expectedDialects": ["en-GB", "fr-FR"],
            "textAnalyticsEnabled": True, "agentEmpathyEnabled": False}
    write(R_SETTINGS_PUT, put, "PUT every field", want, default_program_id=second.id,
          expected_dialects=["en-GB", "fr-FR"], text_analytics_enabled=True,
          agent_empathy_enabled=False)

    # The default program: 409 without forceDelete (nothing changes), deleted with it,
    # and then the settings have no defaultProgram (the other fields stay).
    call(api.delete_speechandtextanalytics_program, second.id, expect_status=409)
    kept = call(api.get_speechandtextanalytics_program, second.id)
    REC.expect(R_PROGRAM, kept is None or kept.id == second.id,
               "GET of the default program after a refused delete answered another id")
    expect_state(R_SETTINGS, call(get), want, "GET after a refused delete of the default program")
    ctx.programs.pop("SDK default program 2", None)
    got = call(api.delete_speechandtextanalytics_program, second.id, force_delete=True)
    if got is not None and got.id is not None:
        REC.expect(R_PROGRAM_DELETE, got.id == second.id,
                   f"DeleteProgramResponse.id {got.id!r} is not the deleted program")
    call(api.get_speechandtextanalytics_program, second.id, expect_status=404)
    want["defaultProgram"] = None
    expect_state(R_SETTINGS, call(get), want, "GET after force-deleting the default program")


def sec_rejects(ctx):
    """Unknown request fields, enum values the SDK does not have and (for categories)
    integers of the wrong JSON type are 400s naming the field."""
    client = ctx.client
    t = ctx.topics.get("Zeta topic")
    p = ctx.programs.get("SDK minimal program")
    topic = {"name": "SDK reject topic", "dialect": "en-US", "phrases": [{"text": "x y"}]}
    cases = [
        ("POST", "/topics", dict(topic, colour="red"), "colour"),
        ("POST", "/topics", dict(topic, phrases=[{"text": "x y", "colour": "red"}]),
         "colour"),
        ("POST", "/topics", dict(topic, matchingType="Standard"), "matchingType"),
        ("POST", "/programs", {"name": "SDK reject program", "colour": "red"}, "colour"),
        ("POST", "/topics/publishjobs", {"topicIds": [t.id] if t else [], "colour": "red"},
         "colour"),
        ("POST", "/programs/publishjobs",
         {"programIds": [p.id] if p else [], "colour": "red"}, "colour"),
    ]
    if t is not None:
        cases.append(("PUT", f"/topics/{t.id}", dict(topic, colour="red"), "colour"))
    if p is not None:
        cases.append(("PUT", f"/programs/{p.id}", {"name": p.name, "colour": "red"},
                      "colour"))
        engine = {"engine": "Genesys", "dialects": ["en-US"]}
        cases += [
            ("PUT", f"/programs/{p.id}/mappings",
             {"queueIds": [], "flowIds": [], "colour": "red"}, "colour"),
            ("PUT", f"/programs/{p.id}/transcriptionengines",
             {"transcriptionEngines": [engine], "colour": "red"}, "colour"),
            ("PUT", f"/programs/{p.id}/transcriptionengines",
             {"transcriptionEngines": [dict(engine, colour="red")]}, "colour"),
            ("PUT", f"/programs/{p.id}/transcriptionengines",
             {"transcriptionEngines": [dict(engine, engineIntegration={
                 "id": "sdk-integration-1", "colour": "red"})]}, "colour"),
        ]
    sentiment = {"phrase": "SDK reject phrase", "dialect": "en-US", "feedbackValue": "Positive"}
    term = {"term": "rejectword", "dialect": "en-US",
            "examplePhrases": [{"phrase": "say rejectword right now"},
                               {"phrase": "the rejectword is here"},
                               {"phrase": "we heard rejectword today"}]}
    cases += [
        ("POST", "/sentimentfeedback", dict(sentiment, colour="red"), "colour"),
        ("POST", "/sentimentfeedback", dict(sentiment, feedbackValue="Mixed"),
         "feedbackValue"),
        ("POST", "/dictionaryfeedback", dict(term, colour="red"), "colour"),
        ("POST", "/dictionaryfeedback",
         dict(term, examplePhrases=term["examplePhrases"][:2] + [
             {"phrase": "we heard rejectword today", "colour": "red"}]), "colour"),
        ("POST", "/dictionaryfeedback", dict(term, transcriptionEngine="Whisper"),
         "transcriptionEngine"),
        ("POST", "/dictionaryfeedback", dict(term, source="Generated"), "source"),
    ]
    d = ctx.dictionary.get(("en-US", "Genesys Cloud"))
    if d is not None:
        cases.append(("PUT", f"/dictionaryfeedback/{d.id}",
                      {"term": d.term, "dialect": d.dialect, "colour": "red"}, "colour"))
    term = {"type": "Term", "term": {"word": "reject", "participantType": "Both"}}
    category = {"name": "SDK reject category", "interactionType": "Voice", "criteria": term}

    def crit(**fields):
        return dict(category, criteria=dict(term, **fields))

    cases += [
        ("POST", "/categories", dict(category, colour="red"), "colour"),
        ("POST", "/categories", crit(colour="red"), "colour"),
        ("POST", "/categories",
         crit(term={"word": "reject", "participantType": "Both", "colour": "red"}), "colour"),
        ("POST", "/categories", crit(infixOperator={"operatorType": "And", "colour": "red"}),
         "colour"),
        ("POST", "/categories", crit(voiceSecondsPosition={"startingPositionValue": 0,
                                                           "colour": "red"}), "colour"),
        ("POST", "/categories", dict(category, interactionType="Chat"), "interactionType"),
        ("POST", "/categories", crit(term={"word": "reject", "participantType": "Agent"}),
         "participantType", "a Term.participantType 'Agent'"),
        ("POST", "/categories", crit(infixOperator={"operatorType": "Xor"}), "operatorType",
         "an InfixOperator.operatorType 'Xor'"),
        ("POST", "/categories",
         crit(voiceSecondsPosition={"startingPositionValue": 0,
                                    "startingPositionDirection": "Middle"}),
         "startingPositionDirection", "an OperandPosition.startingPositionDirection 'Middle'"),
        # Integers of the wrong JSON type: the sandbox 400s on a string occurrence
        # (and OperandPosition value); an OperatorPosition value must not be dropped
        # silently either.
        ("POST", "/categories", crit(occurrence="2"), "occurrence",
         "a string Operand.occurrence"),
        ("POST", "/categories",
         crit(infixOperator={"operatorType": "Near",
                             "operatorPosition": {"voiceSecondsPosition": "30"}}),
         "voiceSecondsPosition", "a string OperatorPosition.voiceSecondsPosition"),
        ("PATCH", "/settings", {"textAnalyticsEnabled": True, "colour": "red"}, "colour"),
        ("PUT", "/settings", {"textAnalyticsEnabled": True, "colour": "red"}, "colour"),
    ]
    c = ctx.categories.get("SDK minimal category")
    if c is not None:
        cases.append(("PUT", f"/categories/{c.id}",
                      dict(category, name=c.name, colour="red"), "colour"))
    for method, path, body, field, *what in cases:
        try:
            client.call_api(STA + path, method, {}, {},
                            {"Accept": "application/json",
                             "Content-Type": "application/json"},
                            body=body, post_params=[], files={}, response_type=None,
                            auth_settings=["PureCloud OAuth"])
        except ApiException as e:
            err = check_error_body(REC.last_route, e, 400)
            if err and e.status == 400:
                REC.expect(REC.last_route, names_field(err, field),
                           f"the 400 for {field!r} does not name the field")
        else:
            REC.problem(REC.last_route, f"accepted {what[0]} (expected 400)" if what else
                        f"accepted a body with {field}={body.get(field)!r} "
                        f"(expected 400)" if field in body else
                        f"accepted a body with an unknown nested field {field!r} "
                        f"(expected 400)")


def sec_org(ctx):
    """SPEC 8.7: the org's id keys the lockfile and stamps the audit log."""
    org = call(pc.OrganizationApi(ctx.client).get_organizations_me)
    route = "GET /api/v2/organizations/me"
    if org is None:
        return
    REC.expect(route, bool(org.id), "Organization without an id")
    again = call(pc.OrganizationApi(ctx.client).get_organizations_me)
    if again is not None:
        REC.expect(route, again.id == org.id, "the org id changed between two reads")


def sec_audits(ctx):
    """SPEC 12.4: Genesys's audit records of STA changes, by the SDK's AuditApi."""
    route = "POST /api/v2/audits/query/realtime"
    api = pc.AuditApi(ctx.client)
    req = mk(pc.TopicRequest, name="Conformance audited", dialect="en-US",
             strictness="72", participants="All", matching_type="Lexical",
             phrases=[mk(pc.Phrase, text="audited phrase")])
    topic = create_topic(ctx, req)
    if topic is None:
        return
    now = datetime.datetime.now(datetime.timezone.utc)
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    interval = (f"{(now - datetime.timedelta(days=1)).strftime(fmt)}/"
                f"{(now + datetime.timedelta(minutes=1)).strftime(fmt)}")
    body = mk(pc.AuditRealtimeQueryRequest, interval=interval,
              service_name="SpeechAndTextAnalytics",
              filters=[mk(pc.AuditQueryFilter, pcProperty="EntityId", value=topic.id)],
              sort=[mk(pc.AuditQuerySort, name="Timestamp", sort_order="ascending")],
              page_number=1, page_size=25)
    page = call(api.post_audits_query_realtime, body)
    if page is None:
        return
    REC.expect(route, page.total == 1 and len(page.entities or []) == 1,
               f"one record of the created topic expected, got {page.total}")
    for e in page.entities or []:
        REC.expect(route, e.action == "Create" and e.entity_type == "Topic"
                   and e.entity is not None and e.entity.id == topic.id
                   and e.service_name == "SpeechAndTextAnalytics" and e.status == "SUCCESS",
                   f"unexpected record {e}")
        REC.expect(route, e.client is not None and bool(e.client.id),
                   "a record names the OAuth client")
    # Beyond the realtime query's 14 days: a 400 naming the interval.
    old = mk(pc.AuditRealtimeQueryRequest,
             interval=f"{(now - datetime.timedelta(days=30)).strftime(fmt)}/{now.strftime(fmt)}",
             service_name="SpeechAndTextAnalytics")
    err = call(api.post_audits_query_realtime, old, expect_status=400)
    if err is not None:
        expect_400_naming(route, err, "interval", "a 30-day realtime query")


def sec_detection(ctx):
    """SPEC 8.8: transcript aggregates grouped by topic, and test-phrase jobs."""
    # A published topic the seeded transcripts mention.
    req = mk(pc.TopicRequest, name="Conformance disclosure", dialect="en-US",
             strictness="72", participants="Internal", matching_type="Lexical",
             phrases=[mk(pc.Phrase, text="this call may be recorded")])
    topic = create_topic(ctx, req)
    if topic is None:
        return
    job = call(ctx.api.post_speechandtextanalytics_topics_publishjobs,
               mk(pc.TopicJobRequest, topic_ids=[topic.id]))
    if job is not None:
        poll_job(ctx, ctx.api.get_speechandtextanalytics_topics_publishjob, R_TOPIC_JOB, job.id)
    now = datetime.datetime.now(datetime.timezone.utc)
    start = now - datetime.timedelta(days=7)
    fmt = "%Y-%m-%dT%H:%M:%S.000Z"
    query = mk(pc.TranscriptAggregationQuery,
               interval=f"{start.strftime(fmt)}/{now.strftime(fmt)}",
               group_by=["topicId"], metrics=["nTopicCommunications"],
               filter=mk(pc.TranscriptAggregateQueryFilter, type="or", predicates=[
                   mk(pc.TranscriptAggregateQueryPredicate, type="dimension",
                      dimension="topicId", operator="matches", value=topic.id)]))
    route = "POST /api/v2/analytics/transcripts/aggregates/query"
    resp = call(pc.AnalyticsApi(ctx.client).post_analytics_transcripts_aggregates_query, query)
    if resp is not None:
        counts = [m.stats.count for r in (resp.results or []) for d in (r.data or [])
                  for m in (d.metrics or []) if m.metric == "nTopicCommunications"]
        REC.expect(route, counts and counts[0] > 0,
                   f"the seeded transcripts should mention the topic: {counts}")
    phrase_req = mk(pc.TestTopicPhraseJobRequest,
                    topic=mk(pc.TestTopicPhraseTopic,
                             phrase=mk(pc.TestTopicPhrasePhrase, text="close my account"),
                             strictness="72", matching_type="Lexical", dialect="en-US",
                             participants="External"),
                    transcripts_filters=mk(pc.TranscriptsFilters, media_type="all"))
    job = call(ctx.api.post_speechandtextanalytics_topics_testphrase_jobs, phrase_req)
    route = f"GET {STA}/topics/testphrase/jobs/{{id}}"
    if job is not None:
        done = None
        for _ in range(40):
            done = call(ctx.api.get_speechandtextanalytics_topics_testphrase_job, job.id)
            if done is None or done.state in ("Completed", "Failed", OUTDATED):
                break
            time.sleep(0.05)
        if done is not None:
            REC.expect(route, done.state == "Completed", f"job ended {done.state!r}")
            REC.expect(route, (done.processed_transcripts_count or 0) > 0
                       and (done.matched_transcripts_count or 0) > 0,
                       f"counts {done.processed_transcripts_count}/{done.matched_transcripts_count}")
    # `name` is the queue's name; asterisks at either end widen it (SDK 269
    # RoutingApi.get_routing_queues).
    for name, expected in (("Retention", []), ("Retention EN", ["Retention EN"]),
                           ("Retention*", ["Retention EN", "Retention ES"]),
                           ("*EN", ["Retention EN"]), ("*care*", ["Customer care UK"])):
        queues = call(pc.RoutingApi(ctx.client).get_routing_queues, name=name)
        if queues is not None:
            REC.expect("GET /api/v2/routing/queues",
                       sorted(q.name for q in queues.entities or []) == expected,
                       f"name filter {name!r}: {[q.name for q in queues.entities or []]}")
    flows = call(pc.ArchitectApi(ctx.client).get_flows, type=["inboundcall"])
    if flows is not None:
        REC.expect("GET /api/v2/flows", len(flows.entities or []) == 2,
                   f"flows: {[f.name for f in flows.entities or []]}")
    # Several types: the flows of any of them.
    flows = call(pc.ArchitectApi(ctx.client).get_flows, type=["inboundcall", "outboundcall"])
    if flows is not None:
        REC.expect("GET /api/v2/flows", len(flows.entities or []) == 3,
                   f"flows of two types: {[f.name for f in flows.entities or []]}")

    # Daily buckets: each datum spans at most a day and they add up to the whole.
    route = "POST /api/v2/analytics/transcripts/aggregates/query"
    daily = mk(pc.TranscriptAggregationQuery, interval=query.interval, granularity="P1D",
               group_by=["topicId"], metrics=["nTopicCommunications"], filter=query.filter)
    resp_daily = call(pc.AnalyticsApi(ctx.client).post_analytics_transcripts_aggregates_query,
                      daily)
    if resp is not None and resp_daily is not None:
        def total(r):
            return sum(m.stats.count for x in (r.results or []) for d in (x.data or [])
                       for m in (d.metrics or []) if m.metric == "nTopicCommunications")
        data = [d for x in (resp_daily.results or []) for d in (x.data or [])]
        spans = []
        for d in data:
            a, b = (isoparse(t) for t in d.interval.split("/"))
            spans.append((b - a).total_seconds())
        REC.expect(route, len(data) > 1 and all(s <= 86400 for s in spans),
                   f"P1D buckets over 7 days: {[d.interval for d in data]}")
        REC.expect(route, total(resp_daily) == total(resp),
                   f"daily counts {total(resp_daily)} do not add up to {total(resp)}")

    # A test-phrase job for one program: the transcripts of its queues only.
    program = create_program(ctx, mk(pc.ProgramRequest, name="Conformance retention EN",
                                     topic_ids=[topic.id]))
    if program is not None:
        call(ctx.api.put_speechandtextanalytics_program_mappings, program.id,
             mk(pc.ProgramMappingsRequest, queue_ids=["q-retention-en"], flow_ids=[]))
        counts = {}
        for label, programs in (("all", None), ("one program", [program.id])):
            filters = mk(pc.TranscriptsFilters, media_type="all", programs=programs)
            req = mk(pc.TestTopicPhraseJobRequest, topic=phrase_req.topic,
                     transcripts_filters=filters)
            started = call(ctx.api.post_speechandtextanalytics_topics_testphrase_jobs, req)
            done = None
            for _ in range(40):
                if started is None:
                    break
                done = call(ctx.api.get_speechandtextanalytics_topics_testphrase_job, started.id)
                if done is None or done.state != "Running":
                    break
            counts[label] = done.processed_transcripts_count if done is not None else None
        REC.expect(f"GET {STA}/topics/testphrase/jobs/{{id}}",
                   counts.get("one program") and counts.get("all")
                   and counts["one program"] < counts["all"],
                   f"the programs filter selects a program's transcripts: {counts}")

    # Every program's mappings, paged.
    route = f"GET {STA}/programs/mappings"
    listing = call(ctx.api.get_speechandtextanalytics_programs_mappings, page_size=1)
    if listing is not None:
        REC.expect(route, len(listing.entities or []) == 1 and listing.next_uri,
                   "programs/mappings at pageSize 1 must give one entry and a nextUri")
        seen = [e.program.id for e in listing.entities or []]
        while listing is not None and listing.next_uri:
            nxt = urllib.parse.parse_qs(urllib.parse.urlsplit(listing.next_uri).query)
            listing = call(ctx.api.get_speechandtextanalytics_programs_mappings, page_size=1,
                           next_page=nxt.get("nextPage", [""])[0])
            if listing is not None:
                seen.extend(e.program.id for e in listing.entities or [])
        REC.expect(route, program is None or program.id in seen,
                   "programs/mappings lacks a program")
        REC.expect(route, len(seen) == len(set(seen)), "programs/mappings repeats a program")


def sec_rate_limit(binary):
    """A 429 surfaces at once (SDK retries off) and its body is an ErrorBody."""
    sandbox = Sandbox(binary, rate_limit=1)
    try:
        api = pc.SpeechTextAnalyticsApi(sdk_client(sandbox.url))
        api.get_speechandtextanalytics_topics(page_size=1)  # uses the only request
        started = time.monotonic()
        try:
            api.get_speechandtextanalytics_topics(page_size=1)
        except ApiException as e:
            route = REC.last_route
            err = check_error_body(route, e, 429) or {}
            REC.expect(route, err.get("code") == "too.many.requests.retry.after",
                       f"429 code {err.get('code')!r}")
            REC.expect(route, (e.headers or {}).get("Retry-After"), "429 without Retry-After")
        else:
            REC.problem(REC.last_route, "--rate-limit 1: the second request was not a 429")
        REC.expect(REC.last_route, time.monotonic() - started < 5,
                   "the SDK waited on a 429: its retry is not disabled")
    finally:
        sandbox.stop()


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    binary = os.path.abspath(sys.argv[1])
    if not os.access(binary, os.X_OK):
        sys.exit(f"sdk-conformance: {binary} is not an executable")
    version = importlib.metadata.version("PureCloudPlatformClientV2")
    if version != SDK_VERSION:
        sys.exit(f"sdk-conformance: PureCloudPlatformClientV2 {version} is installed, "
                 f"{SDK_VERSION} is required")
    # SIGTERM (a CI timeout) unwinds through the `finally`s that stop the sandboxes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    try:
        sandbox = Sandbox(binary, rate_limit=100000)
    except RuntimeError as e:
        sys.exit(f"sdk-conformance: {e}")
    # Past the deadline the sandbox is killed, so every later request fails fast.
    watchdog = threading.Timer(DEADLINE_SECS, sandbox.proc.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        ctx = Ctx(sdk_client(sandbox.url))
        for section in (sec_topics, sec_programs, sec_program_mappings,
                        sec_program_engines, sec_sentiment_feedback,
                        sec_dictionary_feedback, sec_categories, sec_settings, sec_org,
                        sec_audits, sec_detection, sec_rejects):
            try:
                section(ctx)
            except Exception as e:
                REC.problem(REC.last_route, f"{section.__name__} crashed: {e!r}\n"
                            + traceback.format_exc())
        try:
            sec_rate_limit(binary)
        except Exception as e:
            REC.problem(REC.last_route, f"sec_rate_limit crashed: {e!r}")
    finally:
        watchdog.cancel()
        sandbox.stop()
    for route in EXPECTED_ROUTES:
        if route not in REC.routes:
            REC.problem(route, "route not exercised")
    elapsed = time.monotonic() - started
    if elapsed > DEADLINE_SECS:
        REC.problem("(run)", f"took {elapsed:.0f} s, over the {DEADLINE_SECS} s budget")

    n = REC.total()
    if n:
        print(f"SDK conformance problems (PureCloudPlatformClientV2 {SDK_VERSION}):")
        for route, msgs in REC.problems.items():
            print(f"\n{route}")
            for msg, count in msgs.items():
                print(f"  - {msg}" + (f"  (x{count})" if count > 1 else ""))
        print()
    covered = len([r for r in EXPECTED_ROUTES if r in REC.routes])
    print(f"sdk-conformance: {covered}/{len(EXPECTED_ROUTES)} routes exercised, "
          f"{REC.checked} responses checked, {n} problems ({elapsed:.1f} s)")
    return 1 if n else 0


if __name__ == "__main__":
    sys.exit(main())
