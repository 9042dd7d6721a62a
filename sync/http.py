"""The terminal's HTTP client of the club server: timeouts, retries, deadlines, errors.

:class:`SyncClient` wraps one :class:`requests.Session` (one per thread: a
session is not meant to be shared). Every call has a timeout (connect 5 s,
read 30 s unless told otherwise) and runs under an overall deadline. Calls
are retried with exponential backoff and full jitter (:class:`RetryPolicy`)
when the connection fails or times out (not when TLS verification fails)
and when the server answers 429 or 5xx, and only when retrying is safe: a
GET always, a POST only when the caller says every item in it carries an
idempotency key. A POST that never reached the server (connection refused,
connect timeout) is safe to retry either way.

Foreign exceptions are mapped here, where they enter (``raise ... from exc``)::

    requests SSLError                      -> ServerUnreachableError (TLS), hint --ca-bundle
    ConnectionError, Timeout, 429, 5xx     -> ServerUnreachableError (after the retries)
    403 terminal-revoked                   -> TerminalRevokedError
    any other 4xx                          -> ServerRejectedError(code, status)
    a 2xx without X-Club-Protocol: 1, or
    a body that is not the JSON expected,
    pydantic ValidationError (wire model)  -> ProtocolError (parse_answer)
    a malformed server URL                 -> ConfigError

TLS is verified by default; ``ca_bundle`` names a PEM file of trusted CAs. The
credential is sent as ``Authorization: Bearer <credential>`` and never appears
in a message, a log line or ``repr()``.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter

from clubcore.errors import (
    ConfigError,
    ProtocolError,
    ServerRejectedError,
    ServerUnreachableError,
    TerminalRevokedError,
)
from clubcore.wire import summary

__all__ = [
    "DEFAULT_POLICY",
    "DEFAULT_TIMEOUTS",
    "PROTOCOL_VERSION",
    "RetryPolicy",
    "SyncClient",
    "Timeouts",
    "error_from_response",
    "parse_answer",
]

log = logging.getLogger(__name__)

#: the major version of docs/sync-protocol.md this client speaks
PROTOCOL_VERSION = 1
_PROTOCOL_HEADER = "X-Club-Protocol"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_USER_AGENT = "club-terminal-sync/1"
M = TypeVar("M", bound=BaseModel)


def parse_answer(model: type[M], data: object, what: str) -> M:
    """A server's answer checked with its wire model (``clubcore.wire``).

    Arguments:
        model: the message's model.
        data: the decoded JSON.
        what: the call, for the message (``GET /v1/changes``).

    Raises:
        ProtocolError: the answer is not that message (the first problems named).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ProtocolError(f"{what}: {summary(exc)}") from exc


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and for each read from the socket."""

    connect: float = 5.0
    read: float = 30.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When and how long to wait before trying a failed call again.

    ``attempts`` counts every try (1 means no retry). The wait before retry
    ``n`` (0-based) is drawn uniformly from ``[0, min(cap, base * 2**n)]``
    ("full jitter"); a server's ``Retry-After`` raises it, the operation's
    ``deadline`` (seconds) bounds everything.
    """

    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0
    deadline: float = 120.0

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first retry).

        Arguments:
            retry: how many retries came before this one.
            rng: the random source [default: the module's].

        Returns:
            a delay in ``[0, min(cap, base * 2**retry)]``.
        """
        ceiling = min(self.cap, self.base * (2 ** min(retry, 62)))
        return (rng or random).uniform(0.0, ceiling)


#: the defaults of the protocol (connect 5 s, read 30 s; five tries within two minutes)
DEFAULT_TIMEOUTS = Timeouts()
DEFAULT_POLICY = RetryPolicy()


def _retry_after(response: requests.Response) -> float | None:
    """The response's ``Retry-After`` in seconds, if it has a usable one."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_body(response: requests.Response) -> tuple[str, str]:
    """The ``(error, message)`` of an error answer; best effort for non-protocol bodies."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"], str(body.get("message") or body["error"])
    text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
    return "", text or (response.reason or "no explanation")


def error_from_response(response: requests.Response, what: str) -> Exception:
    """The error for a 4xx or 5xx answer to ``what`` (e.g. ``GET /v1/changes``).

    Arguments:
        response: an answer with status 400 or more.
        what: the call, for the message.

    Returns:
        TerminalRevokedError for ``403 terminal-revoked``, ServerRejectedError
        for any other 4xx except 429, ServerUnreachableError for 429 and 5xx.
    """
    code, message = _error_body(response)
    status = response.status_code
    if status == 429 or status >= 500:
        return ServerUnreachableError(
            f"{what}: the server answered {status} {code or response.reason}: {message}",
            hint="the server is busy or failing; the terminal retries later",
        )
    if status == 403 and code == "terminal-revoked":
        return TerminalRevokedError(
            f"{what}: this terminal was revoked on the club server: {message}",
            code=code,
            status=status,
            hint="ask the club operator; re-provision with a new enrollment code",
        )
    hint = "the terminal credential is wrong or missing" if status == 401 else None
    return ServerRejectedError(
        f"{what}: the server refused the request ({status} {code or response.reason}): {message}",
        code=code,
        status=status,
        hint=hint,
    )


class SyncClient:
    """Calls the club server's ``/v1`` API with timeouts, retries and a deadline.

    Arguments:
        base_url: ``https://host[:port]`` (``http://`` for tests on loopback).
        credential: ``<terminal_id>.<secret>``; None for health and enrollment.
        ca_bundle: a PEM file of CAs to trust instead of the system's.
        timeouts: connect and read timeouts.
        policy: the retry policy and the default deadline.
        sleep: waits between retries (tests pass a fake).
        rng: the jitter's random source.

    Raises:
        ConfigError: the URL is not http(s), or the CA bundle does not exist.
    """

    def __init__(
        self,
        base_url: str,
        *,
        credential: str | None = None,
        ca_bundle: str | Path | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        url = base_url.strip().rstrip("/")
        if not url.startswith(("https://", "http://")) or len(url.split("://", 1)[1]) == 0:
            raise ConfigError("server", f"{base_url!r} is not an http(s) URL")
        if ca_bundle is not None and not Path(ca_bundle).is_file():
            raise ConfigError("ca_bundle", f"{ca_bundle} is not a file")
        self.base_url = url
        self.timeouts = timeouts
        self.policy = policy
        self.sleep = sleep
        self._rng = rng or random.Random()
        self._session = requests.Session()
        self._session.mount("https://", HTTPAdapter(max_retries=0))
        self._session.mount("http://", HTTPAdapter(max_retries=0))
        self._session.verify = str(ca_bundle) if ca_bundle is not None else True
        self._session.headers["User-Agent"] = _USER_AGENT
        self._session.trust_env = False  # no proxies or netrc credentials from the environment
        if credential is not None:
            self._session.headers["Authorization"] = f"Bearer {credential}"

    def __repr__(self) -> str:
        return f"SyncClient({self.base_url!r})"

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the one place requests are sent ---------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: bytes | None = None,
        retry_post: bool = False,
        stream: bool = False,
        read_timeout: float | None = None,
        deadline: float | None = None,
    ) -> requests.Response:
        """Send one call, retrying as the policy allows; return a 2xx answer.

        Arguments:
            method: ``GET`` or ``POST``.
            path: from ``/v1/...``.
            params: the query string.
            body: a JSON body, already encoded.
            retry_post: every item of this POST carries an idempotency key.
            stream: leave the body unread (the caller iterates and closes it).
            read_timeout: seconds per socket read [default: ``timeouts.read``].
            deadline: seconds for the whole call, retries included
                [default: ``policy.deadline``].

        Returns:
            the response (status 2xx, protocol header checked).

        Raises:
            ServerUnreachableError: no answer, TLS failure, or 429/5xx until the
                retries or the deadline ran out.
            TerminalRevokedError, ServerRejectedError: a 4xx answer.
            ProtocolError: the server speaks another protocol version.
        """
        what = f"{method} {path}"
        retryable = method == "GET" or retry_post
        stop_at = time.monotonic() + (deadline if deadline is not None else self.policy.deadline)
        retry = 0
        while True:
            remaining = max(stop_at - time.monotonic(), 0.1)
            timeout = (
                min(self.timeouts.connect, remaining),
                min(read_timeout or self.timeouts.read, remaining),
            )
            outcome = self._attempt(method, path, what, retryable, timeout, params, body, stream)
            if isinstance(outcome, requests.Response):
                return outcome
            error, cause, wait_hint = outcome
            wait = max(self.policy.backoff(retry, self._rng), wait_hint or 0.0)
            retry += 1
            if retry >= self.policy.attempts or time.monotonic() + wait >= stop_at:
                raise error from cause
            log.info("%s failed (%s); retry %d in %.2f s", what, error, retry, wait)
            self.sleep(wait)

    def _attempt(
        self,
        method: str,
        path: str,
        what: str,
        retryable: bool,
        timeout: tuple[float, float],
        params: Mapping[str, Any] | None,
        body: bytes | None,
        stream: bool,
    ) -> requests.Response | tuple[Exception, BaseException, float | None]:
        """One try: a 2xx response, or ``(error, cause, Retry-After)`` worth retrying.

        Raises:
            the mapped error when retrying is unsafe or cannot help.
        """
        try:
            response = self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=body,
                headers={"Content-Type": "application/json"} if body is not None else None,
                timeout=timeout,
                stream=stream,
            )
        except requests.exceptions.RequestException as exc:
            error = self._map_exception(exc, what)
            tls = isinstance(exc, requests.exceptions.SSLError)  # retrying cannot fix it
            if tls or not (retryable or _never_sent(exc)):
                raise error from exc
            return error, exc, None
        if response.status_code < 400:
            self._check_protocol(response, what)
            return response
        error = error_from_response(response, what)
        response.close()
        if not (retryable and response.status_code in _RETRY_STATUSES):
            raise error
        return error, error, _retry_after(response)

    def _map_exception(self, exc: requests.exceptions.RequestException, what: str) -> Exception:
        """The error of ours for a requests exception."""
        if isinstance(exc, requests.exceptions.SSLError):
            return ServerUnreachableError(
                f"{what}: TLS with {self.base_url} failed: {_reason(exc)}",
                hint="check the server's certificate and the clock, or pass --ca-bundle",
            )
        if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
            return ConfigError("server", f"{self.base_url!r} is not a usable URL: {exc}")
        if isinstance(exc, requests.exceptions.Timeout):
            return ServerUnreachableError(f"{what}: {self.base_url} timed out")
        return ServerUnreachableError(
            f"{what}: cannot reach {self.base_url}: {_reason(exc)}",
            hint="check the network and the server address",
        )

    @staticmethod
    def _check_protocol(response: requests.Response, what: str) -> None:
        version = response.headers.get(_PROTOCOL_HEADER)
        try:
            major = int(str(version).split(".", 1)[0])
        except ValueError:
            major = None
        if major != PROTOCOL_VERSION:
            response.close()
            raise ProtocolError(
                f"{what}: the server speaks sync protocol {version or 'unknown'}, "
                f"this terminal {PROTOCOL_VERSION}",
                hint="is this the club server? update the terminal or the server",
            )

    # -- JSON helpers ------------------------------------------------------------

    def get_json(
        self, path: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        """GET ``path`` and return its JSON object.

        Raises:
            the errors of :meth:`request`; ProtocolError when the body is not
            a JSON object.
        """
        return _json_object(self.request("GET", path, params=params, **options), f"GET {path}")

    def get_model(
        self, path: str, model: type[M], params: Mapping[str, Any] | None = None, **options: Any
    ) -> M:
        """GET ``path`` and return its answer as ``model``.

        Raises:
            the errors of :meth:`get_json`; ProtocolError when the answer is not ``model``.
        """
        return parse_answer(model, self.get_json(path, params, **options), f"GET {path}")

    def post_model(
        self,
        path: str,
        body: Mapping[str, Any] | bytes,
        model: type[M],
        *,
        retry_post: bool,
        **options: Any,
    ) -> M:
        """POST a JSON body and return the answer as ``model``.

        Raises:
            the errors of :meth:`post_json`; ProtocolError when the answer is not ``model``.
        """
        data = self.post_json(path, body, retry_post=retry_post, **options)
        return parse_answer(model, data, f"POST {path}")

    def post_json(
        self, path: str, body: Mapping[str, Any] | bytes, *, retry_post: bool, **options: Any
    ) -> dict[str, Any]:
        """POST a JSON body (a mapping, or bytes already encoded) and return the JSON answer.

        Arguments:
            retry_post: every item in the body carries an idempotency key.

        Raises:
            the errors of :meth:`request`; ProtocolError when the answer is not
            a JSON object.
        """
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.request("POST", path, body=data, retry_post=retry_post, **options)
        return _json_object(response, f"POST {path}")


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise ProtocolError(f"{what}: the answer is not JSON") from exc
    except requests.exceptions.RequestException as exc:
        raise ServerUnreachableError(f"{what}: the answer was cut off: {_reason(exc)}") from exc
    if not isinstance(data, dict):
        raise ProtocolError(f"{what}: the answer is not a JSON object")
    return data


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    """True when the request surely did not reach the server (safe to retry any method)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    text = repr(exc.args[0]) if exc.args else ""
    return isinstance(exc, requests.exceptions.ConnectionError) and (
        "NewConnectionError" in text or "Connection refused" in text
    )


def _reason(exc: BaseException) -> str:
    """The innermost useful explanation of a requests/urllib3 exception."""
    inner: BaseException = exc
    while inner.args and isinstance(inner.args[0], BaseException):
        inner = inner.args[0]
    reason = getattr(inner, "reason", None)
    if isinstance(reason, BaseException):
        inner = reason
    text = str(inner)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text
