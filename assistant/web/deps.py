"""Shared dependencies of the routers, as typed aliases.

``Kb`` is what the lifespan opened; ``AskUser`` / ``ReviewUser`` / ``GapsUser`` /
``MetricsUser`` are the signed-in caller, checked against :data:`assistant.users.PERMISSIONS`
(401 without valid credentials, 403 with the wrong role or a missing CSRF token).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from assistant.users import User
from assistant.web.runtime import WebKb
from assistant.web.security import Caller, csrf_ok, identify


def get_kb(request: Request) -> WebKb:
    return request.app.state.kb


Kb = Annotated[WebKb, Depends(get_kb)]


def get_caller(request: Request, kb: Kb) -> Caller:
    caller = identify(request, kb)
    if caller is None:
        raise HTTPException(401, "sign in first: POST /api/login, or send "
                                 "'Authorization: Bearer TOKEN' (kb users token NAME)",
                            headers={"WWW-Authenticate": "Bearer"})
    if not csrf_ok(request, kb, caller):
        raise HTTPException(403, "missing or wrong CSRF token: send the kb_csrf cookie's value "
                                 "in the X-CSRF-Token header")
    return caller


CurrentCaller = Annotated[Caller, Depends(get_caller)]


def require(permission: str) -> Callable[[Caller], User]:
    def check(caller: CurrentCaller) -> User:
        if not caller.user.can(permission):
            raise HTTPException(403, f"role {caller.user.role!r} may not {permission}")
        return caller.user

    return check


AskUser = Annotated[User, Depends(require("ask"))]
ReviewUser = Annotated[User, Depends(require("review"))]
GapsUser = Annotated[User, Depends(require("gaps"))]
MetricsUser = Annotated[User, Depends(require("metrics"))]
SourcesUser = Annotated[User, Depends(require("sources"))]
