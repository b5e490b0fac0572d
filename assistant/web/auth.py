"""Signing in and out: ``POST /api/login``, ``POST /api/logout``, ``GET /api/me``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

from assistant import users
from assistant.users import PERMISSIONS, User
from assistant.web.deps import CurrentCaller, Kb
from assistant.web.security import (
    clear_session_cookies,
    client_address,
    same_origin,
    set_session_cookies,
    via_https,
)

router = APIRouter(prefix="/api", tags=["auth"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Password = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: Name
    password: Password


class UserPublic(BaseModel):
    name: str
    role: str
    groups: list[str]
    permissions: list[str]

    @classmethod
    def of(cls, user: User) -> UserPublic:
        return cls(name=user.name, role=user.role, groups=sorted(user.groups),
                   permissions=[p for p in PERMISSIONS if user.can(p)])


class LoginPublic(UserPublic):
    csrf_token: str


@router.post("/login", response_model=LoginPublic)
def login(body: LoginRequest, request: Request, response: Response, kb: Kb) -> LoginPublic:
    """Check the password, start a session (cookies), return the CSRF token for the page."""
    if not same_origin(request):
        raise HTTPException(403, "login from another site refused")
    keys = (f"user:{body.username.lower()}",
            f"ip:{client_address(request, kb.settings.trusted_proxies)}")
    wait = kb.limiter.reserve(*keys)  # before the (slow) password check: concurrent tries count
    if wait:
        raise HTTPException(429, f"too many failed sign-ins: try again in {wait} s",
                            headers={"Retry-After": str(wait)})
    with kb.state.use() as conn:
        user = users.authenticate(conn, body.username, body.password)
    if user is None:
        raise HTTPException(401, "wrong user name or password")
    kb.limiter.succeeded(*keys)
    with kb.state.use() as conn:
        sid = users.start_session(conn, user.name)
    token = set_session_cookies(response, kb, sid,
                                via_https(request, kb.settings.trusted_proxies))
    return LoginPublic(**UserPublic.of(user).model_dump(), csrf_token=token)


@router.post("/logout", status_code=204)
def logout(caller: CurrentCaller, kb: Kb, response: Response) -> Response:
    """End this session (a bearer token stays valid: 'kb users revoke NAME' ends those)."""
    if caller.session_id:
        with kb.state.use() as conn:
            users.end_session(conn, caller.session_id)
    response.status_code = 204
    clear_session_cookies(response)
    return response


@router.get("/me", response_model=UserPublic)
def me(caller: CurrentCaller) -> UserPublic:
    return UserPublic.of(caller.user)
