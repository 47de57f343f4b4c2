"""Messaging and Users (targets) routes of the fake (appwrite 1.8.1 messaging.php, Messaging worker)."""
from __future__ import annotations

from .core import ApiError, FakeCore, Request, check_id, now_iso

LIMITS = {"subject": 998, "content": 64230, "body": 64230, "title": 256}
MEDIUM_TOTAL = {"email": "emailTotal", "sms": "smsTotal", "push": "pushTotal"}


class Messaging:
    def __init__(self, core: FakeCore):
        self.core = core
        self.topics: dict[str, dict] = {}
        self.subscribers: dict[str, dict[str, dict]] = {}
        self.messages: dict[str, dict] = {}
        self.users: dict[str, dict] = {}
        self.targets: dict[str, dict] = {}
        self.providers = {"email", "sms", "push"}  # media with an enabled provider
        r = core.route
        r("GET", "/messaging/topics", "topics.read")(self.list_topics)
        r("POST", "/messaging/topics", "topics.write")(self.create_topic)
        r("GET", "/messaging/topics/{topic}", "topics.read")(self.get_topic)
        r("PUT", "/messaging/topics/{topic}", "topics.write")(self.update_topic)
        r("PATCH", "/messaging/topics/{topic}", "topics.write")(self.update_topic)
        r("DELETE", "/messaging/topics/{topic}", "topics.write")(self.delete_topic)
        r("GET", "/messaging/topics/{topic}/subscribers", "subscribers.read")(self.list_subscribers)
        r("POST", "/messaging/topics/{topic}/subscribers", "subscribers.write")(self.create_subscriber)
        r("DELETE", "/messaging/topics/{topic}/subscribers/{sub}", "subscribers.write")(self.delete_subscriber)
        for medium in ("email", "sms", "push"):
            r("POST", f"/messaging/messages/{medium}", "messages.write")(self._creator(medium))
        r("GET", "/messaging/messages", "messages.read")(self.list_messages)
        r("GET", "/messaging/messages/{message}", "messages.read")(self.get_message)
        r("GET", "/users/{user}/targets", "targets.read")(self.list_targets)
        r("GET", "/health/version", "public")(lambda req: (200, {"version": core.version}))

    # -- test setup ----------------------------------------------------------------------
    def add_user(self, user_id: str, name: str = "", email: str = "", phone: str = "", push_token: str = "") -> dict:
        """Users created with an email or phone get targets automatically; push needs a device."""
        self.users[user_id] = {"$id": user_id, "name": name or user_id}
        for medium, identifier in (("email", email), ("sms", phone), ("push", push_token)):
            if identifier:
                target_id = f"{user_id}-{medium}"
                t = now_iso()
                self.targets[target_id] = {"$id": target_id, "$createdAt": t, "$updatedAt": t, "name": "",
                                           "userId": user_id, "providerType": medium, "identifier": identifier,
                                           "expired": False}
        return self.users[user_id]

    # -- topics --------------------------------------------------------------------------
    def _topic(self, topic: str) -> dict:
        if topic not in self.topics:
            raise ApiError(404, "topic_not_found", "Topic with the request ID could not be found.")
        return self.topics[topic]

    def list_topics(self, req: Request):
        items = list(self.topics.values())
        return 200, {"total": len(items), "topics": items}

    def create_topic(self, req: Request):
        topic = check_id(req.body.get("topicId"), "topicId")
        if topic in self.topics:
            raise ApiError(409, "topic_already_exists", "Topic with the request ID already exists.")
        t = now_iso()
        self.topics[topic] = {"$id": topic, "$createdAt": t, "$updatedAt": t, "name": req.body.get("name", topic),
                              "emailTotal": 0, "smsTotal": 0, "pushTotal": 0,
                              "subscribe": req.body.get("subscribe") or ["users"]}
        self.subscribers[topic] = {}
        return 201, self.topics[topic]

    def get_topic(self, req: Request, topic: str):
        return 200, self._topic(topic)

    def update_topic(self, req: Request, topic: str):
        record = self._topic(topic)
        for key in ("name", "subscribe"):
            if req.body.get(key) is not None:
                record[key] = req.body[key]
        record["$updatedAt"] = now_iso()
        return 200, record

    def delete_topic(self, req: Request, topic: str):
        self._topic(topic)
        del self.topics[topic]
        self.subscribers.pop(topic, None)
        return 204, None

    def list_subscribers(self, req: Request, topic: str):
        self._topic(topic)
        items = list(self.subscribers[topic].values())
        return 200, {"total": len(items), "subscribers": items}

    def create_subscriber(self, req: Request, topic: str):
        record = self._topic(topic)
        sub_id = check_id(req.body.get("subscriberId"), "subscriberId")
        target = self.targets.get(req.body.get("targetId"))
        if target is None:
            raise ApiError(404, "user_target_not_found", "The target could not be found.")
        if sub_id in self.subscribers[topic] or any(s["targetId"] == target["$id"] for s in self.subscribers[topic].values()):
            raise ApiError(409, "subscriber_already_exists", "Subscriber with the request ID already exists.")
        t = now_iso()
        sub = {"$id": sub_id, "$createdAt": t, "$updatedAt": t, "targetId": target["$id"], "target": target,
               "userId": target["userId"], "userName": self.users.get(target["userId"], {}).get("name", ""),
               "topicId": topic, "providerType": target["providerType"]}
        self.subscribers[topic][sub_id] = sub
        record[MEDIUM_TOTAL[target["providerType"]]] += 1
        return 201, sub

    def delete_subscriber(self, req: Request, topic: str, sub: str):
        record = self._topic(topic)
        if sub not in self.subscribers[topic]:
            raise ApiError(404, "subscriber_not_found", "Subscriber with the request ID could not be found.")
        gone = self.subscribers[topic].pop(sub)
        record[MEDIUM_TOTAL[gone["providerType"]]] -= 1
        return 204, None

    def list_targets(self, req: Request, user: str):
        if user not in self.users:
            raise ApiError(404, "user_not_found", "User with the requested ID could not be found.")
        items = [t for t in self.targets.values() if t["userId"] == user]
        return 200, {"total": len(items), "targets": items}

    # -- messages ------------------------------------------------------------------------
    def _creator(self, medium: str):
        def create(req: Request):
            return self.create_message(req, medium)
        return create

    def create_message(self, req: Request, medium: str):
        body = req.body
        message_id = check_id(body.get("messageId"), "messageId")
        for key, limit in LIMITS.items():
            if isinstance(body.get(key), str) and len(body[key]) > limit:
                raise ApiError(400, "general_argument_invalid",
                               f"Invalid `{key}` param: Value must be a valid string and at least 1 chars and no longer than {limit} chars")
        if message_id in self.messages:
            raise ApiError(409, "message_already_exists", "Message with the requested ID already exists.")
        topics, users, targets = body.get("topics") or [], body.get("users") or [], body.get("targets") or []
        draft = bool(body.get("draft"))
        if not draft and not (topics or users or targets):
            raise ApiError(400, "message_missing_target", "Message with the requested ID has no recipients")
        t = now_iso()
        data = {k: v for k, v in body.items() if k not in ("messageId", "topics", "users", "targets", "draft", "scheduledAt")}
        message = {"$id": message_id, "$createdAt": t, "$updatedAt": t, "providerType": medium, "topics": topics,
                   "users": users, "targets": targets, "deliveredTotal": 0, "deliveryErrors": [], "data": data,
                   "status": "draft" if draft else "processing"}
        self.messages[message_id] = message
        if not draft:
            self.core.later(lambda: self._deliver(message))
        return 201, message

    def _deliver(self, message: dict) -> None:
        """The Messaging worker: recipients of the message's medium, else failed."""
        medium = message["providerType"]
        recipients = set()
        for topic in message["topics"]:
            subscribers = list(self.subscribers.get(topic, {}).values())
            if not self.core.at_least("1.9.5"):
                # 1.9.0 loads a topic's targets with find()'s default limit: the first 25
                # subscribers of every channel together (filters.php subQueryTopicTargets;
                # capture 5-messaging-topic-target-cap). 1.9.5 pages them.
                subscribers = subscribers[:25]
            recipients |= {s["targetId"] for s in subscribers if s["providerType"] == medium}
        if not recipients:
            message.update(status="failed", deliveryErrors=["No valid recipients found."])
        elif medium not in self.providers:
            message.update(status="failed", deliveryErrors=["No enabled provider found."])
        else:
            message.update(status="sent", deliveredTotal=len(recipients), deliveredAt=now_iso())

    def list_messages(self, req: Request):
        items = list(self.messages.values())
        return 200, {"total": len(items), "messages": items}

    def get_message(self, req: Request, message: str):
        if message not in self.messages:
            raise ApiError(404, "message_not_found", "Message does not exist")
        return 200, self.messages[message]
