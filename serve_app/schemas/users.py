"""Request and response bodies for users, authentication and devices (no secret ever leaves in a public model)."""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from services.accounts import NewUser

Sex = Literal["female", "male", "other"]
DeviceKind = Literal[
    "garmin", "apple_watch", "wear_os", "wahoo", "polar", "suunto", "coros", "fitbit", "zwift", "phone", "other"
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Password = Annotated[str, Field(min_length=10, max_length=1024, description="at least 10 characters")]
BirthYear = Annotated[int, Field(ge=1900, le=2100)]
WeightKg = Annotated[float, Field(gt=20, le=500)]
MaxHr = Annotated[int, Field(ge=100, le=250)]
RestingHr = Annotated[int, Field(ge=25, le=150)]


def _known_timezone(value: str) -> str:
    """An IANA zone name zoneinfo knows."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def _birth_year_not_future(value: int | None) -> int | None:
    """A birth year no later than this year."""
    if value is not None and value > dt.date.today().year:
        raise ValueError("birth year is in the future")
    return value


Timezone = Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_known_timezone)]
CheckedBirthYear = Annotated[BirthYear, AfterValidator(_birth_year_not_future)]


class Preferences(BaseModel):
    """Display and privacy preferences."""

    model_config = ConfigDict(extra="forbid")

    units: Literal["metric", "imperial"] = "metric"
    week_start: Literal["monday", "sunday"] = "monday"
    default_visibility: Literal["private", "followers", "public"] = "private"


class PreferencesUpdate(BaseModel):
    """Preferences to change (keys left out keep their value)."""

    model_config = ConfigDict(extra="forbid")

    units: Literal["metric", "imperial"] | None = None
    week_start: Literal["monday", "sunday"] | None = None
    default_visibility: Literal["private", "followers", "public"] | None = None


def _check_hr(max_hr: int | None, resting_hr: int | None) -> None:
    """Resting heart rate must be below maximum."""
    if max_hr is not None and resting_hr is not None and resting_hr >= max_hr:
        raise ValueError("resting_hr must be below max_hr")


class UserCreate(BaseModel):
    """Registration."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: Password
    name: Name
    timezone: Timezone = "UTC"
    birth_year: CheckedBirthYear | None = None
    sex: Sex | None = None
    weight_kg: WeightKg | None = None
    max_hr: MaxHr | None = None
    resting_hr: RestingHr | None = None
    preferences: Preferences = Field(default_factory=Preferences)

    @model_validator(mode="after")
    def _heart_rates(self) -> UserCreate:
        _check_hr(self.max_hr, self.resting_hr)
        return self

    def to_new_user(self) -> NewUser:
        """The service's command."""
        return NewUser(
            email=str(self.email),
            password=self.password,
            name=self.name,
            timezone=self.timezone,
            birth_year=self.birth_year,
            sex=self.sex,
            weight_kg=self.weight_kg,
            max_hr=self.max_hr,
            resting_hr=self.resting_hr,
            preferences=self.preferences.model_dump(),
        )


class RegistrationAccepted(BaseModel):
    """The answer to every accepted registration, whether or not the email already had an account."""

    status: Literal["accepted"] = "accepted"
    message: str
    login_url: str = "/auth/login"


REGISTRATION_ACCEPTED = {
    "status": "accepted",
    "message": "Registration accepted: log in with this email and password. If the email already had an account, "
    "that account is unchanged and only its own password opens it.",
    "login_url": "/auth/login",
}


class UserUpdate(BaseModel):
    """Profile changes: fields left out keep their value; null clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    timezone: Timezone | None = None
    birth_year: CheckedBirthYear | None = None
    sex: Sex | None = None
    weight_kg: WeightKg | None = None
    max_hr: MaxHr | None = None
    resting_hr: RestingHr | None = None
    preferences: PreferencesUpdate | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> UserUpdate:
        for name in ("name", "timezone", "preferences"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def profile_changes(self) -> dict[str, object]:
        """The profile columns the client set (None means clear)."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "preferences"}

    def preference_changes(self) -> dict[str, object]:
        """The preference keys the client set to a value."""
        return self.preferences.model_dump(exclude_none=True) if self.preferences else {}


class UserPublic(BaseModel):
    """A user as their owner sees it (never a password hash)."""

    user_id: uuid.UUID
    email: str
    name: str
    timezone: str
    birth_year: int | None
    sex: str | None
    weight_kg: float | None
    max_hr: int | None
    resting_hr: int | None
    preferences: Preferences
    created_at: dt.datetime
    updated_at: dt.datetime


class LoginRequest(BaseModel):
    """JSON login."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class RefreshRequest(BaseModel):
    """A refresh token to exchange (it is consumed)."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class TokenPair(BaseModel):
    """OAuth 2.0 token response."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str


class WhoAmI(BaseModel):
    """The identity behind a token."""

    user_id: uuid.UUID
    session_id: uuid.UUID | None
    device_id: uuid.UUID | None


class DeviceCreate(BaseModel):
    """Link a device (watch, bike computer, phone) that uploads on the user's behalf."""

    model_config = ConfigDict(extra="forbid")

    kind: DeviceKind
    external_id: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    name: Name | None = None


class DevicePublic(BaseModel):
    """A linked device (its token is never shown again)."""

    device_id: uuid.UUID
    kind: str
    external_id: str | None
    name: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None


class DeviceCreated(DevicePublic):
    """A just-linked device with its token: shown once, only a hash is stored."""

    device_token: str
