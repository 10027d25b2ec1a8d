"""The API's request and response shapes. The OpenAPI document is generated from these."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

ContainerState = Literal["pending", "running", "failed", "deleting", "deleted"]
PendingPhase = Literal["waiting", "queued", "creating", "starting"]
CONTAINER_ID_PATTERN = r"^[a-z2-7]{12}$"


class Strict(BaseModel):
    """A request body: exactly the document's types (strict: no "5" or true for a number,
    no number for a string) and no other fields."""

    model_config = ConfigDict(extra="forbid", strict=True)


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer as JSON Schema has it: 5.0 is one too (strict mode alone would refuse it).
JsonInt = Annotated[int, BeforeValidator(_integral)]


# Requests ------------------------------------------------------------------------------------


class CreateContainerRequest(Strict):
    template: str = Field(min_length=1, max_length=64, description="A template name")
    captcha_token: str = Field(
        min_length=16, max_length=128, description="Pass token from POST /captcha/verify"
    )


class CaptchaRequest(Strict):
    action: Literal["create"] = Field(description="What the pass will be good for")
    mode: Literal["slider", "pow"] = Field(
        default="slider", description="`pow`: proof-of-work only, for who cannot use the puzzle"
    )


class TrackPoint(Strict):
    x: float = Field(ge=-1000, le=1000)
    y: float = Field(ge=-1000, le=1000)
    t: float = Field(ge=0, le=600_000, description="Milliseconds since the drag started")


class CaptchaVerifyRequest(Strict):
    challenge_id: str = Field(min_length=8, max_length=64)
    x: JsonInt = Field(ge=0, le=1000, description="The piece's left offset in image pixels")
    track: list[TrackPoint] = Field(default_factory=list, max_length=2000)
    input: Literal["pointer", "keyboard"] = "pointer"
    pow_nonce: str = Field(max_length=32, pattern=r"^[0-9]{1,32}$")


# Responses -----------------------------------------------------------------------------------


class Container(BaseModel):
    id: str = Field(pattern=CONTAINER_ID_PATTERN)
    template: str
    state: ContainerState
    phase: PendingPhase | None = Field(
        description="Finer progress while pending: `waiting` in line for a slot (every slot "
        "is taken), then `queued`, `creating`, `starting`"
    )
    position: int | None = Field(
        description="While waiting: its place in the line (1: next to get a slot)"
    )
    eta_seconds: int | None = Field(
        description="While waiting: about how long until it gets its slot (null: unknown)"
    )
    url: str | None = Field(description="The container's HTTPS address, once running")
    created_at: float
    updated_at: float
    started_at: float | None
    expires_at: float = Field(
        description="When it ends at the latest; while waiting, when its place lapses"
    )
    error: str | None = Field(description="Why it failed, in words a person can read")


class ContainerList(BaseModel):
    containers: list[Container]


class TemplateInfo(BaseModel):
    name: str
    title: str
    description: str
    image: str
    port: int
    cpu: str
    memory: str


class ClusterInfo(BaseModel):
    simulated: bool


class TemplateList(BaseModel):
    templates: list[TemplateInfo]
    lifetime: int = Field(description="Seconds a container lives")
    cluster: ClusterInfo


class Policy(BaseModel):
    name: str
    scope: Literal["address", "network", "owner", "global"] = Field(
        description="What it counts per: your address (an IPv6 /64), your network (the /24 or "
        "/48 around it, other people's too), you (this browser or token), or the whole service"
    )
    description: str = Field(description="What it counts, in words a person can read")
    limit: int
    remaining: int
    reset: int = Field(description="Seconds until the next unit of quota frees up (0: none used)")
    window: int | None = Field(description="Window in seconds; null for live-count quotas")


class OtherContainer(BaseModel):
    """A live container that is not the caller's own, yet counts against their quotas."""

    scope: Literal["address", "network"] = Field(
        description="`address`: from the caller's address (another browser, or a lost "
        "cookie); `network`: from another address of the caller's network"
    )
    expires_at: float = Field(description="When it ends at the latest")


class RateLimitStatus(BaseModel):
    policies: list[Policy]
    others: list[OtherContainer] = Field(
        description="Live containers counted against your address or network that are not "
        "yours, soonest to end first; nothing else about them is shown"
    )


class PowChallenge(BaseModel):
    salt: str
    difficulty: int = Field(description="Leading zero bits of sha256(salt ':' nonce)")


class CaptchaChallenge(BaseModel):
    challenge_id: str
    mode: Literal["slider", "pow"]
    width: int
    height: int
    background: str | None = Field(description="data: URL of the JPEG background")
    piece: str | None = Field(description="data: URL of the PNG piece with alpha")
    piece_size: int | None
    piece_y: int | None
    pow: PowChallenge
    expires_at: float
    min_solve_seconds: float = Field(
        description="Answers sent sooner than this after the challenge was issued are refused"
    )


class CaptchaPass(BaseModel):
    token: str
    expires_at: float


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail
