"""Every cycle tells its story in the Web UI (issue 10 item 2): a static summary and details,
current details saying what it waits for until when, a summary on every timer and activity;
all read through the product's codec, and none with an IIN or a phone number."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1 import WorkflowMetadata

from client.codec import EncryptionCodec, parse_keys
from models.cycle import Citizen, CycleState
from rules import calendar
from tests.harness import Product, eventually


async def test_a_cycle_awaiting_consent_says_what_it_waits_for_without_personal_data(
    product: Product,
) -> None:
    """Static summary and details name program, month, region and pseudonym; the current
    details say ``AWAITING_CONSENT — reminder SMS due … Almaty; consent deadline …``; every
    timer and outside call carries a summary; nothing decoded or not holds the IIN or the phone."""
    month, rules = await product.next_month("gas")
    citizen = product.citizen("gas")
    cycle = await product.list(rules, month, citizen)
    await product.state_becomes(cycle, CycleState.SCHEDULED)
    scheduled = await eventually(
        lambda: _current_details(product, cycle.id), lambda found: "—" in found
    )
    send = calendar.send_moment(rules, month)
    assert scheduled.startswith("SCHEDULED — consent request SMS due "), scheduled
    assert f"{send:%Y-%m-%d %H:%M} Almaty" in scheduled

    await product.sleep_until(send + timedelta(minutes=1))
    await product.state_becomes(cycle, CycleState.AWAITING_CONSENT)
    details = await _current_details(product, cycle.id)
    reminder = calendar.reminder_due(rules, send)
    deadline = calendar.consent_deadline(rules, month) - timedelta(minutes=1)
    assert details == (
        f"AWAITING_CONSENT — reminder SMS due {reminder:%Y-%m-%d %H:%M} Almaty; "
        f"consent deadline {deadline:%Y-%m-%d %H:%M} Almaty"
    )

    described = await product.client.get_workflow_handle(cycle.id).describe()
    summary, static = await described.static_summary(), await described.static_details()
    ref = cycle.id.rsplit("-", 1)[1]
    assert summary is not None and static is not None
    for part in ("gas", month, citizen.region, ref):
        assert part in summary and part in static

    raw = product.env.client.get_workflow_handle(cycle.id)  # what the server holds
    history = json.loads((await raw.fetch_history()).to_json())
    metadata = await _decoded_user_metadata(product, history)
    timers = [m for m in metadata if m["event"] == "timerStartedEventAttributes"]
    # The cycle's outside calls are local activities: each summary is on its marker.
    activities = [m for m in metadata if m["event"] == "markerRecordedEventAttributes"]
    assert any("consent request SMS at" in m["summary"] for m in timers), timers
    assert any("reminder SMS at" in m["summary"] for m in timers), timers
    assert {m["summary"] for m in activities} >= {
        "BMG: look up the citizen's phone number",
        "SMS gateway: consent_request SMS from 1414",
    }
    assert all(m["summary"] for m in [*timers, *activities])
    visible = [json.dumps(history), *(m["summary"] for m in metadata), summary, static, details]
    _assert_no_personal_data(product, citizen, visible)


async def test_the_current_details_follow_the_cycle_to_its_end(product: Product) -> None:
    """An issued voucher waits for the activation window's close; the details say so."""
    _, rules, cycle, status = await product.issued_voucher("gas")
    closes = calendar.activation_window(rules, status.month)[1]
    expected = f"VOUCHER_ISSUED — activation window closes due {closes:%Y-%m-%d %H:%M} Almaty"
    # Once the confirmation SMS is out, the cycle sleeps until the window closes.
    await eventually(lambda: _current_details(product, cycle.id), lambda found: found == expected)


def _assert_no_personal_data(product: Product, citizen: Citizen, texts: list[str]) -> None:
    phone = product.phone(citizen)
    for secret in (citizen.iin, phone, phone[1:], "8" + phone[2:]):
        assert not any(secret in text for text in texts), secret


async def _current_details(product: Product, workflow_id: str) -> str:
    """What the Web UI shows as current details: the SDK's built-in metadata query."""
    handle = product.client.get_workflow_handle(workflow_id)
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    return metadata.current_details


async def _decoded_user_metadata(product: Product, history: dict[str, Any]) -> list[dict[str, str]]:
    """Each event's summary, decoded with the product's codec as the Web UI does."""
    codec = EncryptionCodec(parse_keys(product.settings.payload_keys))
    found = []
    for event in history["events"]:
        summary = event.get("userMetadata", {}).get("summary")
        if summary is None:
            continue
        payload = Payload(
            metadata={k: base64.b64decode(v) for k, v in summary.get("metadata", {}).items()},
            data=base64.b64decode(summary.get("data", "")),
        )
        (opened,) = await codec.decode([payload])
        assert opened.metadata["encoding"] != payload.metadata["encoding"], "it was encrypted"
        kind = next(key for key in event if key.endswith("EventAttributes"))
        found.append({"event": kind, "summary": json.loads(opened.data)})
    return found
