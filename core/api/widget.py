"""``/api/v1/bots/{bot_id}/widget``: the website widget's look, the websites it may
appear on, and the embed code to paste into them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from bots.commands import MAX_TITLE, theme_problem
from bots.origins import MAX_ORIGINS
from core.api.common import API, Strict, owned_bot, services
from core.api.spec import ApiError, Call
from webwidget.embed import embed_snippet, normalise_origin


class Theme(Strict):
    color: Annotated[str, StringConstraints(pattern=r"^#(?:[0-9a-fA-F]{3}){1,2}$")] | None = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TITLE)] | None = None
    position: Literal["left", "right"] | None = None
    avatar: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        default=None, description="an https:// address of a picture"
    )


BaseUrlFrom = Literal["PUBLIC_BASE_URL", "request"]


class WidgetOut(BaseModel):
    allowed_origins: list[str] = Field(description="websites whose pages may open the widget")
    theme: Theme
    embed_code: str = Field(description="the `<script>` tag to paste into a page")
    base_url: str = Field(description="the server address the embed code loads the widget from")
    base_url_from: BaseUrlFrom = Field(
        description="`PUBLIC_BASE_URL` when it is set; else the address this request reached"
    )
    note: str | None = Field(
        default=None, description="what to check about `base_url`, when it is not configured"
    )


class WidgetChange(Strict):
    allowed_origins: list[Annotated[str, StringConstraints(max_length=300)]] | None = Field(
        default=None, max_length=MAX_ORIGINS, description="replaces the list"
    )
    theme: Theme | None = Field(default=None, description="replaces the look; {} resets it")


async def _widget(call: Call, bot_id: str) -> WidgetOut:
    svc = services(call)
    settings = await svc.bots.settings(bot_id)
    base_url, note = svc.settings.public_base_url, None
    source: BaseUrlFrom = "PUBLIC_BASE_URL"
    if not svc.settings.public_base_url_set:
        request = call.request
        base_url = normalise_origin(f"{request.scheme}://{request.host}") or base_url
        source = "request"
        note = (
            f"PUBLIC_BASE_URL is not set, so the widget loads from {base_url}, the address "
            "this request reached. If visitors' browsers reach the server at another "
            "address, set PUBLIC_BASE_URL to it."
        )
    return WidgetOut(
        allowed_origins=list(settings.get("allowed_origins", [])),
        theme=Theme.model_validate(settings.get("widget") or {}),
        embed_code=embed_snippet(base_url, bot_id),
        base_url=base_url.rstrip("/"),
        base_url_from=source,
        note=note,
    )


@API.route(
    "GET", "/bots/{bot_id}/widget", summary="The widget's settings and embed code",
    tag="widget", scope="bots:read", response=WidgetOut, errors=(404,),
)  # fmt: skip
async def get_widget(call: Call) -> WidgetOut:
    profile = await owned_bot(call)
    return await _widget(call, profile.id)


@API.route(
    "PATCH", "/bots/{bot_id}/widget", summary="Change the widget's websites or look",
    tag="widget", scope="bots:write", body=WidgetChange, response=WidgetOut, errors=(404,),
)  # fmt: skip
async def change_widget(call: Call) -> WidgetOut:
    profile = await owned_bot(call)
    body: WidgetChange = call.body
    changes: dict[str, object] = {}
    if body.allowed_origins is not None:
        origins: list[str] = []
        for value in body.allowed_origins:
            origin = normalise_origin(value)
            if origin is None:
                raise ApiError(
                    422, "Unprocessable Content", f"{value[:100]} isn't an origin like https://a.b"
                )
            if origin not in origins:
                origins.append(origin)
        changes["allowed_origins"] = origins
    if body.theme is not None:
        theme = body.theme.model_dump(exclude_none=True)
        for field, value in theme.items():
            if (problem := theme_problem(field, value)) is not None:
                raise ApiError(422, "Unprocessable Content", problem)
        changes["widget"] = {
            k: v.lower() if k in ("color", "position") else v for k, v in theme.items()
        } or None
    if changes:
        await services(call).bots.change_settings(profile.id, **changes)
    return await _widget(call, profile.id)
