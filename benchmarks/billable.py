"""``python -m benchmarks.billable``: a million citizens' month, on paper, from recorded histories.

Counts the Temporal Cloud billable actions of each path of a citizen's month from a history of
that path (by default the recorded 1.0 histories in ``tests/workflows/histories``; with
``--histories DIR`` the ones ``python -m benchmarks.cycles --save-histories DIR`` fetched from a
run, which replace the paths they cover), following Temporal Cloud's definitions
(docs.temporal.io/cloud/actions):

- workflow started: 1 (``WORKFLOW_EXECUTION_STARTED``; a continue-as-new starts a new run: 1);
- activity started or retried: 1 per ``ACTIVITY_TASK_SCHEDULED``, plus ``attempt - 1`` of its
  ``ACTIVITY_TASK_STARTED`` (retries write no events of their own);
- local activities: 1 per workflow task that records any marker ("all RecordMarkers from each
  Workflow Task as one action"), plus the task's ``nonfirst_local_activity_execution_attempts``;
- timer started: 1 (``TIMER_STARTED``); signal: 1 (``WORKFLOW_EXECUTION_SIGNALED``);
  update: 1 per ``WORKFLOW_EXECUTION_UPDATE_ACCEPTED`` (a rejected update leaves no event on a
  real server, though it is billed: none of the product's paths reject one on purpose);
- search-attribute upsert: 1 per ``UPSERT_WORKFLOW_SEARCH_ATTRIBUTES`` (the ones given at start
  are free); child workflow: 2; workflow options updated: 1.

Not in a history, so not counted: queries (the API answers from the database; a query from the
Web UI costs 1), activity heartbeats (the fan-outs heartbeat once per 500 cycles) and rejected
updates. The month's coordinators (the intake, the gas hand-over) are per program-month, not per
citizen: they are printed apart and left out of the per-citizen load.

It then turns the per-path counts, weighted by a path mix, into the load of ``--citizens``
(1,000,000) for the send day and the month, against Temporal Cloud's default 500 actions/s per
namespace and a small self-hosted cluster (about 1,000 state transitions/s with PostgreSQL on 2
CPUs, a figure seen in practice rather than a documented limit). The default mix is an
assumption, stated in the output: 10% without a phone (``simulators.cohort.seed_world``), and of
the rest ``make simulate``'s defaults (60% consent, 10% refuse, 30% silent), of whose vouchers
80% are activated and settled.

``--write docs/DEPLOYMENT.md`` replaces the part of that file between its ``billable`` markers
with the output: regenerate it after re-recording the histories.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

from benchmarks.common import replace_section
from models.settings import Settings
from rules import calendar

ROOT = Path(__file__).resolve().parents[1]
RECORDED = ROOT / "tests" / "workflows" / "histories"
BEGIN, END = "<!-- billable:begin -->", "<!-- billable:end -->"
CLOUD_APS = 500  # Temporal Cloud's default actions/s per namespace (docs: cloud/limits)
SELF_HOSTED_TRANSITIONS = 1_000  # a small self-hosted cluster, PostgreSQL on 2 CPUs
SHARDS = 512  # docs/DEPLOYMENT.md's production starting point
WORKER_TASKS_PER_S = 100  # workflow + activity tasks one worker process (one core) keeps up with
# The API's own database transactions per path, outside any activity: the listing row, and each
# reply through the webhook (look up, keep and route in one session; the result in another).
API_WRITES = {"listing": 1, "reply": 2}

E = EventType


@dataclass(frozen=True)
class CyclePath:
    """One path of a citizen's month: its share of the cohort and where its history is."""

    name: str
    what: str
    recorded: str  # file name pattern in tests/workflows/histories
    run_file: str | None  # the file ``benchmarks.cycles --save-histories`` writes, if any
    replies: int  # SMS replies the citizen sends on this path


