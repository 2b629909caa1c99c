"""Users, groups and organizations of the local Zendesk: the store methods and the views."""
from __future__ import annotations

import copy
from typing import Any

from flask import Flask, jsonify, request

from tiergate.localdesk.zendesk.api import API, ids_arg, json_body, paginate
from tiergate.localdesk.zendesk.errors import ApiError, not_found
from tiergate.localdesk.zendesk.records import iso, utcnow



class DirectoryStore:
    """``State`` methods for people and teams (callers hold no lock; each method takes it)."""

    def add_group(self, name: str, id: int | None = None, **extra: Any) -> dict:
        with self.lock:
            gid = id or self._oid()
            now = iso(utcnow())
            self.groups[gid] = {"id": gid, "url": self._url(f"groups/{gid}"), "name": name,
                                "description": extra.pop("description", ""), "default": False,
                                "is_public": True, "deleted": False, "created_at": now, "updated_at": now,
                                **extra}
            return copy.deepcopy(self.groups[gid])

    def add_user(self, name: str, email: str | None, role: str = "end-user", id: int | None = None,
                 organization_id: int | None = None, **extra: Any) -> dict:
        with self.lock:
            if email and self.find_user(email=email) is not None:
                raise ApiError(422, "RecordInvalid", "Record validation errors",
                               {"email": [{"description": f"Email: {email} is already being used by another user",
                                           "error": "DuplicateValue"}]})
            if role not in ("end-user", "agent", "admin"):
                raise ApiError(422, "RecordInvalid", f"role: {role!r} is not end-user, agent or admin")
            uid = id or next(self._user_ids)
            now = iso(utcnow())
            self.users[uid] = {
                "id": uid, "url": self._url(f"users/{uid}"), "name": name, "email": email,
                "created_at": now, "updated_at": now, "time_zone": "UTC", "iana_time_zone": "Etc/UTC",
                "phone": None, "shared_phone_number": None, "photo": None, "locale_id": 1,
                "locale": "en-US", "organization_id": organization_id, "role": role, "verified": True,
                "external_id": extra.pop("external_id", None), "tags": extra.pop("tags", []), "alias": "",
                "active": True, "shared": False, "shared_agent": False, "last_login_at": None,
                "two_factor_auth_enabled": False, "signature": None, "details": "", "notes": "",
                "role_type": None, "custom_role_id": None, "moderator": role != "end-user",
                "ticket_restriction": "requested" if role == "end-user" else None,
                "only_private_comments": False, "restricted_agent": False, "suspended": False,
                "default_group_id": extra.pop("default_group_id", None), "report_csv": False,
                "user_fields": extra.pop("user_fields", {}), **extra}
            return copy.deepcopy(self.users[uid])

    def find_user(self, email: str) -> dict | None:
        with self.lock:
            for user in self.users.values():
                if user.get("email") and user["email"].lower() == email.lower():
                    return user
            return None

    def add_organization(self, name: str, id: int | None = None, organization_fields: dict | None = None,
                         tags: list[str] | None = None, **extra: Any) -> dict:
        with self.lock:
            if any(o["name"].lower() == name.lower() for o in self.organizations.values()):
                raise ApiError(422, "RecordInvalid", "Record validation errors",
                               {"name": [{"description": "Name: has already been taken", "error": "DuplicateValue"}]})
            oid = id or next(self._org_ids)
            now = iso(utcnow())
            self.organizations[oid] = {
                "id": oid, "url": self._url(f"organizations/{oid}"), "name": name, "shared_tickets": False,
                "shared_comments": False, "external_id": extra.pop("external_id", None), "created_at": now,
                "updated_at": now, "domain_names": extra.pop("domain_names", []), "details": "", "notes": "",
                "group_id": extra.pop("group_id", None), "tags": list(tags or []),
                "organization_fields": dict(organization_fields or {}), **extra}
            return copy.deepcopy(self.organizations[oid])

    def role_of(self, user_id: int | None) -> str:
        user = self.users.get(user_id) if user_id is not None else None
        return user["role"] if user else "end-user"


