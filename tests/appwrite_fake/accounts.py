"""Users signed in by JWT (GET /account) and team memberships (GET /teams/{id}/memberships).

Shapes from appwrite 1.9 (Response/Model/User.php, Membership.php; SDK 22 models/user.py,
membership.py). A missing or bad JWT: 401 `user_jwt_invalid` "Invalid token passed in the
request."; no JWT and no session: 401 `general_unauthorized_scope` (role: guests) missing scope
(account). A JWT is what `account.createJWT` or a function execution hands out.
"""
from __future__ import annotations

from .core import ApiError, FakeCore, Request, now_iso, queries_param


class Accounts:
    def __init__(self, core: FakeCore):
        self.core = core
        self.users: dict[str, dict] = {}
        self.jwts: dict[str, str] = {}  # jwt -> user id
        self.teams: dict[str, dict] = {}
        self.memberships: dict[str, list[dict]] = {}  # team id -> memberships
        core.route("GET", "/account", "")(self.get_account)
        core.route("GET", "/teams/{team}/memberships", "teams.read")(self.list_memberships)

    # -- test setup ----------------------------------------------------------------------
    def add_user(self, user_id: str, email: str, name: str = "", status: bool = True) -> dict:
        t = now_iso()
        self.users[user_id] = {
            "$id": user_id, "$createdAt": t, "$updatedAt": t, "name": name or email.split("@")[0],
            "registration": t, "status": status, "labels": [], "passwordUpdate": t, "email": email, "phone": "",
            "emailVerification": True, "phoneVerification": False, "mfa": False, "prefs": {}, "targets": [],
            "accessedAt": t}
        return self.users[user_id]

    def issue_jwt(self, user_id: str) -> str:
        jwt = f"eyJhbGciOiJIUzI1NiJ9.{user_id}.sig{len(self.jwts)}"
        self.jwts[jwt] = user_id
        return jwt

    def add_member(self, team_id: str, user_id: str, confirm: bool = True, roles: tuple = ()) -> None:
        t = now_iso()
        self.teams.setdefault(team_id, {"$id": team_id, "name": team_id})
        user = self.users[user_id]
        self.memberships.setdefault(team_id, []).append({
            "$id": f"m{len(self.memberships[team_id])}{user_id}"[:36], "$createdAt": t, "$updatedAt": t,
            "userId": user_id, "userName": user["name"], "userEmail": user["email"], "userPhone": "",
            "teamId": team_id, "teamName": team_id, "invited": t, "joined": t if confirm else "",
            "confirm": confirm, "mfa": False, "userAccessedAt": t, "roles": list(roles)})

    # -- routes --------------------------------------------------------------------------
    def get_account(self, req: Request):
        jwt = req.headers.get("x-appwrite-jwt", "")
        if not jwt:
            raise ApiError(401, "general_unauthorized_scope", "User (role: guests) missing scopes ([\"account\"])")
        user_id = self.jwts.get(jwt)
        if user_id is None or user_id not in self.users:
            raise ApiError(401, "user_jwt_invalid", "Invalid token passed in the request.")
        if not self.users[user_id]["status"]:
            raise ApiError(401, "user_blocked", "The current user has been blocked.")
        return 200, self.users[user_id]

    def list_memberships(self, req: Request, team: str):
        if team not in self.teams:
            raise ApiError(404, "team_not_found", "Team with the requested ID could not be found.")
        items = list(self.memberships.get(team, []))
        for q in queries_param(req):
            if q.get("method") == "equal":
                items = [m for m in items if m.get(q["attribute"]) in q["values"]]
            elif q.get("method") == "limit":
                items = items[:int(q["values"][0])]
        return 200, {"total": len(items), "memberships": items}
