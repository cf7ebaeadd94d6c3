"""The console's cookie session and CSRF tokens.

The session cookie holds the bearer token itself, so the console authenticates exactly as the API does
(`infra.users.actor_for_token`: revoking a token ends its browser sessions too). It is HttpOnly (no script
can read it), SameSite=Strict (no other site can make the browser send it) and Secure over https. Every
POST also carries a CSRF token: an HMAC, keyed by the token pepper, over the session's token, so it needs
no server-side state and no other session can produce it. Before sign-in, a random nonce cookie plays
the token's part, so the sign-in form is protected as well (no signing someone in as somebody else).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from api.console.i18n import LANG_COOKIE, Translator, choose_language
from api.deps import refused
from api.problems import Problem, problem_of
from domain.model import Actor, Role
from infra.users import actor_for_token
from services.context import Services
from services.read_model import user_language

SESSION_COOKIE = "casedesk_session"
SIGNIN_COOKIE = "casedesk_signin"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No valid session: the console answers with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A POST without the right CSRF token: refused with 403 before anything is read or done."""


def _mac(pepper: str, purpose: str, value: str) -> str:
    return hmac.new(pepper.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def csrf_token(pepper: str, token: str) -> str:
    """The CSRF token of a session (a purpose prefix keeps it distinct from the stored token hash)."""
    return _mac(pepper, "csrf", token)


def signin_csrf_token(pepper: str, nonce: str) -> str:
    return _mac(pepper, "signin", nonce)


def same(given: object, expected: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def pepper_of(request: Request) -> str:
    return services_of(request).settings.token_pepper.get_secret_value()


@dataclass(frozen=True)
class Viewer:
    """Who is looking, in which language, with the CSRF token their forms carry."""

    actor: Actor
    language: str
    csrf: str

    @property
    def t(self) -> Translator:
        return Translator(self.language)


async def current_viewer(request: Request) -> Viewer:
    """The signed-in viewer, or `SignInRequired` (the page they wanted goes along, to come back to)."""
    token = request.cookies.get(SESSION_COOKIE)
    services = services_of(request)
    pepper = services.settings.token_pepper.get_secret_value()
    actor = await actor_for_token(services.lone_statements, token, pepper) if token else None
    if token is None or actor is None:
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(wanted if request.method == "GET" else "/")
    language = choose_language(request.cookies.get(LANG_COOKIE), await user_language(services, actor.id))
    return Viewer(actor=actor, language=language, csrf=csrf_token(pepper, token))


ViewerDep = Annotated[Viewer, Depends(current_viewer)]
"""A page's signed-in viewer (a request without a valid session is sent to sign in)."""


class PageRefused(Exception):
    """The viewer's role may not open the page: the console answers with its error page, as the problem says."""

    def __init__(self, viewer: Viewer, problem: Problem) -> None:
        super().__init__(problem.detail)
        self.viewer = viewer
        self.problem = problem


def require_viewer(roles: frozenset[Role], refusal: str) -> Callable[..., Awaitable[Viewer]]:
    """A page's role gate, the console's `api.deps.require`: the signed-in viewer when their role is one of
    `roles` (a named set of `domain.rules`), else `PageRefused` with `refusal` (`{a_role}` names their role)."""

    async def gate(viewer: ViewerDep) -> Viewer:
        if (error := refused(viewer.actor, roles, refusal)) is not None:
            raise PageRefused(viewer, problem_of(error))
        return viewer

    return gate


async def checked_form(request: Request, viewer: Viewer) -> FormData:
    """The submitted form, once its CSRF token is the viewer's; `CsrfRefused` otherwise."""
    form = await request.form()
    if not same(form.get(CSRF_FIELD), viewer.csrf):
        raise CsrfRefused()
    return form


def _is_https(request: Request) -> bool:
    """Secure cookies over https, and always in production: behind a TLS-terminating proxy the app itself
    may see plain http, and the cookie holds the bearer token."""
    services = getattr(request.app.state, "services", None)
    production = services is not None and services.settings.environment == "production"
    return production or request.url.scheme == "https"


def start_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_is_https(request), path="/")
    response.delete_cookie(SIGNIN_COOKIE, path="/")


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_is_https(request))


def signin_nonce(request: Request) -> str:
    """The pre-session nonce the browser already has, or a new one (`keep_signin_nonce` sets it)."""
    nonce = request.cookies.get(SIGNIN_COOKIE)
    return nonce if nonce and len(nonce) <= 100 else secrets.token_urlsafe(24)


def keep_signin_nonce(response: Response, request: Request, nonce: str) -> None:
    if request.cookies.get(SIGNIN_COOKIE) != nonce:
        response.set_cookie(SIGNIN_COOKIE, nonce, httponly=True, samesite="strict", secure=_is_https(request),
                            path="/", max_age=3600)


def safe_next(path: object) -> str:
    """Only a path on this site is followed after sign-in (never `//elsewhere` or `https://…`)."""
    if isinstance(path, str) and path.startswith("/") and not path.startswith("//") and "\\" not in path:
        return path
    return "/"
