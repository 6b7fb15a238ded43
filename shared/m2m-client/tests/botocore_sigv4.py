"""Signs a request with botocore's SigV4Auth, an implementation independent of the aws-sigv4 crate.

Reads one JSON object on stdin (method, url, headers, body, accessKeyId, secretAccessKey, sessionToken,
region, service, unixTime) and prints the headers of the signed request as a JSON object with lower-case
names. The signing time is fixed by replacing botocore's clock for this one call.
Run by shared/m2m-client/tests/client.rs (sigv4 module) with the project's .venv/bin/python.
"""
import datetime
import json
import sys

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.load(sys.stdin)
fixed = datetime.datetime.fromtimestamp(spec["unixTime"], tz=datetime.timezone.utc).replace(tzinfo=None)
botocore.auth.get_current_datetime = lambda: fixed

request = AWSRequest(
    method=spec["method"],
    url=spec["url"],
    data=spec["body"].encode(),
    headers=spec["headers"],
)
credentials = Credentials(spec["accessKeyId"], spec["secretAccessKey"], spec.get("sessionToken"))
botocore.auth.SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
print(json.dumps({name.lower(): value for name, value in request.headers.items()}, sort_keys=True))