PATHS = (
    CyclePath(
        "settled",
        "consent, activation, hand-over, settlement",
        "citizen_cycle-gas-settled-*",
        "gas-happy.json",
        1,
    ),
    CyclePath(
        "voucher_expired",
        "consent, voucher never activated",
        "citizen_cycle-gas-voucher_expired-*",
        "gas-lapsed.json",
        1,
    ),
    CyclePath("refused", "refusal", "citizen_cycle-gas-refused-*", None, 1),
    CyclePath(
        "unanswered",
        "texted, reminded, lapsed; food's where no gas history is recorded",
        "citizen_cycle-food-no_reply-*",
        "gas-unanswered.json",
        0,
    ),
    CyclePath("no_phone", "no phone at BMG", "citizen_cycle-no_phone-*", None, 0),
)
COORDINATORS = (("month intake", "month_intake-gas-*"), ("gas hand-over", "gas_handover-gas-*"))
DEFAULT_MIX = {
    "no_phone": 0.10,
    "settled": 0.90 * 0.60 * 0.80,
    "voucher_expired": 0.90 * 0.60 * 0.20,
    "refused": 0.90 * 0.10,
    "unanswered": 0.90 * 0.30,
}


@dataclass
class Count:
    """What one history costs."""

    actions: Counter[str]
    send_day_actions: int
    burst_actions: int  # at the very moment of the first SMS: the send moment's task
    transitions: int  # persistence writes of the history, estimated
    send_day_transitions: int
    executions: Counter[str]  # activity and local-activity executions by type
    send_day_executions: Counter[str]
    events: int

    @property
    def total(self) -> int:
        return self.actions.total()


def count_actions(history: WorkflowHistory) -> Counter[str]:
    """The billable actions of ``history`` by kind (Temporal Cloud's definitions)."""
    return _count(history).actions


def _kind(event: HistoryEvent) -> str:
    return E.Name(event.event_type).removeprefix("EVENT_TYPE_")


_SIMPLE = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: ("workflow started", 1),
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: ("workflow started", 1),
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: ("activity", 1),
    E.EVENT_TYPE_TIMER_STARTED: ("timer", 1),
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: ("signal", 1),
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: ("update", 1),
    E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: ("search-attribute upsert", 1),
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: ("child workflow", 2),
    E.EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED: ("workflow options", 1),
}
# Events that each stand for one write of the workflow's state (a "state transition"): a task
# handed out or completed, a timer firing, a message arriving, an activity's result.
_TRANSITIONS = {
    E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
    E.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
    E.EVENT_TYPE_ACTIVITY_TASK_FAILED,
    E.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT,
    E.EVENT_TYPE_TIMER_FIRED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
}


def _count(
    history: WorkflowHistory, send_day: date | None = None, send_moment: datetime | None = None
) -> Count:
    actions: Counter[str] = Counter()
    executions: Counter[str] = Counter()
    day_executions: Counter[str] = Counter()
    day_actions = burst = transitions = day_transitions = 0
    task_with_markers: set[int] = set()
    task = 0  # the last completed workflow task's event id: its commands follow it
    for event in history.events:
        on_day = send_day is not None and _day(event) == send_day
        got: list[tuple[str, int]] = []
        if event.event_type in _SIMPLE:
            got.append(_SIMPLE[event.event_type])
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            task = event.event_id
            metering = event.workflow_task_completed_event_attributes.metering_metadata
            if metering.nonfirst_local_activity_execution_attempts:
                got.append(("local activity", metering.nonfirst_local_activity_execution_attempts))
        if event.event_type == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            retries = event.activity_task_started_event_attributes.attempt - 1
            if retries > 0:
                got.append(("activity", retries))
        if event.event_type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = event.activity_task_scheduled_event_attributes.activity_type.name
            executions[name] += 1
            day_executions[name] += on_day
        if event.event_type == E.EVENT_TYPE_MARKER_RECORDED:
            name = _local_activity(event)
            executions[name] += 1
            day_executions[name] += on_day
            if task not in task_with_markers:
                task_with_markers.add(task)
                got.append(("local activity", 1))
        # The send moment's task: the same second as the first SMS (event times carry ms).
        at_moment = send_moment is not None and _second(event) == _truncated(send_moment)
        for kind, number in got:
            actions[kind] += number
            day_actions += number * on_day
            burst += number * at_moment
        if event.event_type in _TRANSITIONS:
            transitions += 1
            day_transitions += on_day
    return Count(
        actions=actions,
        send_day_actions=day_actions,
        burst_actions=burst,
        transitions=transitions,
        send_day_transitions=day_transitions,
        executions=executions,
        send_day_executions=day_executions,
        events=len(history.events),
    )