def register(app: Flask, state: Any) -> None:
    """Users, groups and organizations views."""
    api = API

    @app.get(f"{api}/users")
    def users_list():
        with state.lock:
            users = [u for u in state.users.values() if not request.args.get("role") or u["role"] == request.args["role"]]
            return jsonify(paginate(users, "users"))

    @app.get(f"{api}/users/<int:user_id>")
    def users_show(user_id: int):
        with state.lock:
            if user_id not in state.users:
                raise not_found("user")
            return jsonify({"user": copy.deepcopy(state.users[user_id])})

    @app.get(f"{api}/users/show_many")
    def users_show_many():
        with state.lock:
            found = [copy.deepcopy(state.users[i]) for i in ids_arg() if i in state.users]
            return jsonify({"users": found, "next_page": None, "previous_page": None, "count": len(found)})

    @app.get(f"{api}/users/search")
    def users_search():
        q = (request.args.get("query") or request.args.get("external_id") or "").removeprefix("email:").lower()
        with state.lock:
            found = [u for u in state.users.values()
                     if q and (q == (u.get("email") or "").lower() or q in u["name"].lower() or q == str(u.get("external_id")))]
            return jsonify(paginate(found, "users"))

    @app.post(f"{api}/users")
    def users_create():
        data = dict(json_body().get("user") or {})
        if not data.get("name"):
            raise ApiError(422, "RecordInvalid", "user.name: required")
        return jsonify({"user": state.add_user(data.pop("name"), data.pop("email", None),
                                               role=data.pop("role", "end-user"), **data)}), 201

    @app.post(f"{api}/users/create_or_update")
    def users_create_or_update():
        data = dict(json_body().get("user") or {})
        with state.lock:
            existing = state.find_user(data["email"]) if data.get("email") else None
            if existing:
                existing.update({k: v for k, v in data.items() if k != "id"})
                return jsonify({"user": copy.deepcopy(existing)})
            return jsonify({"user": state.add_user(data.pop("name", data.get("email")), data.pop("email", None),
                                                   role=data.pop("role", "end-user"), **data)}), 201

    @app.get(f"{api}/groups")
    def groups_list():
        with state.lock:
            return jsonify(paginate(list(state.groups.values()), "groups"))

    @app.get(f"{api}/groups/<int:group_id>")
    def groups_show(group_id: int):
        with state.lock:
            if group_id not in state.groups:
                raise not_found("group")
            return jsonify({"group": copy.deepcopy(state.groups[group_id])})

    @app.post(f"{api}/groups")
    def groups_create():
        data = dict(json_body().get("group") or {})
        if not data.get("name"):
            raise ApiError(422, "RecordInvalid", "group.name: required")
        return jsonify({"group": state.add_group(data.pop("name"), **data)}), 201

    @app.get(f"{api}/organizations")
    def orgs_list():
        with state.lock:
            return jsonify(paginate(list(state.organizations.values()), "organizations"))

    @app.get(f"{api}/organizations/<int:org_id>")
    def orgs_show(org_id: int):
        with state.lock:
            if org_id not in state.organizations:
                raise not_found("organization")
            return jsonify({"organization": copy.deepcopy(state.organizations[org_id])})

    @app.get(f"{api}/organizations/search")
    def orgs_search():
        name = (request.args.get("name") or "").lower()
        with state.lock:
            return jsonify({"organizations": [copy.deepcopy(o) for o in state.organizations.values()
                                              if o["name"].lower() == name]})

    @app.post(f"{api}/organizations")
    def orgs_create():
        data = dict(json_body().get("organization") or {})
        if not data.get("name"):
            raise ApiError(422, "RecordInvalid", "organization.name: required")
        return jsonify({"organization": state.add_organization(data.pop("name"), **data)}), 201

    @app.put(f"{api}/organizations/<int:org_id>")
    def orgs_update(org_id: int):
        data = json_body().get("organization") or {}
        with state.lock:
            if org_id not in state.organizations:
                raise not_found("organization")
            org = state.organizations[org_id]
            fields_ = data.pop("organization_fields", None)
            org.update({k: v for k, v in data.items() if k != "id"})
            if fields_:
                org["organization_fields"].update(fields_)
            org["updated_at"] = iso(utcnow())
            return jsonify({"organization": copy.deepcopy(org)})
