from collections.abc import Callable
from typing import Any, TypeVar

from blinker import NamedSignal, Namespace
from flask import Flask

_U = TypeVar("_U", bound=Callable[[str], Any])

class UserMixin:
    __hash__: Any
    @property
    def is_active(self) -> bool: ...
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_anonymous(self) -> bool: ...
    def get_id(self) -> str: ...

class AnonymousUserMixin:
    @property
    def is_authenticated(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def is_anonymous(self) -> bool: ...
    def get_id(self) -> None: ...

class LoginManager:
    login_view: str | None
    login_message: str
    login_message_category: str
    session_protection: str | None
    def __init__(self, app: Flask | None = None, add_context_processor: bool = True) -> None: ...
    def init_app(self, app: Flask, add_context_processor: bool = True) -> None: ...
    def user_loader(self, callback: _U) -> _U: ...

# A proxy to the signed-in user (the user_loader's object) or an AnonymousUserMixin: its
# type depends on the request, so callers narrow it (see app.auth.current).
current_user: Any

def login_user(
    user: Any, remember: bool = False, duration: Any = None, force: bool = False, fresh: bool = True
) -> bool: ...
def logout_user() -> bool: ...

_signals: Namespace
user_loaded_from_request: NamedSignal
