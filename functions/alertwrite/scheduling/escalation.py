"""The escalation engine, pure: (policy snapshot, timeline so far, alert state, now) -> what to do.

The timeline IS the state. Every outcome is an entry with a deterministic key (round, loop, step,
person, medium ...), and the runner creates entries with RowStore.create: the run that creates a
`notify` entry is the one that sends it, so overlapping runs or a replay after a crash never
notify twice. Rules, each from a peer:
- the policy is a snapshot copied when escalation starts (OnCall: edits affect new pages only);
- ack stops the steps and every personal chain; unack restarts from step 1 (OnCall
  `unacknowledge` -> `start_escalation_if_needed`), and so does the end of a silence;
- an ack still firing after `ack_timeout` (PagerDuty default 1800 s) is undone and restarts;
- `on_empty`: skip goes to the next step at once (PagerDuty, incident.io), wait holds the step
  until someone is on call (OnCall#4846), fallback notifies another target; always logged;
- catch-up: an overdue step runs once, at the first run after it fell due, and the next step's
  wait counts from then, so nobody is paged at several levels at once after an outage;
- a person notified by a step follows their own chain (push, then SMS after 2 min ...) until ack,
  even when the escalation moves on (OnCall cuts it off, OC#934).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Callable

from .policies import Person, Policy, Step

# A cron run starts a little after its minute, by a different amount each time: a step due at
# "last run + 1 min" would otherwise slip a whole minute whenever this run started sooner.
DUE_SLACK = timedelta(seconds=5)

WhoIsOnCall = Callable[[str, datetime], "list[str] | None"]  # None: no such schedule


@dataclass(frozen=True)
class AlertView:
    fingerprint: str
    episode: int
    status: str  # firing | resolved
    labels: dict
    starts_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    silenced_until: datetime | None = None
    alertname: str = ""
    severity: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Entry:
    kind: str  # step | waiting | notify | acked | silenced | restart | resolved | exhausted
    round: int
    at: datetime
    loop: int = 0
    step: int = 0
    seq: int = 0
    user: str = ""
    target: str = ""
    medium: str = ""
    tag: str = ""
    detail: str = ""
    data: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        return "|".join(map(str, (self.kind, self.round, self.loop, self.step, self.seq, self.user,
                                  self.target, self.medium, self.tag)))


@dataclass
class Outcome:
    entries: list[Entry] = field(default_factory=list)
    close: bool = False
    unack: bool = False

    @property
    def notifications(self) -> list[Entry]:
        return [e for e in self.entries if e.kind == "notify"]


def escalation_id(fingerprint: str, episode: int) -> str:
    return "e" + hashlib.sha256(f"{fingerprint}|{episode}".encode()).hexdigest()[:32]


def entry_id(escalation: str, entry: Entry) -> str:
    return "t" + hashlib.sha256(f"{escalation}|{entry.key}".encode()).hexdigest()[:32]


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


class _Run:
    def __init__(self, policy: Policy, people: dict[str, Person], started_at: datetime, log: list[Entry],
                 now: datetime, who: WhoIsOnCall):
        self.policy, self.people, self.started_at, self.now, self.who = policy, people, started_at, now, who
        self.log = list(log)
        self.keys = {e.key for e in self.log}
        self.out = Outcome()

    def add(self, entry: Entry) -> Entry:
        if entry.key not in self.keys:
            self.keys.add(entry.key)
            self.log.append(entry)
            self.out.entries.append(entry)
        return entry

    # -- the state, read back from the timeline -------------------------------------------
    @property
    def round(self) -> int:
        return max((e.round for e in self.log), default=0)

    def current(self, kind: str) -> list[Entry]:
        r = self.round
        return [e for e in self.log if e.round == r and e.kind == kind]

    def round_start(self) -> datetime:
        restarts = self.current("restart")
        return restarts[0].at if restarts else self.started_at

    def restart(self, reason: str) -> None:
        self.add(Entry("restart", self.round + 1, self.now, detail=f"{reason}: escalation restarts from step 1"))

    # -- one run ---------------------------------------------------------------------------
    def advance(self, alert: AlertView) -> Outcome:
        if alert.status != "firing":
            self.add(Entry("resolved", self.round, self.now, detail="resolved: escalation stopped"))
            self.out.close = True
            return self.out
        if alert.silenced_until and alert.silenced_until > self.now:
            self.add(Entry("silenced", self.round, self.now, tag=_iso(alert.silenced_until),
                           detail=f"silenced until {_iso(alert.silenced_until)}: escalation paused"))
            return self.out
        acked = alert.acknowledged_at is not None and alert.acknowledged_at >= self.round_start()
        if acked:
            self.add(Entry("acked", self.round, self.now, tag=_iso(alert.acknowledged_at),
                           detail=f"acknowledged by {alert.acknowledged_by or 'someone'}: escalation stopped"))
            timeout = self.policy.ack_timeout
            if timeout is None or self.now < alert.acknowledged_at + timeout:
                return self.out
            self.restart(f"still firing {int(timeout.total_seconds() // 60)} min after the ack (ack timeout)")
            self.out.unack = True
        elif self.current("acked"):
            self.restart("unacknowledged")
        elif self.current("silenced"):
            self.restart("silence ended")
        self.steps()
        self.personal_chains()
        return self.out

    def pointer(self) -> tuple[int, int] | None:
        done = {(e.loop, e.step) for e in self.current("step")}
        for loop in range(self.policy.repeat + 1):
            for step in range(len(self.policy.steps)):
                if (loop, step) not in done:
                    return loop, step
        return None

    def due(self, loop: int, step: int) -> datetime:
        steps = self.policy.steps
        if (loop, step) == (0, 0):
            return self.round_start() + steps[0].after
        prev_loop, prev_step = (loop, step - 1) if step else (loop - 1, len(steps) - 1)
        prev = next(e for e in self.current("step") if (e.loop, e.step) == (prev_loop, prev_step))
        if step == 0:
            return prev.at + self.policy.repeat_after + steps[0].after
        return prev.at if prev.data.get("outcome") == "skipped" else prev.at + steps[step].after

    def steps(self) -> None:
        for _ in range((self.policy.repeat + 1) * len(self.policy.steps)):
            where = self.pointer()
            if where is None:
                self.add(Entry("exhausted", self.round, self.now,
                               detail=f"all steps ran {self.policy.repeat + 1} time(s); waiting for an ack"))
                return
            due = self.due(*where)
            if due > self.now + DUE_SLACK or not self.run_step(*where, due):
                return

    def recipients(self, targets) -> tuple[list[tuple[str, str]], list[str]]:
        """[(kind, name)] to notify, and a note per target that yielded nobody."""
        found, notes = [], []
        for t in targets:
            if t.kind == "oncall":
                users = self.who(t.name, self.now)
                if users is None:
                    notes.append(f"{t}: no such schedule")
                elif not users:
                    notes.append(f"{t}: nobody on call")
                found += [("user", u) for u in users or []]
            else:
                found.append((t.kind, t.name))
        return list(dict.fromkeys(found)), notes

    def run_step(self, loop: int, index: int, due: datetime) -> bool:
        """Runs the step if it can; False when it must wait."""
        step: Step = self.policy.steps[index]
        found, notes = self.recipients(step.notify)
        outcome = "notified"
        label = f"step {index + 1}" + (f" (repeat {loop})" if loop else "")
        if not found:
            if step.on_empty == "wait":
                self.add(Entry("waiting", self.round, self.now, loop, index,
                               detail=f"{label}: {'; '.join(notes)}; holding until someone is on call"))
                return False
            if step.on_empty == "fallback" and step.fallback:
                found, more = self.recipients([step.fallback])
                notes.append(f"fallback to {step.fallback}" + (f" ({'; '.join(more)})" if more else ""))
            if not found:
                outcome = "skipped"
            else:
                outcome = "fallback"
        late = max(0.0, (self.now - due).total_seconds())
        users = [name for kind, name in found if kind == "user"]
        text = {"notified": "notified " + ", ".join(f"{k}:{n}" for k, n in found),
                "fallback": "notified " + ", ".join(f"{k}:{n}" for k, n in found),
                "skipped": "nobody to notify, skipped to the next step"}[outcome]
        self.add(Entry("step", self.round, self.now, loop, index,
                       detail=f"{label}: {text}" + (f" ({'; '.join(notes)})" if notes else ""),
                       data={"outcome": outcome, "users": users, "important": step.important,
                             "due": _iso(due), "lateSeconds": late}))
        for kind, name in found:
            if kind == "user" and name in self.people:
                continue  # their own chain, below
            media = ("channel",) if kind == "channel" else step.media
            for medium in media:
                self.add(Entry("notify", self.round, self.now, loop, index, user=name if kind == "user" else "",
                               target=f"{kind}:{name}", medium=medium, data={"important": step.important},
                               detail=f"{label}: {medium} to {kind}:{name}"))
        return True

    def personal_chains(self) -> None:
        for step_entry in self.current("step"):
            important = bool(step_entry.data.get("important"))
            for user in step_entry.data.get("users", []):
                person = self.people.get(user)
                if not person:
                    continue
                at = step_entry.at
                for seq, rule in enumerate(person.chain(important)):
                    at += rule.after
                    if at > self.now + DUE_SLACK:
                        break
                    self.add(Entry("notify", self.round, self.now, step_entry.loop, step_entry.step, seq, user,
                                   f"user:{user}", rule.medium, data={"important": important, "due": _iso(at)},
                                   detail=f"step {step_entry.step + 1}: {rule.medium} to {user} "
                                          f"(personal rule {seq + 1})"))


def advance(policy: Policy, people: dict[str, Person], started_at: datetime, log: list[Entry],
            alert: AlertView, now: datetime, who: WhoIsOnCall) -> Outcome:
    """The entries to add (notify entries are the messages to send), and whether to close or unack."""
    return _Run(policy, people, started_at, log, now, who).advance(alert)


def acked_view(alert: AlertView) -> AlertView:
    return replace(alert, acknowledged_at=None, acknowledged_by="")
