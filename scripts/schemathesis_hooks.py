"""Schemathesis hooks for scripts/schemathesis.sh.

Request bodies that are not UTF-8 are left out: `cargo lambda watch`, the local API Gateway emulator, answers
them with its own 500 before any function runs (API Gateway itself hands such a body to the function
base64-encoded). The functions' answer to such a body (400) is a case of tests/rust/attacks.rs
(`body-invalid-utf8`).
"""

import schemathesis


@schemathesis.hook
def filter_body(ctx, body):
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True
