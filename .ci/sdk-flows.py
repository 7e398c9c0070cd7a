#!/usr/bin/env python3
"""The main guest and host flows, through the Python client generated from openapi/openapi.json.

    sdk-flows.py --client DIR --binary PATH

DIR is the project openapi-python-client generated (it holds the package `staybase_client`;
.ci/lint-openapi makes it), PATH a built `staybase`. The script creates a marketplace with the
CLI on a fresh SQLite database in a temporary directory, serves it on a free loopback port
(rate limits off), and then talks to it through the generated client only: no raw HTTP.

Every call must answer the expected status with a body the client parses into the expected
model. The parsed model is then checked against the document: a field that came back `null`
where the schema does not allow it, or a field the schema does not name, fails the call. So a
response schema that does not match what the server sends cannot pass. The first failing call
is reported by name with its status and body, followed by the end of the server's log.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
import zlib
from pathlib import Path
from typing import Any

TENANT = "acme"
PASSWORD = "correct-horse-battery-9"


class FlowFailure(Exception):
    """A call that did not answer as the flow expects."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def png(width: int, height: int) -> bytes:
    """A small RGB PNG, written by hand so that no imaging library is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 8 % 256, y * 8 % 256, 90)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def where_in_client(err: BaseException) -> str:
    """The lines of the generated client an exception came through, from the operation's
    parser inwards (which model could not parse what, when a response does not match its
    schema)."""
    marker = f"{os.sep}staybase_client{os.sep}"
    lines = [
        f"staybase_client/{frame.filename.split(marker, 1)[1]}:{frame.lineno}: {frame.line}"
        for frame in traceback.extract_tb(err.__traceback__)
        if marker in frame.filename and "_parse_response" != frame.name != "sync_detailed"
    ]
    return "".join(f"\n    at {line}" for line in lines)


def schema_problems(value: Any, path: str) -> list[str]:
    """Where a parsed model disagrees with its schema: `null` in a field whose type does not
    allow None (the generator leaves such a null in place instead of failing), and fields the
    schema does not name (kept in `additional_properties`)."""
    import attrs

    problems: list[str] = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            problems += schema_problems(item, f"{path}[{index}]")
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            if field.name == "additional_properties":
                extra = getattr(value, field.name)
                if extra:
                    problems.append(f"{path}: fields the schema does not name: {sorted(extra)}")
                continue
            item = getattr(value, field.name)
            annotation = field.type if isinstance(field.type, str) else repr(field.type)
            if item is None and "None" not in annotation:
                problems.append(f"{path}.{field.name} is null, but the schema says {annotation}")
            problems += schema_problems(item, f"{path}.{field.name}")
    return problems


def operation(path: str):
    """The generated module of an operation, `tag.operation_id`; a missing one (the generator
    drops operations it cannot model) fails the flows by name."""
    try:
        return importlib.import_module(f"staybase_client.api.{path}")
    except ImportError as err:
        raise FlowFailure(
            f"{path.split('.')[-1]}: not in the generated client ({err}); the generator drops "
            "operations it cannot model: see its warnings"
        ) from err


class Models:
    """`staybase_client.models`, where a missing schema (the generator drops schemas it
    cannot model) fails the flows by name."""

    def __getattr__(self, name: str):
        from staybase_client import models

        try:
            return getattr(models, name)
        except AttributeError:
            raise FlowFailure(
                f"schema {name}: not in the generated client; the generator drops schemas it "
                "cannot model: see its warnings"
            ) from None


class Flows:
    def __init__(self, base_url: str) -> None:
        import staybase_client

        self.sdk = staybase_client
        self.base_url = base_url
        self.calls = 0

    def anonymous(self):
        return self.sdk.Client(base_url=self.base_url, raise_on_unexpected_status=True)

    def signed_in(self, token: str):
        return self.sdk.AuthenticatedClient(
            base_url=self.base_url, token=token, raise_on_unexpected_status=True
        )

    def call(self, what: str, path: str, status: int, model, **kwargs):
        """The operation `path` (`tag.operation_id`) called with `kwargs` must answer `status`
        parsed into `model` (`None`: an answer without a body)."""
        module = operation(path)
        try:
            response = module.sync_detailed(**kwargs)
        except Exception as err:  # noqa: BLE001 - any failure of the client is the finding
            raise FlowFailure(
                f"{what}: the client raised {type(err).__name__}: {err}{where_in_client(err)}"
            ) from err
        body = response.content.decode("utf-8", "replace")[:2000]
        if int(response.status_code) != status:
            raise FlowFailure(
                f"{what}: status {int(response.status_code)}, expected {status}: {body}"
            )
        if model is None:
            if response.content:
                raise FlowFailure(f"{what}: expected no body, got {body}")
        else:
            if response.parsed is None or not isinstance(response.parsed, model):
                raise FlowFailure(
                    f"{what}: parsed as {type(response.parsed).__name__}, "
                    f"expected {model.__name__}: {body}"
                )
            problems = schema_problems(response.parsed, model.__name__)
            if problems:
                raise FlowFailure(f"{what}: " + "; ".join(problems) + f": {body}")
        self.calls += 1
        print(f"ok  {what}: {int(response.status_code)} {model.__name__ if model else '(no body)'}")
        return response

    def check(self, what: str, condition: bool, detail: Any = "") -> None:
        if not condition:
            raise FlowFailure(f"{what}: {detail}")

    def run(self) -> None:
        from staybase_client.types import File

        models = Models()
        anonymous = self.anonymous()
        tenant = self.call(
            "get_tenant", "tenants.get_tenant", 200, models.Tenant, tenant=TENANT, client=anonymous
        )
        currency = tenant.parsed.currency

        def sign_in(email: str):
            body = models.LoginRequest.from_dict({"email": email, "password": PASSWORD})
            return self.call(
                f"login {email}",
                "auth.login",
                200,
                models.TokenResponse,
                tenant=TENANT,
                client=anonymous,
                body=body,
            ).parsed

        def update_settings(what: str, change: dict):
            return self.call(
                f"update_settings {what}",
                "tenants.update_settings",
                200,
                models.TenantSettings,
                tenant=TENANT,
                client=admin,
                body=models.SettingsUpdate.from_dict(change),
            ).parsed

        # The tenant admin (made by the CLI) decides who hosts: no self-service hosting here.
        admin = self.signed_in(sign_in("admin@example.com").access_token)
        settings = update_settings("self_service_hosts=false", {"self_service_hosts": False})
        self.check("no self-service hosts", settings.self_service_hosts is False)

        # Sign-ups (202, no body) and sign-ins.
        for email, first, host in [
            ("host@example.com", "Hana", True),
            ("guest@example.com", "Gus", False),
        ]:
            body = models.RegisterRequest.from_dict(
                {
                    "email": email,
                    "password": PASSWORD,
                    "first_name": first,
                    "last_name": "Flow",
                    "host": host,
                }
            )
            self.call(
                f"register {email}",
                "auth.register",
                202,
                None,
                tenant=TENANT,
                client=anonymous,
                body=body,
            )
        host_session = sign_in("host@example.com")
        guest_session = sign_in("guest@example.com")
        guest = self.signed_in(guest_session.access_token)
        refreshed = self.call(
            "refresh_token (guest)",
            "auth.refresh_token",
            200,
            models.TokenResponse,
            tenant=TENANT,
            client=anonymous,
            body=models.RefreshRequest.from_dict({"refresh_token": guest_session.refresh_token}),
        ).parsed
        guest = self.signed_in(refreshed.access_token)

        # The host asked to host; the tenant admin lets them, and they sign in again.
        roles = [str(role) for role in host_session.user.roles]
        self.check("the host is a guest until allowed", roles == ["guest"], roles)
        account = self.call(
            "set_user_roles (the host hosts)",
            "users.set_user_roles",
            200,
            models.UserAccount,
            tenant=TENANT,
            id=host_session.user.id,
            client=admin,
            body=models.RolesUpdate.from_dict({"roles": ["guest", "host"]}),
        ).parsed
        roles = sorted(str(role) for role in account.roles)
        self.check("the host hosts", roles == ["guest", "host"], roles)
        host_session = sign_in("host@example.com")
        host = self.signed_in(host_session.access_token)

        # The host lists a property with a photo, and sees it among their own.
        new_property = models.NewProperty.from_dict(
            {
                "name": "Flat by the canal",
                "description": "Two rooms on a quiet street.",
                "location": {
                    "address": "12 Quai de Valmy",
                    "city": "Paris",
                    "country": "FR",
                    "lat": 48.8718,
                    "lng": 2.364,
                },
                "nightly_price": {"amount": 12500, "currency": currency},
                "cleaning_fee": {"amount": 4000, "currency": currency},
                "max_guests": 4,
                "status": "listed",
            }
        )
        created = self.call(
            "create_property",
            "properties.create_property",
            201,
            models.Property,
            tenant=TENANT,
            client=host,
            body=new_property,
        ).parsed
        property_id = created.id
        photo = models.UploadPropertyImageBody(
            file=File(payload=io.BytesIO(png(40, 30)), file_name="flat.png", mime_type="image/png")
        )
        image = self.call(
            "upload_property_image",
            "properties.upload_property_image",
            202,
            models.PropertyImage,
            tenant=TENANT,
            id=property_id,
            client=host,
            body=photo,
        ).parsed
        own = self.call(
            "list_properties owner=me",
            "properties.list_properties",
            200,
            models.PropertyPage,
            tenant=TENANT,
            client=host,
            owner="me",
        ).parsed
        self.check("list_properties owner=me", [p.id for p in own.data] == [property_id], own.data)

        # Anyone searches and looks at the property, its photo and availability.
        today = datetime.date.today()
        check_in, check_out = (
            today + datetime.timedelta(days=30),
            today + datetime.timedelta(days=33),
        )
        found = self.call(
            "list_properties (search)",
            "properties.list_properties",
            200,
            models.PropertyPage,
            tenant=TENANT,
            client=anonymous,
            city="Paris",
            check_in=check_in,
            check_out=check_out,
            guests=2,
        ).parsed
        self.check(
            "search finds the property", property_id in [p.id for p in found.data], found.data
        )

        deadline = time.monotonic() + 30
        while True:
            detail = self.call(
                "get_property",
                "properties.get_property",
                200,
                models.Property,
                tenant=TENANT,
                id=property_id,
                client=anonymous,
            ).parsed
            statuses = [str(photo.status) for photo in detail.images]
            if statuses == ["ready"]:
                break
            self.check("the photo's renditions are made", time.monotonic() < deadline, statuses)
            time.sleep(0.5)
        self.check("get_property shows the photo", detail.images[0].id == image.id, detail.images)
        thumbnail = self.call(
            "get_property_image thumbnail",
            "properties.get_property_image",
            200,
            File,
            tenant=TENANT,
            id=property_id,
            image_id=image.id,
            size="thumbnail",
            client=anonymous,
        ).parsed
        self.check("the thumbnail is a JPEG", thumbnail.payload.read(3) == b"\xff\xd8\xff")

        availability = self.call(
            "get_availability",
            "properties.get_availability",
            200,
            models.Availability,
            tenant=TENANT,
            id=property_id,
            client=anonymous,
            from_=check_in,
            to=check_out,
        ).parsed
        self.check(
            "every night is available",
            [str(night.status) for night in availability.nights] == ["available"] * 3,
            availability.nights,
        )

        stay = {"check_in": check_in.isoformat(), "check_out": check_out.isoformat(), "guests": 2}
        quote = self.call(
            "quote_stay",
            "properties.quote_stay",
            200,
            models.Quote,
            tenant=TENANT,
            id=property_id,
            client=guest,
            body=models.QuoteRequest.from_dict(stay),
        ).parsed
        self.check("3 nights x 125.00 + 40.00 cleaning", quote.total.amount == 41500, quote.total)

        # The guest books (instant mode: an unpaid hold); a retry with the same key answers the
        # same booking.
        def book(what: str, body: dict, key: str):
            return self.call(
                what,
                "bookings.create_booking",
                201,
                models.Booking,
                tenant=TENANT,
                client=guest,
                body=models.NewBookingRequest.from_dict(body),
                idempotency_key=key,
            )

        booking_body = {"property_id": str(property_id), **stay}
        key = str(uuid.uuid4())
        booking = book("create_booking", booking_body, key).parsed
        self.check("a new booking", str(booking.status) == "pending_payment", booking.status)
        self.check("the booking's total is the quote's", booking.total.amount == quote.total.amount)
        replay = book("create_booking (retry, same Idempotency-Key)", booking_body, key)
        self.check(
            "the retry answers the same booking", replay.parsed.id == booking.id, replay.parsed.id
        )
        self.check(
            "the retry says Idempotent-Replayed",
            replay.headers.get("idempotent-replayed") == "true",
            dict(replay.headers),
        )

        def bookings_as(role: str, client):
            return self.call(
                f"list_bookings role={role}",
                "bookings.list_bookings",
                200,
                models.BookingPage,
                tenant=TENANT,
                client=client,
                role=models.BookingListRole(role),
            ).parsed.data

        mine = bookings_as("guest", guest)
        self.check("the guest's bookings", [b.id for b in mine] == [booking.id], mine)
        hosted = bookings_as("host", host)
        self.check("the host's bookings", [b.id for b in hosted] == [booking.id], hosted)
        self.call(
            "get_booking",
            "bookings.get_booking",
            200,
            models.Booking,
            tenant=TENANT,
            id=booking.id,
            client=guest,
        )

        def move(action: str, booking_id, client):
            return self.call(
                f"{action}_booking",
                f"bookings.{action}_booking",
                200,
                models.Booking,
                tenant=TENANT,
                id=booking_id,
                client=client,
            ).parsed

        # The guest cancels it: the answer carries the cancellation.
        cancelled = move("cancel", booking.id, guest)
        self.check("cancelled", str(cancelled.status) == "cancelled", cancelled.status)

        # In request mode the host answers: a new request is accepted.
        settings = update_settings("booking_mode=request", {"booking_mode": "request"})
        self.check("request mode", str(settings.booking_mode) == "request", settings.booking_mode)
        later = {
            "property_id": str(property_id),
            "check_in": (today + datetime.timedelta(days=40)).isoformat(),
            "check_out": (today + datetime.timedelta(days=42)).isoformat(),
            "guests": 1,
        }
        request = book("create_booking (request mode)", later, str(uuid.uuid4())).parsed
        self.check("requested", str(request.status) == "requested", request.status)
        accepted = move("accept", request.id, host)
        self.check(
            "accepted into an unpaid hold",
            str(accepted.status) == "pending_payment",
            accepted.status,
        )

        # Accounts and settings.
        me = self.call(
            "get_me (guest)", "users.get_me", 200, models.Me, tenant=TENANT, client=guest
        ).parsed
        self.check("get_me is the guest", me.email == "guest@example.com", me.email)
        self.call(
            "get_user_profile (host, anonymous)",
            "users.get_user_profile",
            200,
            models.PublicProfile,
            tenant=TENANT,
            id=host_session.user.id,
            client=anonymous,
        )
        self.call(
            "get_settings",
            "tenants.get_settings",
            200,
            models.TenantSettings,
            tenant=TENANT,
            client=admin,
        )


def staybase_env(data_dir: Path, port: int, metrics_port: int) -> dict[str, str]:
    # Nothing from the caller's STAYBASE_* settings (a CI database URL, say) leaks in.
    env = {key: value for key, value in os.environ.items() if not key.startswith("STAYBASE_")}
    env.update(
        {
            "STAYBASE_DATA_DIR": str(data_dir),
            "STAYBASE_DATABASE_URL": f"sqlite://{data_dir}/staybase.db",
            "STAYBASE_BIND": f"127.0.0.1:{port}",
            "STAYBASE_METRICS_BIND": f"127.0.0.1:{metrics_port}",
            "STAYBASE_RATE_LIMITS": "off",
            "STAYBASE_JOB_POLL_INTERVAL_MS": "50",
            "STAYBASE_LOG": "warn",
        }
    )
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", required=True, type=Path, help="the generated client project")
    parser.add_argument("--binary", required=True, type=Path, help="a built staybase binary")
    args = parser.parse_args()
    if not (args.client / "staybase_client" / "__init__.py").is_file():
        print(f"sdk-flows: no staybase_client package in {args.client}", file=sys.stderr)
        return 2
    if not os.access(args.binary, os.X_OK):
        print(f"sdk-flows: {args.binary} is not an executable staybase", file=sys.stderr)
        return 2
    sys.path.insert(0, str(args.client.resolve()))

    with tempfile.TemporaryDirectory(prefix="sdk-flows.") as work:
        work = Path(work)
        data_dir = work / "data"
        data_dir.mkdir()
        port, metrics_port = free_port(), free_port()
        env = staybase_env(data_dir, port, metrics_port)
        created = subprocess.run(
            [
                str(args.binary),
                "tenant",
                "create",
                "--slug",
                TENANT,
                "--name",
                "Acme Stays",
                "--admin-email",
                "admin@example.com",
            ],
            env={**env, "STAYBASE_PASSWORD": PASSWORD},
            capture_output=True,
            text=True,
            check=False,
        )
        if created.returncode != 0:
            print(
                f"sdk-flows: tenant create failed:\n{created.stdout}{created.stderr}",
                file=sys.stderr,
            )
            return 1

        log_path = work / "server.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(
                [str(args.binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        flows = Flows(f"http://127.0.0.1:{port}")
        try:
            wait_until_serving(flows, server)
            flows.run()
        except FlowFailure as failure:
            print(f"\nsdk-flows: FAILED at {failure}", file=sys.stderr)
            print_log_tail(log_path)
            return 1
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        print(f"sdk-flows: OK: {flows.calls} calls through the generated client")
        return 0


def wait_until_serving(flows: Flows, server: subprocess.Popen) -> None:
    """Until the server answers (through the client: get_tenant)."""
    import httpx

    get_tenant = operation("tenants.get_tenant")
    deadline = time.monotonic() + 60
    while True:
        if server.poll() is not None:
            raise FlowFailure(f"staybase serve exited with status {server.returncode}")
        try:
            get_tenant.sync_detailed(tenant=TENANT, client=flows.anonymous())
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise FlowFailure("staybase serve did not answer within 60 seconds") from None
            time.sleep(0.2)


def print_log_tail(log_path: Path) -> None:
    lines = log_path.read_text(errors="replace").splitlines()[-40:]
    if lines:
        print("--- the server's log (last lines) ---", file=sys.stderr)
        print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