def _moment(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime().replace(tzinfo=UTC)


def _truncated(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _second(event: HistoryEvent) -> datetime:
    return _truncated(_moment(event))


def _day(event: HistoryEvent) -> date:
    return _moment(event).astimezone(calendar.ALMATY).date()


def _local_activity(event: HistoryEvent) -> str:
    """The activity type a local-activity marker records (its ``data`` detail, JSON)."""
    attributes = event.marker_recorded_event_attributes
    data = attributes.details.get("data")
    if data is None or not data.payloads:
        return f"marker {attributes.marker_name}"
    try:
        found = json.loads(data.payloads[0].data)
    except ValueError:
        return f"marker {attributes.marker_name}"
    return str(found.get("activity_type", attributes.marker_name))


def first_sms(history: WorkflowHistory) -> datetime | None:
    """When the history's first SMS was scheduled (its send moment); None if it sent none."""
    for event in history.events:
        scheduled = event.event_type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        if scheduled and event.activity_task_scheduled_event_attributes.activity_type.name == (
            "sms.send"
        ):
            return _moment(event)
        marker = event.event_type == E.EVENT_TYPE_MARKER_RECORDED
        if marker and _local_activity(event) == "sms.send":  # a local activity since issue 13
            return _moment(event)
    return None


def load(path: Path) -> WorkflowHistory:
    """A history as ``WorkflowHistory.to_json`` or the CLI's ``--output json`` writes it."""
    return WorkflowHistory.from_json(path.stem, path.read_text(encoding="utf-8"))


def count_file(path: Path) -> Count:
    """What the history in ``path`` costs; its send day is the day of its first SMS."""
    history = load(path)
    moment = first_sms(history)
    day = moment.astimezone(calendar.ALMATY).date() if moment is not None else None
    return _count(history, day, moment)


def _newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(f"{pattern}.json"))
    return found[-1] if found else None


@dataclass(frozen=True)
class Plan:
    citizens: int
    mix: dict[str, float]
    spread_minutes: list[int]
    sms_per_second: float


def _paths(histories: Path | None) -> dict[str, tuple[Path, Count]]:
    chosen: dict[str, tuple[Path, Count]] = {}
    for path in PATHS:
        run = histories / path.run_file if histories and path.run_file else None
        file = run if run is not None and run.exists() else _newest(RECORDED, path.recorded)
        if file is None:
            raise SystemExit(f"no history of the {path.name} path in {RECORDED}")
        chosen[path.name] = (file, count_file(file))
    return chosen


def report(plan: Plan, histories: Path | None) -> str:
    """The Markdown the script prints (and writes into docs/DEPLOYMENT.md)."""
    counted = _paths(histories)
    out: list[str] = []
    out.append(
        "Billable actions per citizen-month by path (Temporal Cloud's definitions; "
        "`python -m benchmarks.billable`):\n"
    )
    kinds = sorted({kind for _, count in counted.values() for kind in count.actions})
    out.append(_row(["path", "share", "history", "events", *kinds, "actions", "on send day"]))
    out.append(_row(["---"] * (len(kinds) + 6)))
    for path in PATHS:
        file, count = counted[path.name]
        out.append(
            _row(
                [
                    f"{path.name} ({path.what})",
                    f"{plan.mix[path.name]:.1%}",
                    f"`{file.name}`",
                    str(count.events),
                    *(str(count.actions[kind]) for kind in kinds),
                    f"**{count.total}**",
                    str(count.send_day_actions),
                ]
            )
        )
    out.append("")
    coordinators = [
        f"{label} {count_file(found).total} actions"
        for label, pattern in COORDINATORS
        if (found := _newest(RECORDED, pattern)) is not None
    ]
    out.append(f"Per program-month, whatever the cohort: {'; '.join(coordinators)}.")
    out.append("")
    out.append(_load(plan, counted))
    return "\n".join(out)


def _mixed(plan: Plan, counted: dict[str, tuple[Path, Count]], value: str) -> float:
    def of(count: Count) -> float:
        match value:
            case "actions":
                return count.total
            case "day_actions":
                return count.send_day_actions
            case "transitions":
                return count.transitions
            case "day_transitions":
                return count.send_day_transitions
            case "executions":
                return count.executions.total()
            case "day_executions":
                return count.send_day_executions.total()
            case "burst":
                return count.burst_actions
            case "day_sms":
                return count.send_day_executions["sms.send"]
        raise ValueError(value)

    return sum(plan.mix[name] * of(count) for name, (_, count) in counted.items())


def _load(plan: Plan, counted: dict[str, tuple[Path, Count]]) -> str:
    n = plan.citizens
    month_s = 30 * 86_400
    per_citizen = _mixed(plan, counted, "actions")
    day_actions = _mixed(plan, counted, "day_actions")
    transitions = _mixed(plan, counted, "transitions")
    day_transitions = _mixed(plan, counted, "day_transitions")
    executions = _mixed(plan, counted, "executions")
    day_executions = _mixed(plan, counted, "day_executions")
    day_sms = _mixed(plan, counted, "day_sms")
    replies = sum(plan.mix[p.name] * p.replies for p in PATHS)
    writes = executions + API_WRITES["listing"] + API_WRITES["reply"] * replies
    day_writes = day_executions + API_WRITES["reply"] * replies
    sms_drain_s = n * day_sms / plan.sms_per_second
    burst = _mixed(plan, counted, "burst")
    m = 1e6
    lines = [
        f"The load of {n:,} citizens, path mix as above (assumed: 10% without a phone; of the "
        "rest 60% consent, 10% refuse, 30% stay silent; 80% of issued vouchers are activated "
        "and settled). The send day counts every action a path's history records on the day of "
        "its first SMS: in the recorded paths the citizen answers, and is activated, within "
        "minutes, so it is an upper bound (real activations spread over three weeks).\n",
        _row(["quantity", "per citizen", f"{n:,} citizens"]),
        _row(["---"] * 3),
        _row(
            [
                "billable actions, whole month",
                f"{per_citizen:.1f}",
                f"{per_citizen * n / m:.1f} M; {per_citizen * n / month_s:.0f}/s over 30 days",
            ]
        ),
        _row(["billable actions, send day", f"{day_actions:.1f}", f"{day_actions * n / m:.1f} M"]),
        _row(
            [
                "state transitions (estimate), whole month",
                f"{transitions:.1f}",
                f"{transitions * n / m:.1f} M; {transitions * n / month_s:.0f}/s over 30 days",
            ]
        ),
        _row(
            [
                "state transitions (estimate), send day",
                f"{day_transitions:.1f}",
                f"{day_transitions * n / m:.1f} M",
            ]
        ),
        _row(
            [
                "SMS on the send day (requests, confirmations)",
                f"{day_sms:.2f}",
                f"{day_sms * n / m:.2f} M: {sms_drain_s / 3600:.1f} h at "
                f"SMS_PER_SECOND={plan.sms_per_second:g}",
            ]
        ),
        _row(
            [
                "product database transactions, whole month",
                f"{writes:.1f}",
                f"{writes * n / m:.1f} M",
            ]
        ),
        _row(["open workflows all month", "1", f"{n / SHARDS:,.0f} per shard at {SHARDS}"]),
        "",
        "The send day's rate depends on how long its work is spread: at least the SMS drain "
        "(the gateway's rate: the workers' pace, `SMS_PER_SECOND` each), and "
        "`SEND_SPREAD_MINUTES` "
        "(models/settings.py) spreads the 09:00 timers themselves. At 0 every consent request "
        f"falls due at once: the first tasks of the day bill {burst:.1f} actions a citizen "
        f"({burst * n / m:.1f} M), {burst * n / CLOUD_APS / 60:.0f} min of a 500 APS "
        "namespace, before the SMS drain paces the rest.\n",
        _row(
            [
                "SEND_SPREAD_MINUTES",
                "spread over",
                "actions/s",
                f"vs Cloud {CLOUD_APS} APS",
                "state transitions/s",
                f"vs self-hosted ~{SELF_HOSTED_TRANSITIONS:,}/s",
                f"per shard ({SHARDS})",
                f"workers ({WORKER_TASKS_PER_S} tasks/s)",
                "PostgreSQL transactions/s",
            ]
        ),
        _row(["---"] * 9),
    ]
    for minutes in plan.spread_minutes:
        window = max(minutes * 60, sms_drain_s)
        aps = day_actions * n / window
        tps = day_transitions * n / window
        tasks = (day_transitions / 2) * n / window  # a task is about two transitions
        lines.append(
            _row(
                [
                    str(minutes),
                    f"{window / 3600:.1f} h",
                    f"{aps:,.0f}",
                    f"{aps / CLOUD_APS:.1f}×",
                    f"{tps:,.0f}",
                    f"{tps / SELF_HOSTED_TRANSITIONS:.1f}×",
                    f"{tps / SHARDS:.1f}/s",
                    str(math.ceil(tasks / WORKER_TASKS_PER_S)),
                    f"{day_writes * n / window:,.0f}",
                ]
            )
        )
    lines.append(
        "\nAssumptions beyond the histories: a state transition is estimated as one per "
        "workflow-task start and completion, activity result, timer firing, signal and start; "
        f"one worker process keeps up with about {WORKER_TASKS_PER_S} workflow and activity "
        "tasks/s (the trivial-workflow baseline of `make bench` on this machine's cores); the "
        f"API writes {API_WRITES['listing']} row per listed citizen and {API_WRITES['reply']} "
        "transactions per webhook reply; every activity execution is counted as one database "
        "transaction (reads included: an upper bound). Temporal Cloud raises a namespace's "
        "limit with its last 7 days' usage or provisioned capacity (TRUs): a send day above 500 "
        "APS needs one of them arranged in advance, or a longer spread."
    )
    return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _mix(text: str) -> dict[str, float]:
    mix = dict(DEFAULT_MIX)
    for pair in filter(None, text.split(",")):
        name, _, share = pair.partition("=")
        if name not in mix:
            raise argparse.ArgumentTypeError(f"unknown path {name!r}: one of {', '.join(mix)}")
        mix[name] = float(share)
    if not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-6):
        raise argparse.ArgumentTypeError(f"the shares add up to {sum(mix.values()):.4f}, not 1")
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.billable",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    settings = Settings()
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--histories", type=Path, help="histories saved by benchmarks.cycles")
    parser.add_argument("--mix", type=_mix, default=DEFAULT_MIX, help="path=share,…")
    parser.add_argument(
        "--spread",
        default=f"0,{settings.send_spread_minutes},240,480",
        help="SEND_SPREAD_MINUTES values to tabulate (0,<setting>,240,480)",
    )
    parser.add_argument("--sms-per-second", type=float, default=settings.sms_per_second)
    parser.add_argument("--write", type=Path, help="replace the billable section of this file")
    args = parser.parse_args()
    spreads = sorted({int(m) for m in re.split(r"[ ,]+", args.spread.strip()) if m})
    plan = Plan(args.citizens, args.mix, spreads, args.sms_per_second)
    text = report(plan, args.histories)
    if args.write is not None:
        replace_section(args.write, BEGIN, END, text)
    print(text)


if __name__ == "__main__":
    main()
